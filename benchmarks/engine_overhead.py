"""Engine.run against a direct AceStepPipeline call with identical arguments, side by side in one process.

    python benchmarks/engine_overhead.py               # tiny model: text2music 30 s and repaint, 8 steps
    python benchmarks/engine_overhead.py --full-size   # GPU: published turbo architecture, random weights, bf16

Runs alternate (engine, direct, engine, direct, …) after a warm-up so drift and contention hit both equally;
the ratio of medians is printed (target <= 1.03). Engine.run never records (files and store rows are
``workbench.records``' job), so nothing but the engine is timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from workbench.engine.engine import Engine  # noqa: E402
from workbench.engine.pipeline_args import pipeline_kwargs, prepare  # noqa: E402
from workbench.engine.requests import Repaint, Text2Music  # noqa: E402


def _sine(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * 48_000)) / 48_000
    sf.write(str(path), np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]).T * 0.3, 48_000)
    return path


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def compare(engine: Engine, request, repeats: int) -> tuple[float, float]:
    request = engine.resolve(request)
    pipe = engine.pipeline
    seeds = [int(request.seed or 0) + i for i in range(request.batch_size)]

    def direct() -> None:
        # Exactly the arguments the engine passes, built by hand from the request: what a user would write.
        kwargs = pipeline_kwargs(request, prepare(request), pipe, seeds)
        torch.manual_seed(seeds[0])
        pipe(**kwargs, output_type="pt").audios.float().cpu().numpy()

    def via_engine() -> None:
        engine.run(request)

    for fn in (via_engine, direct):  # warm-up
        fn()
    times: dict[str, list[float]] = {"engine": [], "direct": []}
    for _ in range(repeats):
        for name, fn in (("engine", via_engine), ("direct", direct)):
            _sync()
            t0 = time.perf_counter()
            fn()
            _sync()
            times[name].append(time.perf_counter() - t0)
    return statistics.median(times["engine"]), statistics.median(times["direct"])


def run_tiny(repeats: int) -> None:
    from workbench.engine.tiny import ensure_tiny

    ensure_tiny()
    engine = Engine("tiny")
    engine.load()
    with tempfile.TemporaryDirectory() as tmp:
        src = _sine(Path(tmp) / "src.wav", 30.0)
        cases = {
            "text2music 30 s, 8 steps": Text2Music(prompt="lounge jazz", duration_s=30.0, steps=8, seed=1),
            "repaint 30 s (10-20 s), 8 steps": Repaint(src=str(src), start_s=10, end_s=20, steps=8, seed=1),
        }
        print(f"tiny model, {repeats} alternating runs each, torch threads={torch.get_num_threads()}")
        print(f"{'case':<34} {'engine s':>9} {'direct s':>9} {'ratio':>7}")
        for name, request in cases.items():
            e, d = compare(engine, request, repeats)
            print(f"{name:<34} {e:>9.3f} {d:>9.3f} {e / d:>7.3f}")


def run_full_size(repeats: int) -> None:
    from benchmarks.full_size import build_full_size_pipeline, parameter_counts
    from workbench.engine.models import ModelInfo

    if not torch.cuda.is_available():
        raise SystemExit("--full-size needs a CUDA GPU")
    pipe = build_full_size_pipeline("cuda", torch.bfloat16)
    print("parameters:", {k: f"{v / 1e9:.3f} B" for k, v in parameter_counts(pipe).items()})
    info = ModelInfo(
        "full-size-random", "benchmark", "random", "random", "turbo", 8, 1.0, 3.0, "cuda", "bf16", False
    )
    engine = Engine("full-size-random", pipeline=pipe, model_info=info)
    print(f"GPU: {torch.cuda.get_device_name(0)}")
    print(f"{'song':>6} {'engine s':>9} {'direct s':>9} {'ratio':>7} {'peak GiB':>9}")
    for seconds in (60.0, 240.0):
        torch.cuda.reset_peak_memory_stats()
        e, d = compare(engine, Text2Music(prompt="lounge jazz", duration_s=seconds, steps=8, seed=1), repeats)
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"{seconds:>5.0f}s {e:>9.3f} {d:>9.3f} {e / d:>7.3f} {peak:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full-size", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.full_size:
        run_full_size(args.repeats)
    else:
        run_tiny(args.repeats)


if __name__ == "__main__":
    main()
