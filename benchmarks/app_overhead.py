"""App overhead: the same request through the app's API (gradio_client) and through Engine.run, side by side.

Also: cold start of ``python app.py --model tiny`` to the first HTTP 200 on "/" (the model loads in the background).
Run: ``.venv/bin/python benchmarks/app_overhead.py [--repeats 5]``. Uses a temporary WORKBENCH_HOME.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cold_start_s(port: int) -> float:
    """Process start -> first 200 on '/'."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--model", "tiny", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - t0 < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the app did not answer within 120 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    from gradio_client import Client

    from workbench.core.store import Store
    from workbench.engine.engine import Engine
    from workbench.engine.requests import Text2Music
    from workbench.engine.tiny import ensure_tiny
    from workbench.records import record
    from workbench.ui import build_app
    from workbench.ui.launch import ServeOptions, launch

    ensure_tiny()

    store = Store()
    engine = Engine("tiny")
    engine.load()
    demo = build_app(engine, store, tabs=[])
    port = free_port()
    launch(demo, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    direct_dir = Path(os.environ["WORKBENCH_HOME"]) / "direct"

    def direct(seed: int) -> None:
        result = engine.run(Text2Music(prompt="bench", duration_s=args.duration, steps=args.steps, seed=seed))
        record(
            result, direct_dir, store=store
        )  # the app records too, so both sides write the same files and rows

    def through_app(seed: int) -> None:
        client.predict(
            prompt="bench", duration_s=args.duration, steps=args.steps, seed=seed, api_name="/generate"
        )

    direct(0)
    through_app(0)  # warm both paths
    engine_s, app_s = [], []
    for i in range(args.repeats):  # interleaved so load changes hit both sides alike
        t0 = time.perf_counter()
        direct(i + 1)
        engine_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        through_app(i + 1)
        app_s.append(time.perf_counter() - t0)
    demo.close()
    e, a = statistics.median(engine_s), statistics.median(app_s)
    print(
        f"request: text2music {args.duration:g} s, {args.steps} steps, tiny model, recorded (wav + sidecar + row)"
    )
    print(f"Engine.run + record  median {e:.3f} s  (runs: {', '.join(f'{x:.3f}' for x in engine_s)})")
    print(f"gradio_client /generate median {a:.3f} s  (runs: {', '.join(f'{x:.3f}' for x in app_s)})")
    print(f"overhead per request  {a - e:+.3f} s  (ratio {a / e:.2f}x; target <= 0.3 s)")
    cold = [cold_start_s(free_port()) for _ in range(2)]
    print(f"cold start to first page: {', '.join(f'{c:.1f}' for c in cold)} s (target <= 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
