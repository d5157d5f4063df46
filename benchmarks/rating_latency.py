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
- ``gradio_client``: 20 ``gradio_client.Client`` threads (the protocol the tests use), for comparison.

Run: ``.venv/bin/python benchmarks/rating_latency.py [--raters 20] [--votes 50]``.
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
    sys.path.insert(0, str(ROOT / "tests"))
    from campaign_fixtures import create  # the tests' tone-based imported systems: no model needed

    from workbench.core.store import Store

    create(Store(), home / f"imports-{name}", name=name, raters=raters, quota=votes, prompts=5, takes=2)


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
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rating-latency-"))
    env = dict(
        os.environ, WORKBENCH_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False", WORKBENCH_TRACKING="off"
    )
    os.environ.update(env)
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
