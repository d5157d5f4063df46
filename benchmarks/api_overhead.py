"""REST API overhead: the same text2music request through ``/release_task`` -> ``/query_result`` and directly,
side by side; and the latency of ``/query_result`` while 20 clients poll it.

    python benchmarks/api_overhead.py                  # 30 s tiny text2music, 5 rounds, 20 pollers
    python benchmarks/api_overhead.py --rounds 9 --duration 30 --pollers 20 --polls 100

One process: the tiny engine, a ``RestService`` on it served by uvicorn in a thread (real HTTP on 127.0.0.1), and an
httpx client. Rounds alternate the three ways so load changes hit all alike:
  direct      ``Engine.run(request)`` alone;
  recorded    ``Workbench.generate`` (``Engine.run`` + files, sidecar, store row: what every API task does);
  REST        submit -> long-poll ``/query_result`` until done (the task is recorded by the API's worker).
Medians are printed with the ratios REST/recorded and REST/direct. The polling part runs ``--pollers`` threads, each
with its own client, calling ``/query_result`` for a finished task and a running one ``--polls`` times, back to back
(saturation: every client always has a request in flight) and on a timer (``--interval``, as real clients poll:
brightears/ace_music polls every 2 s); it prints p50/p95/max per call. Uses a temporary WORKBENCH_HOME.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-api-bench-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WORKBENCH_TRACKING", "off")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from workbench.core.store import Store  # noqa: E402
from workbench.engine.engine import Engine  # noqa: E402
from workbench.engine.requests import Text2Music  # noqa: E402
from workbench.engine.tiny import ensure_tiny  # noqa: E402
from workbench.rest.routes import build_api  # noqa: E402
from workbench.rest.service import RestService  # noqa: E402
from workbench.services import Workbench  # noqa: E402


def serve(service: RestService) -> str:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as workbench serve does
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    server = uvicorn.Server(uvicorn.Config(build_api(service), log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def rest_once(client: httpx.Client, body: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    task = client.post("/release_task", json=body).json()["task_id"]
    while True:
        (item,) = client.post("/query_result", json={"task_id_list": [task], "wait_s": 30}).json()["data"]
        if item["status"] != 0:
            break
    elapsed = time.perf_counter() - t0
    if item["status"] != 1:
        raise RuntimeError(f"task failed: {item['error']}")
    return elapsed


def poll_latencies(
    url: str, ids: list[str], pollers: int, polls: int, interval_s: float = 0.0
) -> list[float]:
    out: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(pollers)

    def poller() -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/query_result", json={"task_id_list": ids})  # connect before timing
            start.wait()
            for _ in range(polls):
                t0 = time.perf_counter()
                resp = client.post("/query_result", json={"task_id_list": ids})
                mine.append(time.perf_counter() - t0)
                resp.raise_for_status()
                if interval_s:
                    time.sleep(
                        max(0.0, interval_s - mine[-1])
                    )  # a client polling on a timer, as real ones do
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=poller) for _ in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--polls", type=int, default=50)
    parser.add_argument(
        "--interval", type=float, default=0.5, help="paced pollers' interval (upstream clients: 2 s)"
    )
    args = parser.parse_args()

    ensure_tiny()
    engine = Engine("tiny")
    engine.load()
    home = Path(os.environ["WORKBENCH_HOME"])
    workbench = Workbench(engine, Store(home / "bench.sqlite"), runs_dir=home / "runs", temp_dir=home / "tmp")
    service = RestService(workbench).start()
    url = serve(service)
    request = Text2Music(prompt="lobby jazz", duration_s=args.duration, steps=args.steps, seed=7)
    body = {
        "prompt": "lobby jazz",
        "audio_duration": args.duration,
        "inference_steps": args.steps,
        "seed": 7,
        "batch_size": 1,
        "audio_format": "wav",
    }
    times: dict[str, list[float]] = {"direct": [], "recorded": [], "rest": []}
    with httpx.Client(base_url=url, timeout=600) as client:
        rest_once(client, body)  # warm-up: first HTTP call, first recording
        workbench.generate(request, audio_format="wav")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            engine.run(request)
            times["direct"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            workbench.generate(request, audio_format="wav")
            times["recorded"].append(time.perf_counter() - t0)
            times["rest"].append(rest_once(client, body))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"text2music {args.duration:g} s, {args.steps} steps, tiny model, {args.rounds} rounds (median):"
        )
        for name, label in (
            ("direct", "Engine.run"),
            ("recorded", "Workbench.generate"),
            ("rest", "REST submit->result"),
        ):
            print(f"  {label:<22} {med[name]:.3f} s   (all: {', '.join(f'{t:.3f}' for t in times[name])})")
        print(
            f"  REST / recorded = {med['rest'] / med['recorded']:.3f}x   REST / Engine.run = {med['rest'] / med['direct']:.3f}x"
        )

        done = client.post("/release_task", json=body).json()["task_id"]
        while (
            client.post("/query_result", json={"task_id_list": [done], "wait_s": 30}).json()["data"][0][
                "status"
            ]
            == 0
        ):
            pass
        single = poll_latencies(url, [done], 1, args.polls)
        idle = poll_latencies(url, [done], args.pollers, args.polls)
        long_body = {**body, "inference_steps": 200, "audio_duration": 60}
        running = client.post("/release_task", json=long_body).json()["task_id"]
        busy = poll_latencies(url, [done, running], args.pollers, args.polls)
        paced = poll_latencies(url, [done, running], args.pollers, args.polls // 2, args.interval)
        client.post("/v1/cancel", json={"task_id": running})
    for label, clients, values in (
        ("alone, idle server", 1, single),
        ("back to back, idle server", args.pollers, idle),
        ("back to back, while the model generates", args.pollers, busy),
        (f"every {args.interval:g} s each, while the model generates", args.pollers, paced),
    ):
        print(
            f"/query_result, {clients} client(s), {label}: "
            f"p50 {pct(values, 0.5) * 1000:.1f} ms, p95 {pct(values, 0.95) * 1000:.1f} ms, "
            f"max {max(values) * 1000:.1f} ms ({len(values)} calls)"
        )
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
