"""The rater app over HTTP: blinding, no admin endpoints, concurrent raters with exactly-once votes, SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from evals.preference.preference import Outcome
from workbench.campaigns import db
from workbench.campaigns.stimuli import serve_dir
from workbench.core import paths
from workbench.core.store import Store

RATER_ENDPOINTS = {"/current", "/vote_left", "/vote_right", "/vote_tie", "/vote_both_bad"}
OUTCOMES = tuple(o.value for o in Outcome)


def launch(store: Store, campaign: str, port: int):
    from workbench.ui.launch import ServeOptions
    from workbench.ui.launch import launch as serve
    from workbench.ui.rater import build_rater_app

    app = build_rater_app(store, campaign=campaign, tracking=False)
    serve(app, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
    return app, f"http://127.0.0.1:{port}/"


def client_for(url: str, rater: str, code: str):
    from gradio_client import Client

    return Client(url, auth=(rater, code), verbose=False, download_files=False)


def rate(
    url: str, rater: str, code: str, acked: list[str], *, seed: int, stop: threading.Event | None = None
) -> int:
    """A simulated rater: votes until the finish screen; re-sends every 5th vote (a retry); returns votes made."""
    client = client_for(url, rater, code)
    rng = random.Random(seed)
    view = client.predict(api_name="/current")
    made = 0
    while view[1] and not (stop and stop.is_set()):
        pair_id = view[1]
        outcome = rng.choice(OUTCOMES)
        nxt = client.predict(pair_id, None, None, "", 0, 0, api_name=f"/vote_{outcome}")
        acked.append(pair_id)  # acknowledged: the server answered
        made += 1
        if made % 5 == 0:
            again = client.predict(pair_id, None, None, "", 0, 0, api_name=f"/vote_{rng.choice(OUTCOMES)}")
            assert again[1] == nxt[1]  # the retry returns the same next pair, no second vote
        view = nxt
    return made


def run_raters(url: str, raters: list[tuple[str, str]], acked: dict[str, list[str]]) -> None:
    errors: list[BaseException] = []

    def work(i: int, rater: str, code: str) -> None:
        try:
            rate(url, rater, code, acked.setdefault(rater, []), seed=i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, r, c)) for i, (r, c) in enumerate(raters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def check_exactly_once(store: Store, campaign: str, acked: dict[str, list[str]], quota: int) -> None:
    rows = db.vote_rows(store, campaign)
    stored = [r["pair_id"] for r in rows]
    assert len(stored) == len(set(stored))
    assert set(stored) == {p for ids in acked.values() for p in ids}
    for rater, ids in acked.items():
        assert len(ids) == len(set(ids)) == quota, rater
        assert sum(r["rater"] == rater for r in rows) == quota


def concurrent_campaign(
    tmp_path: Path, new_campaign: Any, free_port: Any, *, n_raters: int, quota: int, name: str
) -> None:
    store = Store()
    new_campaign(store, tmp_path / "imp", name=name, raters=n_raters, quota=quota, prompts=5, takes=2)
    app, url = launch(store, name, free_port())
    try:
        acked: dict[str, list[str]] = {}
        run_raters(url, [(f"rater{i:02d}", f"code-{i:04d}") for i in range(n_raters)], acked)
        check_exactly_once(store, name, acked, quota)
    finally:
        app.close()


def test_concurrent_raters_every_acknowledged_vote_stored_exactly_once(tmp_path, new_campaign, free_port):
    concurrent_campaign(tmp_path, new_campaign, free_port, n_raters=5, quota=10, name="srv-small")


@pytest.mark.slow
def test_twenty_concurrent_raters_fifty_votes_each(tmp_path, new_campaign, free_port):
    concurrent_campaign(tmp_path, new_campaign, free_port, n_raters=20, quota=50, name="srv-large")


def test_nothing_the_browser_receives_reveals_a_system(tmp_path, new_campaign, system_names, free_port):
    store = Store()
    name = f"srv-{system_names[0]}-vs-{system_names[1]}"  # a careless campaign name must not leak either
    new_campaign(store, tmp_path / "imp", name=name, raters=1, quota=10)
    app, url = launch(store, name, free_port())
    try:
        received: list[str] = []
        client = client_for(url, "rater00", "code-0000")
        api = client.view_api(return_format="dict", print_info=False)
        assert set(api["named_endpoints"]) == RATER_ENDPOINTS and not api["unnamed_endpoints"]
        info = app.blocks.get_api_info()
        assert set(info["named_endpoints"]) == RATER_ENDPOINTS and not info["unnamed_endpoints"]
        received.append(repr(api))
        http = httpx.Client(base_url=url, follow_redirects=True)
        assert http.post("login", data={"username": "rater00", "password": "code-0000"}).status_code == 200
        for page in ("", "config", "gradio_api/info"):
            response = http.get(page)
            assert response.status_code == 200, page
            received.append(response.text)
        clips: list[bytes] = []
        lengths: set[str] = set()
        view = client.predict(api_name="/current")
        for _ in range(6):
            received.append(repr(view))
            for src in re.findall(r'src="([^"]+)"', view[0]):
                response = http.get(src)
                assert response.status_code == 200
                assert not {"last-modified", "etag", "content-disposition"} & set(response.headers)
                # never compressed: a compressed size would tell noisy clips from tonal ones
                assert "content-encoding" not in response.headers
                lengths.add(response.headers["content-length"])
                received.append(repr(dict(response.headers)))
                clips.append(response.content)
            view = client.predict(view[1], "3", "4", "", 0, 0, api_name="/vote_tie")
        text = "\n".join(received)
        clip_rows = db.load_clips(store, name)
        forbidden = [
            *system_names,
            name,
            str(paths.home()),
            str(serve_dir(name)),
            str(tmp_path),
            "mapping.csv",
        ]
        forbidden += [row.id for row in clip_rows] + [Path(row.served_path).stem for row in clip_rows]
        leaks = [f for f in forbidden if f in text]
        assert not leaks, leaks
        # the audio itself: same length, same loudness, bare WAV, for every clip served
        frames, loudness = set(), []
        for data in clips:
            assert data[12:16] == b"fmt " and b"LIST" not in data[:200] and b"INFO" not in data[:200]
            audio, rate = sf.read(io.BytesIO(data), always_2d=True)
            frames.add(audio.shape[0])
            loudness.append(pyloudnorm.Meter(rate).integrated_loudness(audio))
        assert len(frames) == 1 and len(lengths) == 1 and np.ptp(loudness) <= 1.0, (frames, lengths, loudness)
        # unauthenticated visitors get nothing: no page config, no audio tokens to guess
        anonymous = httpx.Client(base_url=url)
        assert "alphasys" not in anonymous.get("config").text
        assert anonymous.get("ab/clip/guess").status_code == 404
    finally:
        app.close()


def test_rater_login_rejects_wrong_codes_and_admin_style_names(tmp_path, new_campaign, free_port):
    store = Store()
    new_campaign(store, tmp_path / "imp", name="srv-login", raters=1, quota=10)
    app, url = launch(store, "srv-login", free_port())
    try:
        for user, code in (("rater00", "wrong-code"), ("admin", "admin"), ("rater01", "code-0001")):
            with pytest.raises(Exception, match="(?i)login|credentials|incorrect|401"):
                client_for(url, user, code)
    finally:
        app.close()


def _start_server(campaign: str, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", WORKBENCH_TRACKING="off")
    cmd = [sys.executable, "-m", "workbench.cli.main", "app", "--mode", "rater", "--campaign", campaign]
    cmd += ["--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_sigkill_mid_campaign_loses_no_acknowledged_vote_and_raters_resume(tmp_path, new_campaign, free_port):
    store = Store()
    name, quota, n = "srv-kill", 16, 4
    new_campaign(store, tmp_path / "imp", name=name, raters=n, quota=quota, prompts=5, takes=2)
    port, log = free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}/"
    proc = _start_server(name, port, log)
    acked: dict[str, list[str]] = {f"rater{i:02d}": [] for i in range(n)}
    stop = threading.Event()

    def work(i: int) -> None:
        with contextlib.suppress(Exception):  # the connection dies with the server: expected here
            rate(url, f"rater{i:02d}", f"code-{i:04d}", acked[f"rater{i:02d}"], seed=i, stop=stop)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    deadline = (
        time.monotonic() + 300
    )  # a hang guard, not a timing claim: the wait is for a third of the votes
    while sum(len(v) for v in acked.values()) < n * quota // 3:
        if not any(t.is_alive() for t in threads) or time.monotonic() > deadline:
            pytest.fail(f"the raters stopped before a third of the votes: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-campaign, with votes in flight
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    before = {r: list(v) for r, v in acked.items()}
    stored = {r["pair_id"] for r in db.vote_rows(store, name)}
    assert {p for ids in before.values() for p in ids} <= stored  # nothing acknowledged was lost
    open_pairs = {r: db.open_pair(store.connect(), name, r) for r in acked}
    proc = _start_server(name, port, log)
    try:
        for i, rater in enumerate(acked):
            client = client_for(url, rater, f"code-{i:04d}")
            view = client.predict(api_name="/current")
            assert view[1] == open_pairs[rater].pair_id  # resumes exactly where the rater was
            done = sum(r["rater"] == rater for r in db.vote_rows(store, name))
            assert f"Trial {done + 1} of {quota}" == view[2]
        run_raters(url, [(r, f"code-{i:04d}") for i, r in enumerate(acked)], acked)
        rows = db.vote_rows(store, name)
        assert len(rows) == len({r["pair_id"] for r in rows}) == n * quota
        assert {p for ids in acked.values() for p in ids} <= {r["pair_id"] for r in rows}
    finally:
        proc.kill()
        proc.wait()


def test_app_mode_rater_serves_only_the_rating_page_with_rater_logins(tmp_path, new_campaign, free_port):
    from workbench.cli.app import build_from_args
    from workbench.cli.main import build_parser
    from workbench.ui.launch import launch as serve

    store = Store()
    new_campaign(store, tmp_path / "imp", name="srv-app-mode", raters=1, quota=10)  # the newest open campaign
    port = free_port()
    args = build_parser().parse_args(
        [
            "app",
            "--mode",
            "rater",
            "--campaign",
            "srv-app-mode",
            "--port",
            str(port),
            "--auth",
            "admin:adminpw",
        ]
    )
    demo, options = build_from_args(args)
    serve(demo, options, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(Exception, match="(?i)login|credentials|incorrect|401"):
            client_for(url, "admin", "adminpw")  # admin credentials do not open the rater app
        client = client_for(url, "rater00", "code-0000")
        assert (
            set(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == RATER_ENDPOINTS
        )
        assert client.predict(api_name="/current")[2] == "Trial 1 of 10"
    finally:
        demo.close()


def test_share_in_rater_mode_needs_no_auth_but_the_full_app_does(tmp_path, new_campaign):
    """docs/ab-campaigns.md: `--share` works in rater mode without `--auth` (the link opens the rater login only);
    the full app refuses a public link without a login."""
    from workbench.cli.app import build_from_args
    from workbench.cli.main import build_parser
    from workbench.core.errors import InputError

    store = Store()
    new_campaign(store, tmp_path / "imp", name="srv-share", raters=1, quota=10)
    parse = build_parser().parse_args
    app, options = build_from_args(parse(["app", "--mode", "rater", "--campaign", "srv-share", "--share"]))
    try:
        assert options.share and options.auth is None
        login = app.extras.auth_fn
        assert login is not None and asyncio.run(login("rater00", "code-0000"))
        assert not asyncio.run(login("admin", "admin"))
        assert app.extras.allowed_paths == ()  # nothing but the token route serves files
    finally:
        app.close()
    with pytest.raises(InputError, match="--auth"):
        build_from_args(parse(["app", "--mode", "full", "--share", "--model", "tiny"]))


def test_without_a_name_the_newest_open_campaign_is_served(tmp_path, monkeypatch, new_campaign):
    from workbench.core.errors import InputError
    from workbench.ui.rater import pick_campaign

    monkeypatch.delenv("WORKBENCH_CAMPAIGN", raising=False)
    store = Store(tmp_path / "own.sqlite")
    with pytest.raises(InputError, match="no open campaign"):
        pick_campaign(store, None)
    new_campaign(store, tmp_path / "a", name="srv-older", raters=1, quota=10)
    new_campaign(store, tmp_path / "b", name="srv-newer", raters=1, quota=10)
    assert pick_campaign(store, None) == "srv-newer"
    db.set_status(store, "srv-newer", "closed")
    assert pick_campaign(store, None) == "srv-older"
    monkeypatch.setenv("WORKBENCH_CAMPAIGN", "srv-newer")
    assert pick_campaign(store, None) == "srv-newer" and pick_campaign(store, "x") == "x"
