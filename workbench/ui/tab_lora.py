"""LoRA tab: build a dataset (upload or scan, edit the table, read the report), train in the background with a
live loss plot, listen to each checkpoint beside the base model, and hand an adapter to Generate.

A thin face on the ``lora`` package (the CLI ``workbench lora`` runs the same code): dataset work is in
``lora.library``, the background job and reading runs back in ``lora.jobs``. One training
runs at a time per app; a timer polls its progress, so no queue worker waits on a run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lora import jobs as lora_jobs
from lora import library as lora_data
from lora import runs as lora_runs
from lora.config import ALLOWED_TARGETS, DEFAULT_TARGETS, TrainConfig
from lora.dataset import TRIGGER_MODES, DatasetOptions
from workbench.ui import forms
from workbench.ui.context import TabContext, by_name, take_payload, ui_errors

TAB_ID = "lora"
LABEL = "LoRA"
NEEDS_MODEL = False
MODES = ("full",)
POLL_S = 1.0
CHECKPOINT_HEADERS = ["step", "val_loss", "train_loss", "lr", "eval/feature_gap", "eval/base_feature_gap"]
ADAPTER_HEADERS = ["run", "kind", "step", "val_loss", "path"]


def _table(rows: list[dict[str, Any]], headers: list[str]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows)
    for column in headers:
        if column not in frame.columns:
            frame[column] = None
    return frame[headers]


def _jobs(ctx: TabContext) -> lora_jobs.TrainingJobs:
    if ctx.lora_jobs is None:
        raise RuntimeError("the LoRA tab's training jobs are created by its build()")
    return ctx.lora_jobs


# --- layout ----------------------------------------------------------------------------------------------------
@dataclass
class DatasetComponents:
    name: Any
    uploads: Any
    folder: Any
    scan: Any
    table: Any
    trigger: Any
    trigger_mode: Any
    val_fraction: Any
    save: Any
    report: Any
    scanned: Any  # gr.State: the scanned rows (absolute paths), matched to the table's rows on save
    auto_label: Any = None  # fill empty captions/bpm/key/time signatures with the 5 Hz LM (lora.auto_label)


@dataclass
class TrainComponents:
    form: dict[str, Any]  # the keyword arguments of lora.jobs.train_config -> component
    start: Any
    stop: Any
    resume: Any
    status: Any
    loss_plot: Any
    timer: Any


@dataclass
class PreviewPair:
    row: Any
    caption: Any
    base: Any
    lora: Any


@dataclass
class RunComponents:
    run: Any
    refresh: Any
    overview: Any
    checkpoints: Any
    checkpoint: Any
    pairs: list[PreviewPair]
    adapters: Any
    picked: Any  # gr.State: the chosen adapter's folder
    payload: Any  # gr.State: what "Use in Generate" sends (a take payload of lora_runs.adapter_request)
    use: Any
    install: Any
    message: Any
    seen: Any  # gr.State: [run, checkpoints, finished, loss points] at the last poll

    @property
    def pair_outputs(self) -> list[Any]:
        return [c for p in self.pairs for c in (p.row, p.caption, p.base, p.lora)]

    @property
    def run_outputs(self) -> list[Any]:
        return [self.overview, self.checkpoints, self.checkpoint, *self.pair_outputs]


@dataclass
class LoraComponents:
    dataset: DatasetComponents
    train: TrainComponents
    runs: RunComponents


def _dataset_layout() -> DatasetComponents:
    with gr.Row():
        name = gr.Textbox(label="Dataset name", placeholder="spa-v1", elem_id="lora-ds-name", scale=1)
        uploads = gr.File(
            label="Upload audio (with optional .txt lyrics / .json metadata of the same name)",
            file_count="multiple",
            type="filepath",
            elem_id="lora-uploads",
            scale=2,
        )
        folder = gr.Textbox(
            label="…or scan a folder under WORKBENCH_HOME",
            placeholder="music/spa (relative to WORKBENCH_HOME)",
            elem_id="lora-folder",
            scale=2,
        )
    scan = gr.Button("Scan", elem_id="lora-scan")
    table = gr.Dataframe(
        headers=list(lora_data.TABLE_COLUMNS),
        datatype=lora_data.TABLE_TYPES,
        static_columns=lora_data.STATIC_COLUMNS,
        interactive=True,
        wrap=True,
        label="Clips (edit any column but file; an empty bpm or key is estimated from the audio on save)",
        elem_id="lora-ds-table",
    )
    with gr.Row():
        trigger = gr.Textbox(label="Trigger tag", placeholder="zzspa", elem_id="lora-trigger")
        mode = gr.Radio(
            list(TRIGGER_MODES), value=forms.default_of(DatasetOptions, "trigger_mode"), label="Trigger mode"
        )
        share = gr.Slider(
            0.0,
            0.5,
            value=forms.default_of(DatasetOptions, "val_fraction"),
            step=0.05,
            label="Validation share",
        )
        auto = gr.Checkbox(
            False, label="Auto-label empty captions, BPM, key with the LM (slow)", elem_id="lora-auto-label"
        )
        save = gr.Button("Save dataset", variant="primary", elem_id="lora-save")
    report = gr.Textbox(label="Validation report", lines=6, interactive=False, elem_id="lora-ds-report")
    return DatasetComponents(
        name, uploads, folder, scan, table, trigger, mode, share, save, report, gr.State(None), auto
    )


TRACKING_CHOICES = [
    ("as the preset says", ""),
    ("online (needs a W&B login)", "online"),
    ("offline (sync later)", "offline"),
    ("off", "off"),
]


def _train_form() -> dict[str, Any]:
    form: dict[str, Any] = {}
    with gr.Row():
        form["dataset"] = gr.Dropdown(lora_data.list_datasets(), label="Dataset", elem_id="lora-dataset")
        form["preset"] = gr.Dropdown(lora_jobs.presets(), label="Genre preset", elem_id="lora-preset")
        form["name"] = gr.Textbox(label="Run name", placeholder="spa-r64", elem_id="lora-run-name")
        form["model"] = gr.Textbox(
            label="Model", info="from the preset; e.g. turbo, base, tiny", elem_id="lora-model"
        )
    with gr.Row():
        form["rank"] = gr.Number(_default("rank"), label="Rank", precision=0, minimum=1, elem_id="lora-rank")
        form["alpha"] = gr.Number(
            _default("alpha"), label="Alpha", precision=0, minimum=1, elem_id="lora-alpha"
        )
        form["learning_rate"] = gr.Number(_default("learning_rate"), label="Learning rate", elem_id="lora-lr")
        form["max_steps"] = gr.Number(
            _default("max_steps"),
            label="Steps",
            info="0 = from the preset's epochs",
            precision=0,
            elem_id="lora-steps",
        )
        form["checkpoint_every"] = gr.Number(
            _default("checkpoint_every"),
            label="Checkpoint every",
            precision=0,
            minimum=1,
            elem_id="lora-every",
        )
    with gr.Row():
        form["targets"] = gr.CheckboxGroup(
            list(ALLOWED_TARGETS),
            value=list(DEFAULT_TARGETS),
            label="Target modules",
            info="attention projections (official default); add the MLP projections for timbre",
        )
        form["preview"] = gr.Checkbox(_default("preview"), label="Render previews at each checkpoint")
        form["tracking"] = gr.Dropdown(
            TRACKING_CHOICES,
            value="",
            label="Tracking (Weights & Biases)",
            info="offline: logged locally, `wandb sync` later; a local loss log is always written",
            elem_id="lora-tracking",
        )
    return form


def _train_layout() -> TrainComponents:
    form = _train_form()
    with gr.Row():
        start = gr.Button("Start", variant="primary", elem_id="lora-start")
        stop = gr.Button("Stop", variant="stop", elem_id="lora-stop")
        resume = gr.Button("Resume selected run", elem_id="lora-resume")
    status = gr.Markdown("No training in this app yet.", elem_id="lora-status")
    loss_plot = gr.Plot(label="Loss (train per step, validation per checkpoint)", elem_id="lora-loss")
    return TrainComponents(form, start, stop, resume, status, loss_plot, gr.Timer(POLL_S, active=False))


def _preview_pair(i: int) -> PreviewPair:
    with gr.Row(visible=False) as row:
        caption = gr.Markdown()
        base = gr.Audio(label="base model", type="filepath", interactive=False)
        lora = gr.Audio(label="LoRA", type="filepath", interactive=False, elem_id=f"lora-preview-{i}")
    return PreviewPair(row, caption, base, lora)


def _runs_layout(ctx: TabContext) -> RunComponents:
    with gr.Row():
        run = gr.Dropdown(lora_runs.list_runs(ctx.runs_dir), label="Run", elem_id="lora-run", scale=3)
        refresh = gr.Button("↻", scale=0, min_width=40)
    overview = gr.Markdown(elem_id="lora-overview")
    checkpoints = gr.Dataframe(
        headers=CHECKPOINT_HEADERS, label="Checkpoints", interactive=False, elem_id="lora-checkpoints"
    )
    checkpoint = gr.Dropdown([], label="Listen to checkpoint", elem_id="lora-checkpoint")
    pairs = [_preview_pair(i) for i in range(lora_runs.PREVIEW_PAIRS)]
    adapters = gr.Dataframe(
        _table(lora_runs.adapter_rows(ctx.runs_dir), ADAPTER_HEADERS),
        label="Adapters (click a row to pick it)",
        interactive=False,
        elem_id="lora-adapters",
    )
    picked, payload = gr.State(None), gr.State(None)
    with gr.Row():
        use = gr.Button("Use in Generate", elem_id="lora-use")
        install = gr.Button("Add to Generate's LoRA list", elem_id="lora-install")
    message = gr.Markdown(elem_id="lora-adapter-msg")
    return RunComponents(
        run,
        refresh,
        overview,
        checkpoints,
        checkpoint,
        pairs,
        adapters,
        picked,
        payload,
        use,
        install,
        message,
        gr.State(None),
    )


def _layout(ctx: TabContext) -> LoraComponents:
    gr.Markdown(
        "Train a LoRA for one genre: **1** build a dataset, **2** train (it runs in the background; you can leave "
        "the tab), **3** listen to each checkpoint beside the base model and use the best adapter in Generate. "
        "The same runs are reachable from the CLI (`workbench lora list`); see docs/lora.md."
    )
    with gr.Accordion("1 · Dataset", open=True):
        dataset = _dataset_layout()
    with gr.Accordion("2 · Train", open=True):
        train = _train_layout()
    with gr.Accordion("3 · Checkpoints and adapters", open=True):
        runs = _runs_layout(ctx)
    return LoraComponents(dataset, train, runs)


def _default(name: str) -> Any:
    return forms.default_of(TrainConfig, name)


# --- dataset handlers ------------------------------------------------------------------------------------------
def on_scan(name: str, files: list[str] | None, typed: str) -> list[Any]:
    lora_data.check_name(name)
    source = lora_data.import_uploads(name, files) if files else lora_data.inside_home(typed, "folder")
    rows, issues = lora_data.scan(source)
    return [lora_data.table_rows(rows), lora_data.scan_text(source, rows, issues), rows]


def on_save(
    name: str,
    records: list[dict[str, Any]] | None,
    rows: Any,
    tag: str,
    mode: str,
    share: float,
    auto: bool = False,
    progress: gr.Progress = gr.Progress(),
    ctx: TabContext | None = None,
) -> list[Any]:
    def tick(done: int, total: int, message: str) -> None:
        progress((done, max(total, 1)), desc=message, unit="files")

    label = ctx.workbench.dataset_labeller() if auto and ctx is not None else None
    built = lora_data.save(name, records, rows, tag, mode, share, progress=tick, label=label)
    counts = built.counts()
    head = f"Saved to {lora_data.dataset_dir(name)}: {counts['train']} train, {counts['validation']} validation.\n"
    return [
        head + lora_data.report_text(built),
        gr.Dropdown(choices=lora_data.list_datasets(), value=lora_data.check_name(name)),
    ]


# --- training handlers -----------------------------------------------------------------------------------------
PRESET_FIELDS = ("model", "rank", "alpha", "learning_rate", "max_steps", "checkpoint_every", "target_modules")


def on_preset(name: str | None) -> list[Any]:
    if not name:
        return [gr.skip()] * len(PRESET_FIELDS)
    cfg = lora_jobs.preset_config(name)
    return [getattr(cfg, field) for field in PRESET_FIELDS]


def started(ctx: TabContext, state: lora_jobs.JobState) -> list[Any]:
    # The trainer writes the run's config.yaml only once the model is loaded: list the new run already.
    runs = sorted({*lora_runs.list_runs(ctx.runs_dir), state.run})
    return [state.line(), gr.Timer(active=True), gr.Dropdown(choices=runs, value=state.run)]


def on_start(ctx: TabContext, values: dict[str, Any]) -> list[Any]:
    return started(ctx, _jobs(ctx).start(lora_jobs.train_config(ctx.runs_dir, **values)))


def on_resume(ctx: TabContext, selected: str | None) -> list[Any]:
    return started(ctx, _jobs(ctx).start(lora_jobs.resume_config(ctx.runs_dir, selected), resume=True))


def on_stop(ctx: TabContext) -> str:
    if _jobs(ctx).stop():
        return "Stopping: the run saves a checkpoint at the end of this step, then Resume continues it."
    return "No training is running."


# --- runs, checkpoints, previews, adapters ---------------------------------------------------------------------
def pairs(folder: Any, name: str | None) -> list[Any]:
    found = lora_runs.previews(folder, name) if folder is not None else []
    out: list[Any] = []
    for i in range(lora_runs.PREVIEW_PAIRS):
        if i < len(found):
            p = found[i]
            out += [gr.Row(visible=True), f"`{p.prompt}`", str(p.base) if p.base else None, str(p.lora)]
        else:
            out += [gr.Row(visible=False), "", None, None]
    return out


def on_run(ctx: TabContext, name: str | None) -> list[Any]:
    if not name:
        return [
            "Pick a run.",
            _table([], CHECKPOINT_HEADERS),
            gr.Dropdown(choices=[], value=None),
            *pairs(None, None),
        ]
    folder = lora_runs.run_dir(ctx.runs_dir, name)
    names = lora_runs.checkpoint_names(folder)
    last = names[-1] if names else None
    return [
        lora_runs.run_overview(folder),
        _table(lora_runs.checkpoint_rows(folder), CHECKPOINT_HEADERS),
        gr.Dropdown(choices=names, value=last),
        *pairs(folder, last),
    ]


def run_loss(ctx: TabContext, name: str | None) -> Any:
    if not name:
        return gr.skip()
    return lora_runs.loss_figure(lora_runs.loss_rows(lora_runs.run_dir(ctx.runs_dir, name)), name)


def on_checkpoint(ctx: TabContext, name: str | None, chosen: str | None) -> list[Any]:
    return pairs(lora_runs.run_dir(ctx.runs_dir, name), chosen) if name else pairs(None, None)


def on_refresh(ctx: TabContext, name: str | None) -> list[Any]:
    job = _jobs(ctx).snapshot()
    listed = sorted({*lora_runs.list_runs(ctx.runs_dir), *([job.run] if job else [])})
    keep = name if name in listed else None
    return [
        gr.Dropdown(choices=listed, value=keep),
        _table(lora_runs.adapter_rows(ctx.runs_dir), ADAPTER_HEADERS),
        gr.Dropdown(choices=lora_data.list_datasets()),
        *on_run(ctx, keep),
    ]


def poll(ctx: TabContext, selected: str | None, last: Any) -> list[Any]:
    """The timer's tick: status and plot of the running job; lists and plot are redrawn only on a change."""
    state = _jobs(ctx).snapshot()
    refresh_outputs = 3 + 3 + 4 * lora_runs.PREVIEW_PAIRS  # on_refresh's outputs
    if state is None:
        return [gr.skip(), gr.skip(), gr.Timer(active=False), last, *[gr.skip()] * refresh_outputs]
    rows = lora_runs.loss_rows(state.run_dir)
    now = [state.run, len(lora_runs.checkpoint_names(state.run_dir)), state.finished, len(rows)]
    last = last or [None] * 4
    plot = gr.skip() if now[::3] == last[::3] else lora_runs.loss_figure(rows, state.run)
    values = [state.line(), plot, gr.Timer(active=not state.finished), now]
    if now[:3] == last[:3]:
        return [*values, *[gr.skip()] * refresh_outputs]
    return [*values, *on_refresh(ctx, selected or state.run)]


def on_pick(ctx: TabContext, frame: Any, evt: gr.SelectData) -> list[Any]:
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    path = frame.iloc[row]["path"]
    return [
        path,
        take_payload(None, path, lora_runs.adapter_request(path, ctx.runs_dir)),
        f"Picked `{path}`.",
    ]


def on_install(ctx: TabContext, path: str | None) -> str:
    if not path:
        raise gr.Error("Pick an adapter in the list first.")
    name = lora_runs.install_adapter(path, ctx.runs_dir, ctx.loras_dir)
    return f"Installed as **{name}** in {ctx.loras_dir}: press ↻ beside Generate's LoRA picker to see it."


def page_lists(ctx: TabContext) -> list[Any]:
    """On every page load: runs, adapters, datasets, and the current (or last) training's run and loss plot, so a
    reloaded page shows what is on disk, not what was there when the app was built."""
    job = _jobs(ctx).snapshot()
    name = job.run if job else None
    return [*on_refresh(ctx, name), run_loss(ctx, name)]


def _page_state(ctx: TabContext) -> list[Any]:
    """A reloaded page picks up a training that is still running."""
    state = _jobs(ctx).snapshot()
    if state is None:
        return ["No training in this app yet.", gr.Timer(active=False)]
    return [state.line(), gr.Timer(active=not state.finished)]


# --- wiring ----------------------------------------------------------------------------------------------------
def _bound(ctx: TabContext, fn: Any) -> Any:
    """A module-level handler ``fn(ctx, ...)`` as an event handler with readable errors."""
    return ui_errors(functools.partial(fn, ctx))


def _wire_dataset(d: DatasetComponents, t: TrainComponents, ctx: TabContext | None = None) -> None:
    d.scan.click(
        ui_errors(on_scan),
        [d.name, d.uploads, d.folder],
        [d.table, d.report, d.scanned],
        api_visibility="private",
    )
    d.save.click(
        ui_errors(functools.partial(on_save, ctx=ctx)),
        [d.name, d.scanned, d.table, d.trigger, d.trigger_mode, d.val_fraction, d.auto_label],
        [d.report, t.form["dataset"]],
        api_visibility="private",
    )


def _wire_train(ctx: TabContext, t: TrainComponents, r: RunComponents) -> None:
    f = t.form
    preset_outputs = [
        f["model"],
        f["rank"],
        f["alpha"],
        f["learning_rate"],
        f["max_steps"],
        f["checkpoint_every"],
        f["targets"],
    ]
    f["preset"].change(
        ui_errors(on_preset), f["preset"], preset_outputs, queue=False, api_visibility="private"
    )
    start = by_name(f, functools.partial(on_start, ctx))
    t.start.click(ui_errors(start), set(f.values()), [t.status, t.timer, r.run], api_visibility="private")
    t.resume.click(_bound(ctx, on_resume), r.run, [t.status, t.timer, r.run], api_visibility="private")
    t.stop.click(functools.partial(on_stop, ctx), None, t.status, queue=False, api_visibility="private")


def _wire_runs(ctx: TabContext, t: TrainComponents, r: RunComponents) -> None:
    r.run.input(_bound(ctx, on_run), r.run, r.run_outputs, api_visibility="private").then(
        _bound(ctx, run_loss), r.run, t.loss_plot, api_visibility="private"
    )
    r.checkpoint.input(
        _bound(ctx, on_checkpoint), [r.run, r.checkpoint], r.pair_outputs, api_visibility="private"
    )
    refresh_outputs = [r.run, r.adapters, t.form["dataset"], *r.run_outputs]
    r.refresh.click(_bound(ctx, on_refresh), r.run, refresh_outputs, api_visibility="private")
    t.timer.tick(
        functools.partial(poll, ctx),
        [r.run, r.seen],
        [t.status, t.loss_plot, t.timer, r.seen, *refresh_outputs],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )

    def pick(frame: Any, evt: gr.SelectData) -> list[Any]:
        return on_pick(ctx, frame, evt)

    r.adapters.select(ui_errors(pick), r.adapters, [r.picked, r.payload, r.message], api_visibility="private")
    r.install.click(_bound(ctx, on_install), r.picked, r.message, api_visibility="private")
    # Generate's "reuse settings" receiver: fills its form with the adapter (LoRA path, scale 1) and a prompt
    # the adapter was trained on, then switches tabs. Hidden by the shell when the Generate tab is absent.
    ctx.send.sender(r.use, r.payload, "generate")


def _wire(ctx: TabContext, c: LoraComponents) -> None:
    _wire_dataset(c.dataset, c.train, ctx)
    _wire_train(ctx, c.train, c.runs)
    _wire_runs(ctx, c.train, c.runs)
    ctx.on_page_load([c.train.status, c.train.timer], lambda: _page_state(ctx))
    r, t = c.runs, c.train
    ctx.on_page_load(
        [r.run, r.adapters, t.form["dataset"], *r.run_outputs, t.loss_plot], _bound(ctx, page_lists)
    )


def build(ctx: TabContext) -> None:
    ctx.lora_jobs = lora_jobs.TrainingJobs()  # one per app: the "only one training at a time" rule lives here
    _wire(ctx, _layout(ctx))
