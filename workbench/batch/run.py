"""One call for a whole batch: ``run_batch(plan, out_dir)``, used by the CLI, the app panel and benchmarks.

It runs this process's shard (all of the plan when not launched with accelerate), waits for the other
processes, and the main process then merges the manifest shards into ``manifest.csv`` / ``manifest.parquet`` and
finishes the batch's tracking run (counts, throughput, QC rates, sample audio; always mirrored locally).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.batch import manifest, qc
from workbench.batch.distributed import ProcessInfo, process_info
from workbench.batch.export import ExportSettings
from workbench.batch.plan import Plan
from workbench.batch.runner import BatchProgress, RunSettings, ShardRunner, ShardSummary, engine_factory
from workbench.records import write_json_atomic

SAMPLE_AUDIO = 4  # tracks logged to W&B as listening samples


@dataclass
class BatchResult:
    out_dir: Path
    batch_id: str
    shard: ShardSummary
    process: int
    processes: int
    manifest_csv: Path | None = None  # set on the main process
    manifest_parquet: Path | None = None
    counts: dict[str, int] = dataclasses.field(default_factory=dict)  # whole batch, main process only


def batch_id_for(plan: Plan, out_dir: Path) -> str:
    """Stable across re-runs and processes, so every process agrees without talking, and store rows line up."""
    return f"{plan.name}-{hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()[:8]}"


def _write_batch_files(plan: Plan, out_dir: Path, batch_id: str) -> None:
    write_json_atomic(
        out_dir / manifest.JOBS_FILE,
        {
            "name": plan.name,
            "batch_id": batch_id,
            "plan": plan.source,
            "jobs": [j.to_dict() for j in plan.jobs],
        },
    )


def run_batch(
    plan: Plan,
    out_dir: str | Path,
    *,
    settings: RunSettings | None = None,
    rules: qc.QcRules | None = None,
    export_settings: ExportSettings | None = None,
    device: str | None = None,
    dtype: str | None = None,
    offload: bool = False,
    make_engine: Callable[[str], Any] | None = None,
    analyzer: qc.Analyzer | None = None,
    store: Any = None,
    tracking: str | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    cancel: threading.Event | None = None,
    process: ProcessInfo | None = None,
    planner: Any = None,
) -> BatchResult:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    proc = process or process_info(device)
    batch_id = batch_id_for(plan, out)
    if proc.is_main:
        _write_batch_files(plan, out, batch_id)
    runner = ShardRunner(
        plan,
        out,
        batch_id=batch_id,
        settings=settings,
        rules=rules,
        export_settings=export_settings,
        engine_factory=make_engine or engine_factory(proc.device, dtype, offload),
        analyzer=analyzer,
        store=store,
        process_index=proc.index,
        num_processes=proc.count,
        planner=planner,
    )
    tracker = _start_tracker(plan, out, batch_id, runner, proc, tracking) if proc.is_main else None

    def report(state: BatchProgress) -> None:
        if progress is not None:
            progress(state)
        if tracker is not None and state.done:
            tracker.log({"shard0/done": state.done, "shard0/items_per_s": state.items_per_s}, step=state.done)

    shard = runner.run(report, cancel)
    # A run cancelled before its first commit has no manifest folder yet.
    (out / manifest.MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        out / manifest.MANIFEST_DIR / f"summary-{proc.index}.json",
        {
            **dataclasses.asdict(shard.progress),
            "regenerated": shard.regenerated,
            "cancelled": shard.cancelled,
            "timings": shard.timings,
            "finished_at": time.time(),
        },
    )
    proc.barrier()
    result = BatchResult(out, batch_id, shard, proc.index, proc.count)
    if proc.is_main:
        result.manifest_csv, result.manifest_parquet = manifest.write_manifest(out)
        result.counts = manifest.batch_status(out).counts
        if tracker is not None:
            _finish_tracker(tracker, out, proc.count)
    return result


def _start_tracker(
    plan: Plan, out: Path, batch_id: str, runner: ShardRunner, proc: ProcessInfo, mode: str | None
) -> Any:
    from workbench.core.tracking import Tracker

    config = {
        "plan": plan.source,
        "jobs": len(plan.jobs),
        "models": plan.models,
        "processes": proc.count,
        "run": dataclasses.asdict(runner.settings),
        "qc": dataclasses.asdict(runner.rules),
        "export": dataclasses.asdict(runner.export),
    }
    return Tracker(out, name=batch_id, job_type="batch", config=config, mode=mode, tags=["batch"])


def _finish_tracker(tracker: Any, out: Path, processes: int) -> None:
    """Batch totals from the merged manifest; throughput from the per-process summaries of this invocation."""
    import json

    latest = manifest.latest_by_job(manifest.read_records(out))
    counts = Counter(r["status"] for r in latest.values())
    made = sum(counts.values())
    # Only this invocation's processes: a batch resumed with fewer processes still has the old summaries.
    paths = [out / manifest.MANIFEST_DIR / f"summary-{i}.json" for i in range(processes)]
    summaries = [json.loads(p.read_text()) for p in paths if p.is_file()]
    done_now = sum(s["ok"] + s["rejected"] + s["failed"] for s in summaries)
    wall_s = max((s["elapsed_s"] for s in summaries), default=0.0)
    failed_checks = Counter(c for r in latest.values() if r.get("qc") for c in r["qc"]["failed"])
    values: dict[str, Any] = {
        "jobs": made,
        "ok": counts.get("ok", 0),
        "rejected": counts.get("rejected", 0),
        "failed": counts.get("failed", 0),
        "processes": processes,
        "items_this_run": done_now,
        "wall_s": round(wall_s, 3),
        "items_per_s": round(done_now / wall_s, 4) if wall_s > 0 else 0.0,
        "qc_pass_rate": counts.get("ok", 0) / made if made else 0.0,
        "regenerated": sum(s.get("regenerated", 0) for s in summaries),
    }
    values.update({f"qc_fail_rate/{name}": n / made for name, n in failed_checks.items()})
    tracker.summary(values)
    ok = [r for r in sorted(latest.values(), key=lambda r: r["index"]) if r["status"] == "ok"]
    for i, record in enumerate(ok[:SAMPLE_AUDIO]):
        tracker.log_audio(f"sample/{i}", record["path"], caption=f"{record['title']} (seed {record['seed']})")
    columns = ["job_id", "status", "genre", "seed", "title", "failed_checks"]
    rows = [
        [
            r["job_id"],
            r["status"],
            r.get("genre"),
            r["seed"],
            r["title"],
            ";".join(r["qc"]["failed"]) if r.get("qc") else "",
        ]
        for r in latest.values()
    ][:500]
    tracker.log_table("manifest", columns, rows)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in out.name)
    tracker.log_artifact(f"manifest-{safe}", "batch-manifest", out / "manifest.csv")
    tracker.finish()
