"""Per-item wall time of a batch against bare ``Engine.run`` calls for the same items, side by side in one process.

    python benchmarks/batch_overhead.py                 # tiny model, CPU: overhead of the batch machinery
    python benchmarks/batch_overhead.py --full-size     # GPU: items/s at max_group 1, 4, 8, published turbo
                                                        # architecture with random weights (bf16)

Variants, each timed on the same jobs (rounds alternate bare / batch variants so drift and contention hit all):
- ``bare``: ``engine.run(job.request)`` for every job, results dropped: the floor.
- ``batch, QC and mastering off``: the runner, sidecars, tagged files, manifest, grouping disabled
  (max_group 1): the overhead the target bounds (<= 10 %).
- ``batch, full QC + mastering``: the production path (evals analysis and delivery checks, genre mastering):
  what those features cost on top, reported, not part of the target.
- ``batch, max_group 4``: consecutive seeds share one pipeline call.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from workbench.batch import Plan, load_plan, run_batch  # noqa: E402
from workbench.batch.export import ExportSettings  # noqa: E402
from workbench.batch.qc import QcRules  # noqa: E402
from workbench.batch.runner import RunSettings  # noqa: E402
from workbench.engine.engine import Engine  # noqa: E402


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def make_plan(folder: Path, model: str, items: int, duration_s: float, steps: int) -> Plan:
    path = folder / "bench.yaml"
    path.write_text(
        f"name: bench\nmodel: {model}\ndefaults: {{duration_s: {duration_s}, steps: {steps}}}\n"
        f"entries:\n  - {{genre: hotel_lobby, seeds: 0-{items - 1}}}\n"
    )
    return load_plan(path)


VARIANTS: dict[str, dict[str, Any]] = {
    "batch, QC and mastering off": dict(
        settings=RunSettings(max_group=1), rules=QcRules(enabled=False), export=ExportSettings(master=False)
    ),
    "batch, full QC + mastering": dict(
        settings=RunSettings(max_group=1), rules=QcRules(), export=ExportSettings()
    ),
    "batch, max_group 4": dict(
        settings=RunSettings(max_group=4), rules=QcRules(enabled=False), export=ExportSettings(master=False)
    ),
}


def time_bare(engine: Engine, plan: Plan) -> tuple[float, float]:
    _sync()
    t0 = time.perf_counter()
    for job in plan.jobs:
        engine.run(job.request)
    _sync()
    elapsed = time.perf_counter() - t0
    return elapsed, elapsed


def time_batch(engine: Engine, plan: Plan, root: Path, variant: dict[str, Any]) -> tuple[float, float]:
    """(wall time of run_batch, time spent inside Engine.run during it)."""
    out = Path(tempfile.mkdtemp(dir=root))
    _sync()
    t0 = time.perf_counter()
    result = run_batch(
        plan,
        out,
        settings=variant["settings"],
        rules=variant["rules"],
        export_settings=variant["export"],
        make_engine=lambda m: engine,
        tracking="off",
    )
    _sync()
    elapsed = time.perf_counter() - t0
    shutil.rmtree(out)
    return elapsed, result.shard.timings["generate_s"]


def compare(
    engine: Engine, plan: Plan, rounds: int, variants: dict[str, dict[str, Any]]
) -> dict[str, tuple[float, float]]:
    """Per variant: (median seconds per item, median share of the wall time spent outside Engine.run)."""
    root = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    runs: dict[str, Callable[[], tuple[float, float]]] = {"bare Engine.run": lambda: time_bare(engine, plan)}
    for name, variant in variants.items():
        runs[name] = lambda v=variant: time_batch(engine, plan, root, v)  # type: ignore[misc]
    for fn in runs.values():  # warm-up
        fn()
    walls: dict[str, list[float]] = {name: [] for name in runs}
    outside: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            wall, in_engine = fn()
            walls[name].append(wall / len(plan.jobs))
            outside[name].append((wall - in_engine) / wall)
    shutil.rmtree(root, ignore_errors=True)
    return {name: (statistics.median(walls[name]), statistics.median(outside[name])) for name in runs}


def report(medians: dict[str, tuple[float, float]]) -> None:
    """``vs bare`` compares separate runs (sensitive to load changes between them); ``outside engine`` is measured
    within each run (wall time not spent in Engine.run / wall time), so it is robust to a contended machine."""
    bare = medians["bare Engine.run"][0]
    print(f"{'variant':<32} {'s/item':>8} {'items/s':>8} {'vs bare':>8} {'outside engine':>15}")
    for name, (per_item, share) in medians.items():
        print(f"{name:<32} {per_item:>8.3f} {1 / per_item:>8.2f} {per_item / bare:>8.3f} {share:>14.1%}")


def run_tiny(items: int, duration_s: float, steps: int, rounds: int) -> None:
    from workbench.engine.tiny import ensure_tiny

    ensure_tiny()
    engine = Engine("tiny")
    engine.load()
    with tempfile.TemporaryDirectory() as tmp:
        plan = make_plan(Path(tmp), "tiny", items, duration_s, steps)
        print(
            f"tiny model, {items} items of {duration_s:g} s at {steps} steps, {rounds} rounds, "
            f"torch threads={torch.get_num_threads()}"
        )
        report(compare(engine, plan, rounds, VARIANTS))


def run_full_size(items: int, duration_s: float, steps: int, rounds: int) -> None:
    from benchmarks.full_size import build_full_size_pipeline
    from workbench.engine.models import ModelInfo

    if not torch.cuda.is_available():
        raise SystemExit("--full-size needs a CUDA GPU")
    pipe = build_full_size_pipeline("cuda", torch.bfloat16)
    info = ModelInfo(
        "full-size-random", "benchmark", "random", "random", "turbo", 8, 1.0, 3.0, "cuda", "bf16", False
    )
    engine = Engine("full-size-random", pipeline=pipe, model_info=info)
    print(
        f"GPU: {torch.cuda.get_device_name(0)}; full-size turbo, random weights, bf16; {items} items of "
        f"{duration_s:g} s at {steps} steps, {rounds} rounds"
    )
    # Generation throughput per max_group (QC and mastering run on the CPU and are shown once, separately).
    off = dict(rules=QcRules(enabled=False), export=ExportSettings(master=False))
    variants: dict[str, dict[str, Any]] = {
        f"batch, max_group {n}": dict(settings=RunSettings(max_group=n), **off) for n in (1, 4, 8)
    }
    variants["batch, max_group 8, QC + master"] = dict(
        settings=RunSettings(max_group=8), rules=QcRules(), export=ExportSettings()
    )
    with tempfile.TemporaryDirectory() as tmp:
        # A hub-id-shaped name passes plan validation; the engine factory supplies the random pipeline.
        plan = make_plan(Path(tmp), "benchmark/full-size-random", items, duration_s, steps)
        report(compare(engine, plan, rounds, variants))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full-size", action="store_true")
    parser.add_argument("--items", type=int, default=None, help="default: 8 (tiny), 16 (full size)")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per item; default: 10 (tiny), 30"
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (1 steadies timings on a contended CPU)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WORKBENCH_TRACKING", "off")
    if args.full_size:
        run_full_size(args.items or 16, args.duration or 30.0, args.steps, args.rounds)
    else:
        run_tiny(args.items or 8, args.duration or 10.0, args.steps, args.rounds)


if __name__ == "__main__":
    main()
