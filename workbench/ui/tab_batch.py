"""Batch tab: upload or pick a plan, validate it, run it with a progress bar and Cancel, and see the manifest.

A thin face on ``workbench.batch`` (the CLI runs the same ``run_batch``). Plans are kept in
``WORKBENCH_HOME/plans`` and batches in ``WORKBENCH_HOME/batches/<name>``, so a batch stopped here (or in the
CLI) resumes by running the same plan into the same name. Rows without a model use the model box, which defaults
to the app's model so the loaded pipeline is reused; a row naming another model loads it for the batch, under
the app engine's lock (see ``Workbench.batch_engine``).
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from workbench.core import paths
from workbench.core.errors import InputError
from workbench.core.timefmt import eta_text
from workbench.ui.context import GpuJob, TabContext, ui_errors

TAB_ID = "batch"
LABEL = "Batch"
NEEDS_MODEL = False
MODES = ("full",)
PLAN_SUFFIXES = (".csv", ".json", ".yaml", ".yml")
TABLE_COLUMNS = [
    "row",
    "status",
    "title",
    "genre",
    "seed",
    "qc.failed",
    "qc.metrics.integrated_lufs",
    "job_id",
]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def plan_choices() -> list[str]:
    return sorted(p.name for p in paths.plans_dir().iterdir() if p.suffix.lower() in PLAN_SUFFIXES)


def import_plan(upload: str) -> str:
    """Keep an uploaded plan under the plans folder (same name) so the batch can be resumed later."""
    src = Path(upload)
    if src.suffix.lower() not in PLAN_SUFFIXES:
        raise InputError("plan", src.name, f"upload a {', '.join(PLAN_SUFFIXES)} file")
    shutil.copyfile(src, paths.plans_dir() / src.name)
    return src.name


def plan_path(name: str | None) -> Path:
    if not name:
        raise InputError("plan", name, "upload a plan or pick one from the list")
    path = paths.plans_dir() / Path(name).name  # only files of the plans folder, never another server path
    if not path.is_file():
        raise InputError("plan", name, "not in the plans folder; upload it again")
    return path


def batch_folder(name: str) -> Path:
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise InputError(
            "batch name", name, "use letters, digits, '.', '_' or '-' (at most 64), e.g. spa-sweep-1"
        )
    return paths.batches_dir() / name


def validate_summary(plan_name: str, model: str | None) -> str:
    from workbench.batch import load_plan
    from workbench.batch.groups import group_jobs
    from workbench.batch.runner import RunSettings

    plan = load_plan(plan_path(plan_name), model=model or None)
    settings = RunSettings.from_dict(plan.run)
    calls = len(group_jobs(plan.jobs, settings.max_group))
    return (
        f"✅ **{plan.name}**: {len(plan.jobs)} jobs from {len({j.row for j in plan.jobs})} rows, {calls} pipeline "
        f"calls (max_group {settings.max_group}); models: {', '.join(plan.models)}"
    )


def run_plan(
    ctx: TabContext,
    plan_name: str,
    model: str | None,
    out_name: str,
    progress: Any = None,
    cancel: threading.Event | None = None,
) -> Any:
    """Run (or resume) a plan into ``batches/<out_name>`` on the app's engine. Returns the BatchResult."""
    from workbench.batch import load_plan

    plan = load_plan(plan_path(plan_name), model=model or None)
    return ctx.workbench.run_batch(plan, batch_folder(out_name), progress, cancel)


def manifest_rows(out_name: str) -> tuple[str, Any]:
    """(status Markdown, table of the manifest) for a batch folder."""
    import pandas as pd

    from workbench.batch.manifest import batch_status, manifest_frame

    out = batch_folder(out_name)
    status = batch_status(out)
    frame = manifest_frame(out)
    table = (
        frame[[c for c in TABLE_COLUMNS if c in frame.columns]].copy()
        if len(frame)
        else pd.DataFrame(columns=TABLE_COLUMNS)
    )
    for column in table.columns:  # measurements read to one decimal (LUFS, dBTP, BPM), not to 15
        if pd.api.types.is_float_dtype(table[column]):
            table[column] = table[column].round(1)
    return "  \n".join(status.lines()), table


@dataclass
class BatchComponents:
    upload: Any
    plan: Any
    refresh: Any
    model: Any
    name: Any
    validate: Any
    run: Any
    cancel: Any
    show: Any
    status: Any
    table: Any
    download: Any

    @property
    def manifest(self) -> list[Any]:
        """What a run or "Show manifest" fills."""
        return [self.status, self.table, self.download]


def _layout(ctx: TabContext) -> BatchComponents:
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(
                label="Upload a plan (.csv, .json, .yaml)", file_types=list(PLAN_SUFFIXES), type="filepath"
            )
            with gr.Row():
                plan = gr.Dropdown(plan_choices(), label="Plan", elem_id="batch-plan", scale=4)
                refresh = gr.Button("↻", scale=0, min_width=40)
        with gr.Column(scale=2):
            model = gr.Textbox(
                ctx.engine.model_name,
                label="Model for rows that name none",
                info="defaults to the app's model (its pipeline is reused)",
            )
            name = gr.Textbox(
                label="Batch name (folder under batches/)",
                elem_id="batch-name",
                info="run the same plan into the same name to resume",
            )
    with gr.Row():
        validate = gr.Button("Validate", elem_id="batch-validate")
        run = gr.Button("Run / resume", variant="primary", elem_id="batch-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="batch-cancel")
        show = gr.Button("Show manifest", elem_id="batch-show")
    status = gr.Markdown(elem_id="batch-status")
    table = gr.Dataframe(label="Manifest", interactive=False, wrap=True)
    download = gr.File(label="manifest.csv", interactive=False)
    return BatchComponents(
        upload, plan, refresh, model, name, validate, run, cancel, show, status, table, download
    )


def uploaded(path: str | None) -> list[Any]:
    if not path:
        return [gr.skip(), gr.skip()]
    saved = import_plan(path)
    return [gr.Dropdown(choices=plan_choices(), value=saved), Path(saved).stem]


def manifest_outputs(ctx: TabContext, out_name: str) -> list[Any]:
    text, frame = manifest_rows(out_name)
    csv_path = batch_folder(out_name) / "manifest.csv"
    copy = None
    if csv_path.is_file():
        copy = ctx.new_temp_dir("batch") / "manifest.csv"  # served folder; the batch folder is not
        shutil.copyfile(csv_path, copy)
    return [text, frame, str(copy) if copy else None]


def run_batch(ctx: TabContext, values: dict[str, Any], job: GpuJob) -> list[Any]:
    def on_progress(state: Any) -> None:
        job.bar(
            (state.skipped + state.done, state.total),
            unit="tracks",
            desc=f"{state.ok} ok · {state.rejected} rejected · {state.failed} failed · ETA {eta_text(state.eta_s)}",
        )

    out_name = values["name"]
    result = run_plan(ctx, values["plan"], values["model"], out_name, on_progress, job.cancel)
    s = result.shard.progress
    head = ("⏹ Cancelled; run again to resume." if result.shard.cancelled else "✅ Done.") + (
        f" This run: {s.ok} ok, {s.rejected} rejected, {s.failed} failed, {s.skipped} already done, "
        f"{s.elapsed_s:.1f} s."
    )
    text, frame, csv = manifest_outputs(ctx, out_name)
    return [head + "  \n" + text, frame, csv]


def _wire(ctx: TabContext, c: BatchComponents) -> None:
    c.upload.upload(ui_errors(uploaded), c.upload, [c.plan, c.name], api_visibility="private")

    def plans() -> Any:
        return gr.Dropdown(choices=plan_choices())

    c.refresh.click(plans, None, c.plan, queue=False, api_visibility="private")
    ctx.on_page_load([c.plan], plans)  # plans saved since the app was built
    c.plan.change(
        lambda p: Path(p).stem if p else gr.skip(), c.plan, c.name, queue=False, api_visibility="private"
    )
    c.validate.click(ui_errors(validate_summary), [c.plan, c.model], c.status, api_visibility="private")
    inputs = {"plan": c.plan, "model": c.model, "name": c.name}
    ctx.gpu_action(
        TAB_ID,
        c.run,
        c.cancel,
        run_batch,
        inputs,
        c.manifest,
        status=c.status,
        cancel_text="Cancelling after the current pipeline call…",
    )
    show = ui_errors(functools.partial(manifest_outputs, ctx))
    c.show.click(show, c.name, c.manifest, api_visibility="private")


def build(ctx: TabContext) -> None:
    _wire(ctx, _layout(ctx))
