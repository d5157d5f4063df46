"""Vote -> next pair latency with 20 concurrent raters. Target: p95 <= 150 ms, audio transfer excluded.

The rater server runs as its own process (``workbench app --mode rater``), as in production. Each simulated
rater logs in and votes the way the browser does: one direct POST to ``/gradio_api/run/...`` per vote (the vote
events are unqueued), timed from send to the reply that carries the next pair. Between votes a rater downloads
both clips of the new pair, outside the timed window, so the server serves audio while others vote.

Scenarios, side by side:
- ``burst``: no pause between votes, all 20 raters at once (worst case; real raters listen >= 10 s per pair);
- ``paced``: 0.5-1.5 s between votes per rater (about 20 votes/s overall, ten times a real campaign's rate);
- ``solo``: one rater alone, no pause: the per-request cost without queueing behind other raters;
- ``service``: the same votes through ``RaterService.vote`` in-process (no HTTP, no Gradio): the store's share;
- ``gradio_client``: 20 ``gradio_client.Client`` threads (the protocol the tests use), for comparison;
- ``soak`` (``--soak``, alone): 20 raters x 50 paced votes (0.5-1.5 s apart), the server killed with SIGKILL
  half-way and restarted at once; run twice, without and with a login flood of wrong codes sent back to back
  from 8 other client addresses (127.0.0.2-9), and the p95 ratio printed. Raters
  ride out the outage as a browser would (retry, log in again, re-send the vote they had in flight). Reports
  p95 vote latency (target <= 300 ms), the outage, what the throttle did to the flood, and checks the store:
  every acknowledged vote stored, none twice, every rater exactly at quota.

Run: ``.venv/bin/python benchmarks/rating_latency.py [--raters 20] [--votes 50] [--soak]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = ("left", "right", "tie", "both_bad")


def make_campaign(home: Path, name: str, raters: int, votes: int) -> None:
    """Three imported tone systems, 5 prompts x 2 takes of 1 s clips, no listening minimum: no model needed."""
    import soundfile as sf

    from workbench.campaigns.config import config_from_dict
    from workbench.campaigns.stimuli import create_campaign
    from workbench.core.store import Store

    systems = []
    for k, system in enumerate(("alpha", "beta", "gamma")):
        folder = home / f"imports-{name}" / system
        folder.mkdir(parents=True)
        lines = ["prompt_id,file"]
        for p in range(5):
            for t in range(2):
                x = 0.2 * np.sin(2 * np.pi * (220 + 40 * p + 7 * t + 30 * k) * np.arange(72_000) / 48_000)
                sf.write(folder / f"{p}_{t}.wav", np.stack([x, 0.7 * x], 1), 48_000)
                lines.append(f"p{p},{p}_{t}.wav")
        (folder / "mapping.csv").write_text("\n".join(lines) + "\n")
        systems.append({"name": system, "import_dir": str(folder), "mapping_csv": "mapping.csv"})
    config = config_from_dict(
        {
            "name": name,
            "genre": "spa",
            "systems": systems,
            "prompts": [{"id": f"p{p}"} for p in range(5)],
            "raters": [{"id": f"rater{i:02d}", "code": f"code-{i:04d}"} for i in range(raters)],
            "clips_per_prompt": 2,
            "votes_per_rater": votes,
            "clip_duration_s": 1.0,
            "fade_ms": 50.0,
            "min_listen_s": 0.0,
            "gold_rate": 0.1,
            "repeat_rate": 0.05,
        }
    )
    create_campaign(Store(), config, engine_for=lambda model: None, log=lambda msg: None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(name: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    import httpx

    cmd = [sys.executable, "-m", "workbench.cli.main", "app", "--mode", "rater", "--campaign", name]
    cmd += ["--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("rater server did not start")


def http_rater(
    rater: str, code: str, url: str, pause: tuple[float, float], seed: int, out: list[float]
) -> None:
    import httpx

    rng = random.Random(seed)
    session = f"bench{seed:04d}{rng.getrandbits(32):08x}"  # the browser keeps one session hash per page
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("login", data={"username": rater, "password": code}).raise_for_status()
        view = http.post("gradio_api/run/current", json={"data": [], "session_hash": session}).json()["data"]
        while view[1]:
            for src in re.findall(r'src="([^"]+)"', view[0]):  # audio transfer: not timed
                http.get(src).raise_for_status()
            if pause[1] > 0:
                time.sleep(rng.uniform(*pause))
            body = {"data": [view[1], None, None, "", 0, 0], "session_hash": session}
            started = time.perf_counter()
            response = http.post(f"gradio_api/run/vote_{rng.choice(OUTCOMES)}", json=body)
            out.append(time.perf_counter() - started)
            view = response.json()["data"]


def client_rater(rater: str, code: str, url: str, seed: int, out: list[float]) -> None:
    from gradio_client import Client

    rng = random.Random(seed)
    client = Client(url, auth=(rater, code), verbose=False, download_files=False)
    view = client.predict(api_name="/current")
    while view[1]:
        started = time.perf_counter()
        view = client.predict(view[1], None, None, "", 0, 0, api_name=f"/vote_{rng.choice(OUTCOMES)}")
        out.append(time.perf_counter() - started)


def run_threads(target, raters: int, *args) -> list[float]:  # type: ignore[no-untyped-def]
    out: list[float] = []
    threads = [
        threading.Thread(target=target, args=(f"rater{i:02d}", f"code-{i:04d}", *args, i, out))
        for i in range(raters)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def service_votes(name: str, raters: int) -> list[float]:
    from workbench.campaigns.service import RaterService
    from workbench.core.store import Store

    service = RaterService(Store(), name)
    out: list[float] = []

    def rater(rater_id: str, _code: str, seed: int, sink: list[float]) -> None:
        rng = random.Random(seed)
        view = service.current(rater_id)
        while not view.finished:
            started = time.perf_counter()
            view = service.vote(rater_id, view.pair_id, rng.choice(OUTCOMES))
            sink.append(time.perf_counter() - started)

    out = run_threads(rater, raters)
    return out


class Soak:
    """Shared state of the soak: acknowledged votes, latencies, flood results, the server's availability."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, list[str]] = {}
        self.latencies: list[float] = []
        self.retries = 0
        self.relogins = 0
        self.flood: dict[int, int] = {}
        self.done = threading.Event()
        self.up = threading.Event()
        self.up.set()

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.acked.values())


def soak_rater(rater: str, code: str, url: str, soak: Soak, seed: int) -> None:
    """A browser-like rater that survives a server restart: any failed request waits for the server, logs in
    again, reloads the page and re-sends the vote it had in flight if that pair is still open."""
    import httpx

    rng = random.Random(seed)
    session = f"soak{seed:04d}{rng.getrandbits(32):08x}"
    acked = soak.acked.setdefault(rater, [])
    http = httpx.Client(base_url=url, timeout=30)

    def call(path: str, data: list[object]) -> list[object] | None:
        try:
            response = http.post(f"gradio_api/run/{path}", json={"data": data, "session_hash": session})
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return list(response.json()["data"])

    def recover() -> list[object]:
        while True:
            soak.up.wait(120)
            with soak.lock:
                soak.relogins += 1
            try:
                if http.post("login", data={"username": rater, "password": code}).status_code == 200:
                    view = call("current", [])
                    if view is not None:
                        return view
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    view = recover()
    while view[1]:
        time.sleep(rng.uniform(0.5, 1.5))
        pair_id = str(view[1])
        body: list[object] = [pair_id, None, None, "", 0, 0]
        outcome = rng.choice(OUTCOMES)
        started = time.perf_counter()
        reply = call(f"vote_{outcome}", body)
        elapsed = time.perf_counter() - started
        while reply is None:  # the server died under this vote: come back and re-send it if still open
            with soak.lock:
                soak.retries += 1
            view = recover()
            if view[1] != pair_id:
                break  # it was stored before the kill; the page shows the next pair
            started = time.perf_counter()
            reply = call(f"vote_{outcome}", body)
            elapsed = time.perf_counter() - started
        with soak.lock:
            acked.append(pair_id)
            if reply is not None:
                soak.latencies.append(elapsed)
        if reply is not None:
            view = reply
    http.close()


def login_flood(url: str, address: str, soak: Soak, seed: int) -> None:
    """Wrong codes for made-up names, back to back, from one client address, until the raters are done."""
    import httpx

    rng = random.Random(seed)
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=url, timeout=30, transport=transport) as http:
        while not soak.done.is_set():
            if not soak.up.is_set():
                soak.up.wait(120)
                continue
            try:
                status = http.post(
                    "login", data={"username": f"x{rng.getrandbits(32):08x}", "password": "wrong-code"}
                ).status_code
            except httpx.HTTPError:
                continue
            with soak.lock:
                soak.flood[status] = soak.flood.get(status, 0) + 1


def run_soak(home: Path, env: dict[str, str], raters: int, votes: int) -> int:
    """The soak without, then with the login flood (both with the kill -9), and the ratio of their p95s."""
    quiet_ok, quiet_p95 = soak_once(home, env, raters, votes, flood=False)
    flood_ok, flood_p95 = soak_once(home, env, raters, votes, flood=True)
    print(f"p95 with the flood / without: {flood_p95 / quiet_p95:.2f}")
    return 0 if quiet_ok and flood_ok else 1


def soak_once(home: Path, env: dict[str, str], raters: int, votes: int, *, flood: bool) -> tuple[bool, float]:
    from workbench.campaigns import db
    from workbench.core.store import Store

    name = "soak-flood" if flood else "soak-quiet"
    make_campaign(home, name, raters, votes)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(name, port, env)
    soak = Soak()
    workers = [
        threading.Thread(target=soak_rater, args=(f"rater{i:02d}", f"code-{i:04d}", url, soak, i))
        for i in range(raters)
    ]
    flooders = [
        threading.Thread(target=login_flood, args=(url, f"127.0.0.{2 + i}", soak, i)) for i in range(8)
    ]
    for t in workers + flooders:
        t.start()
    while soak.count() < raters * votes // 2:
        time.sleep(0.05)
    soak.up.clear()
    killed_at = time.monotonic()
    proc.send_signal(9)  # SIGKILL, mid-run, votes in flight
    proc.wait()
    proc = start_server(name, port, env)  # the lease of a dead process is taken over at once
    outage_s = time.monotonic() - killed_at
    soak.up.set()
    try:
        for t in workers:
            t.join()
        soak.done.set()
        for t in flooders:
            t.join()
    finally:
        proc.kill()
        proc.wait()
    rows = db.vote_rows(Store(), name)
    stored = [r["pair_id"] for r in rows]
    acked = {p for ids in soak.acked.values() for p in ids}
    lost = len(acked - set(stored))
    doubled = len(stored) - len(set(stored))
    per_rater = {r: sum(row["rater"] == r for row in rows) for r in soak.acked}
    label = f"soak ({raters} raters, {'login flood + ' if flood else ''}kill -9)"
    _, p95 = summary(label, soak.latencies)
    print(
        f"server down {outage_s:.1f} s (kill -9 to answering again); {soak.retries} votes re-sent, "
        f"{soak.relogins} logins"
    )
    if flood:
        answered = dict(sorted(soak.flood.items()))
        print(f"login flood: {sum(soak.flood.values())} attempts from 8 addresses, answered {answered}")
    print(
        f"votes: {len(acked)} acknowledged, {len(stored)} stored, {lost} lost, {doubled} doubled; "
        f"raters at quota: {sum(v == votes for v in per_rater.values())}/{raters}"
    )
    print(
        f"target p95 <= 300 ms: {'met' if p95 <= 300 else 'NOT met'} ({p95:.1f} ms); "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    ok = lost == 0 and doubled == 0 and all(v == votes for v in per_rater.values())
    return ok, p95


def summary(label: str, seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    p50, p95 = float(np.percentile(ms, 50)), float(np.percentile(ms, 95))
    print(f"{label:<34} n={len(ms):5d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {ms.max():7.1f} ms")
    return p50, p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--votes", type=int, default=50)
    parser.add_argument("--skip-client", action="store_true", help="skip the gradio_client comparison")
    parser.add_argument(
        "--soak", action="store_true", help="only the soak: login flood and a kill -9 mid-run"
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rating-latency-"))
    env = dict(
        os.environ, WORKBENCH_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False", WORKBENCH_TRACKING="off"
    )
    os.environ.update(env)
    if args.soak:
        return run_soak(home, env, args.raters, args.votes)
    scenarios = ["solo", "burst", "paced", "service"] + ([] if args.skip_client else ["client"])
    for name in scenarios:
        make_campaign(home, name, args.raters, args.votes)
    results: dict[str, tuple[float, float]] = {}
    results["service"] = summary("service (in-process, no HTTP)", service_votes("service", args.raters))
    for name, pause, raters in (
        ("solo", (0.0, 0.0), 1),
        ("burst", (0.0, 0.0), args.raters),
        ("paced", (0.5, 1.5), args.raters),
    ):
        port = free_port()
        proc = start_server(name, port, env)
        try:
            url = f"http://127.0.0.1:{port}/"
            label = f"{name} ({raters} rater{'s' if raters > 1 else ''}, browser path)"
            results[name] = summary(label, run_threads(http_rater, raters, url, pause))
        finally:
            proc.kill()
            proc.wait()
    if not args.skip_client:
        port = free_port()
        proc = start_server("client", port, env)
        try:
            url = f"http://127.0.0.1:{port}/"
            results["client"] = summary(
                "gradio_client (queue protocol)", run_threads(client_rater, args.raters, url)
            )
        finally:
            proc.kill()
            proc.wait()
    p95 = results["paced"][1]
    print(f"target p95 <= 150 ms (paced, browser path): {'met' if p95 <= 150 else 'NOT met'} ({p95:.1f} ms)")
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"burst / paced p95 ratio {results['burst'][1] / p95:.2f}; service share of paced p50 "
        f"{results['service'][0] / results['paced'][0]:.1%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
