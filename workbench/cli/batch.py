"""``workbench batch run | validate | status | export-campaign``: plans of many tracks, headless and resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli.generate import add_engine_options
from workbench.cli.outcome import EXIT_CODES_HELP, Failure, exit_code, report_failures


def register(sub: Any) -> None:
    p = sub.add_parser(
        "batch",
        help="batch generation and sweeps from a plan (CSV, JSON or YAML)",
        description="Batch generation and sweeps. See docs/batch.md for the plan format.",
    )
    bsub = p.add_subparsers(dest="batch_command", metavar="ACTION")

    run = bsub.add_parser(
        "run",
        help="run a plan (resumable: a re-run skips finished items)",
        description="Run a plan into --out. Re-running the same command resumes. For several "
        "GPUs or nodes, start it with `accelerate launch -m workbench.cli.main batch run ...`.",
        epilog=EXIT_CODES_HELP + "; failed jobs are listed on stderr and in the manifest.",
    )
    run.add_argument("plan", help="plan file: .csv, .json or .yaml")
    run.add_argument("--out", required=True, help="batch folder (tracks, sidecars, manifest)")
    add_engine_options(run)
    run.set_defaults(model=None)  # rows without a model use the plan's `model:`, else this, else turbo
    run.add_argument(
        "--max-group",
        type=int,
        default=None,
        help="jobs per pipeline call (default: plan's run.max_group, else 4 with CUDA, 1 on CPU)",
    )
    run.add_argument(
        "--retries", type=int, default=None, help="extra attempts after a generation error (default 1)"
    )
    run.add_argument(
        "--regenerate", type=int, default=None, help="new-seed attempts for QC-rejected tracks (default 0)"
    )
    run.add_argument(
        "--format",
        default=None,
        choices=("wav", "flac", "mp3"),
        help="output format (default: plan's, else wav)",
    )
    run.add_argument("--no-master", action="store_true", help="do not master to the genre's delivery spec")
    run.add_argument("--no-qc", action="store_true", help="skip the QC gate (nothing is rejected)")
    run.add_argument("--no-store", action="store_true", help="do not add rows to the workbench store")
    run.add_argument(
        "--tracking",
        default=None,
        choices=("auto", "online", "offline", "off"),
        help="W&B mode (default: WORKBENCH_TRACKING, else auto); a local mirror is always written",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=run_cmd)

    val = bsub.add_parser(
        "validate",
        help="check a plan and list its jobs without running anything",
        description="Expand and check a plan; report every bad row.",
    )
    val.add_argument("plan")
    val.add_argument("--model", default=None, help="model for rows that name none")
    val.add_argument("--max-group", type=int, default=None)
    val.set_defaults(func=validate_cmd)

    st = bsub.add_parser(
        "status",
        help="progress of a batch folder (also while it runs)",
        description="Count finished, rejected, failed and pending items of a batch folder.",
    )
    st.add_argument("out", help="the --out folder of a batch run")
    st.add_argument(
        "--merge", action="store_true", help="(re)write manifest.csv and manifest.parquet from the shards"
    )
    st.set_defaults(func=status_cmd)

    ex = bsub.add_parser(
        "export-campaign",
        help="copy a batch's passed tracks into a folder + mapping CSV for a campaign",
        description="Make an 'imported' system for a blind A/B campaign: a folder of files and "
        "mapping.csv (prompt_id,file,take,...).",
    )
    ex.add_argument("out", help="the batch folder")
    ex.add_argument("--to", required=True, help="folder to create")
    ex.add_argument("--campaign", default=None, help="campaign YAML: match rows to its prompt ids by caption")
    ex.add_argument("--include-rejected", action="store_true")
    ex.set_defaults(func=export_cmd)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _settings(args: argparse.Namespace, plan: Any) -> tuple[Any, Any, Any]:
    from workbench.batch.export import ExportSettings
    from workbench.batch.qc import QcRules
    from workbench.batch.runner import RunSettings

    run = {
        **plan.run,
        **({"max_group": args.max_group} if args.max_group is not None else {}),
        **({"retries": args.retries} if args.retries is not None else {}),
    }
    qc = dict(plan.qc)
    if args.regenerate is not None:
        qc["regenerate"] = args.regenerate
    if args.no_qc:
        qc["enabled"] = False
    export = {**plan.export, **({"format": args.format} if args.format else {})}
    if args.no_master:
        export["master"] = False
    return RunSettings.from_dict(run), QcRules.from_dict(qc), ExportSettings.from_dict(export)


def run_cmd(args: argparse.Namespace) -> int:
    from workbench.batch import load_plan, run_batch
    from workbench.batch.distributed import process_info
    from workbench.core.store import Store

    plan = load_plan(args.plan, model=args.model)  # every bad row is reported before any model loads
    settings, rules, export = _settings(args, plan)
    proc = process_info(args.device)
    bar = None if args.no_progress else _progress_bar(proc.index, proc.count)
    result = run_batch(
        plan,
        args.out,
        settings=settings,
        rules=rules,
        export_settings=export,
        device=proc.device,
        dtype=args.dtype,
        offload=args.offload,
        store=None if args.no_store else Store(),
        tracking=args.tracking,
        progress=bar,
        process=proc,
    )
    if bar is not None:
        bar.close()
    s = result.shard.progress
    print(
        f"process {result.process + 1}/{result.processes}: {s.ok} ok, {s.rejected} rejected, {s.failed} failed, "
        f"{s.skipped} already done, {s.elapsed_s:.1f} s" + (" (cancelled)" if result.shard.cancelled else "")
    )
    if result.manifest_csv is not None:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
        print(
            f"batch {result.batch_id}: {counts}; manifest {result.manifest_csv} and {result.manifest_parquet}"
        )
    return _exit_status(result, {j.job_id for j in plan.jobs})


def _exit_status(result: Any, planned: set[str]) -> int:
    """The whole batch's state on the main process (what the manifest says), this shard's elsewhere."""
    from workbench.batch import manifest

    if result.manifest_csv is None:  # other processes: the main one names the failed jobs
        s = result.shard.progress
        return exit_code(s.failed, s.ok + s.rejected + s.failed)
    latest = manifest.latest_by_job(manifest.read_records(result.out_dir))
    failures = [
        Failure(
            f"{job_id} (row {r.get('row')}, seed {r.get('seed')})", str(r.get("error") or "no error recorded")
        )
        for job_id, r in sorted(
            latest.items(), key=lambda kv: (kv[1].get("row") or 0, kv[1].get("index") or 0)
        )
        if job_id in planned and r.get("status") == "failed"
    ]
    return report_failures(failures, sum(result.counts.values()), "jobs")


class _progress_bar:
    """tqdm with ETA; one bar per process (stacked by position when launched with accelerate)."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.bar: Any = None

    def __call__(self, state: Any) -> None:
        from tqdm import tqdm

        if self.bar is None:
            desc = "batch" if self.count == 1 else f"shard {self.index + 1}/{self.count}"
            self.bar = tqdm(
                total=state.total,
                initial=state.skipped,
                desc=desc,
                unit="track",
                position=self.index,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self.bar.n = state.skipped + state.done
        self.bar.set_postfix(ok=state.ok, rejected=state.rejected, failed=state.failed, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def validate_cmd(args: argparse.Namespace) -> int:
    from workbench.batch import load_plan
    from workbench.batch.groups import group_jobs
    from workbench.batch.runner import RunSettings

    plan = load_plan(args.plan, model=args.model)
    run = {**plan.run, **({"max_group": args.max_group} if args.max_group is not None else {})}
    settings = RunSettings.from_dict(run)
    _settings(
        argparse.Namespace(
            max_group=None, retries=None, regenerate=None, no_qc=False, format=None, no_master=False
        ),
        plan,
    )  # the qc/export sections are checked too
    calls = len(group_jobs(plan.jobs, settings.max_group))
    rows = len({j.row for j in plan.jobs})
    print(
        f"plan {plan.name}: {len(plan.jobs)} jobs from {rows} rows, {calls} pipeline calls "
        f"(max_group {settings.max_group}); models: {', '.join(plan.models)}"
    )
    return 0


def status_cmd(args: argparse.Namespace) -> int:
    from workbench.batch.manifest import batch_status, write_manifest

    status = batch_status(args.out)
    for line in status.lines():
        print(line)
    if args.merge:
        csv_path, parquet_path = write_manifest(Path(args.out))
        print(f"manifest: {csv_path} and {parquet_path}")
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    from workbench.batch.campaign_export import export_for_campaign

    result = export_for_campaign(
        args.out, args.to, campaign=args.campaign, include_rejected=args.include_rejected
    )
    print(
        f"{result.files} files for {result.prompts} prompt ids in {result.folder}; mapping: {result.mapping_csv}"
    )
    print(
        f"use it in a campaign as: {{import_dir: {result.folder.resolve()}, mapping_csv: {result.mapping_csv.name}}}"
    )
    return 0
