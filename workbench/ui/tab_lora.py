"""LoRA tab: build a dataset (upload or scan, edit the table, read the report), train in the background with a
live loss plot, listen to each checkpoint beside the base model, and hand an adapter to Generate.

A thin face on the ``lora`` package (the CLI ``workbench lora`` runs the same code): dataset work is in
``lora.library``, the background job and reading runs back in ``lora.jobs``. One training
runs at a time per app; a timer polls its progress, so no queue worker waits on a run.
"""

from __future__ import annotations

from typing import Any

# Module level (not inside build) so Gradio can resolve gr.Progress annotations through the module globals.
import gradio as gr

from lora import jobs as lora_jobs
from lora import library as lora_data
from lora import runs as lora_runs
from workbench.ui.context import TabContext, take_payload, ui_errors

TAB_ID = "lora"
LABEL = "LoRA"
NEEDS_MODEL = False
MODES = ("full",)
POLL_S = 1.0
CHECKPOINT_HEADERS = ["step", "val_loss", "train_loss", "lr", "eval/feature_gap", "eval/base_feature_gap"]
ADAPTER_HEADERS = ["run", "kind", "step", "val_loss", "path"]


def _allowed_targets() -> list[str]:
    from lora.config import ALLOWED_TARGETS

    return list(ALLOWED_TARGETS)


def _table(rows: list[dict[str, Any]], headers: list[str]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows)
    for column in headers:
        if column not in frame.columns:
            frame[column] = None
    return frame[headers]


def build(ctx: TabContext) -> None:
    jobs = lora_jobs.TrainingJobs()  # one per app: the "only one training at a time" rule lives here
    ctx.lora_jobs = jobs
    runs_dir = ctx.runs_dir
    gr.Markdown(
        "Train a LoRA for one genre: **1** build a dataset, **2** train (it runs in the background; you can leave "
        "the tab), **3** listen to each checkpoint beside the base model and use the best adapter in Generate. "
        "The same runs are reachable from the CLI (`workbench lora list`); see docs/lora.md."
    )
    with gr.Accordion("1 · Dataset", open=True):
        with gr.Row():
            ds_name = gr.Textbox(label="Dataset name", placeholder="spa-v1", elem_id="lora-ds-name", scale=1)
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
        scan_btn = gr.Button("Scan", elem_id="lora-scan")
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
            trigger_mode = gr.Radio(["prepend", "append", "replace"], value="prepend", label="Trigger mode")
            val_fraction = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label="Validation share")
            save_btn = gr.Button("Save dataset", variant="primary", elem_id="lora-save")
        report = gr.Textbox(label="Validation report", lines=6, interactive=False, elem_id="lora-ds-report")
        scanned = gr.State(
            None
        )  # the scanned rows (with absolute paths), matched to the table's rows on save

    with gr.Accordion("2 · Train", open=True):
        with gr.Row():
            dataset = gr.Dropdown(lora_data.list_datasets(), label="Dataset", elem_id="lora-dataset")
            preset = gr.Dropdown(lora_jobs.presets(), label="Genre preset", elem_id="lora-preset")
            run_name = gr.Textbox(label="Run name", placeholder="spa-r64", elem_id="lora-run-name")
            model = gr.Textbox(
                label="Model", info="from the preset; e.g. turbo, base, tiny", elem_id="lora-model"
            )
        with gr.Row():
            rank = gr.Number(64, label="Rank", precision=0, minimum=1, elem_id="lora-rank")
            alpha = gr.Number(128, label="Alpha", precision=0, minimum=1, elem_id="lora-alpha")
            lr = gr.Number(3e-4, label="Learning rate", elem_id="lora-lr")
            steps = gr.Number(
                0, label="Steps", info="0 = from the preset's epochs", precision=0, elem_id="lora-steps"
            )
            every = gr.Number(200, label="Checkpoint every", precision=0, minimum=1, elem_id="lora-every")
        with gr.Row():
            targets = gr.CheckboxGroup(
                _allowed_targets(),
                value=["to_q", "to_k", "to_v", "to_out.0"],
                label="Target modules",
                info="attention projections (official default); add the MLP projections for timbre",
            )
            preview = gr.Checkbox(True, label="Render previews at each checkpoint")
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", elem_id="lora-start")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="lora-stop")
            resume_btn = gr.Button("Resume selected run", elem_id="lora-resume")
        status = gr.Markdown("No training in this app yet.", elem_id="lora-status")
        loss_plot = gr.Plot(label="Loss (train per step, validation per checkpoint)", elem_id="lora-loss")
        timer = gr.Timer(POLL_S, active=False)

    with gr.Accordion("3 · Checkpoints and adapters", open=True):
        with gr.Row():
            run = gr.Dropdown(lora_runs.list_runs(runs_dir), label="Run", elem_id="lora-run", scale=3)
            refresh_btn = gr.Button("↻", scale=0, min_width=40)
        overview = gr.Markdown(elem_id="lora-overview")
        checkpoints = gr.Dataframe(
            headers=CHECKPOINT_HEADERS, label="Checkpoints", interactive=False, elem_id="lora-checkpoints"
        )
        checkpoint = gr.Dropdown([], label="Listen to checkpoint", elem_id="lora-checkpoint")
        pair_rows = []
        for i in range(lora_runs.PREVIEW_PAIRS):
            with gr.Row(visible=False) as row:
                caption = gr.Markdown()
                base_audio = gr.Audio(label="base model", type="filepath", interactive=False)
                lora_audio = gr.Audio(
                    label="LoRA", type="filepath", interactive=False, elem_id=f"lora-preview-{i}"
                )
            pair_rows.append((row, caption, base_audio, lora_audio))
        adapters = gr.Dataframe(
            _table(lora_runs.adapter_rows(runs_dir), ADAPTER_HEADERS),
            label="Adapters (click a row to pick it)",
            interactive=False,
            elem_id="lora-adapters",
        )
        picked = gr.State(None)  # the chosen adapter's folder
        payload = gr.State(None)  # what "Use in Generate" sends (a take payload of lora_runs.adapter_request)
        with gr.Row():
            use_btn = gr.Button("Use in Generate", elem_id="lora-use")
            install_btn = gr.Button("Add to Generate's LoRA list", elem_id="lora-install")
        adapter_msg = gr.Markdown(elem_id="lora-adapter-msg")

    # --- dataset -------------------------------------------------------------------------------------------
    @ui_errors
    def on_scan(name: str, files: list[str] | None, typed: str) -> list[Any]:
        lora_data.check_name(name)
        source = lora_data.import_uploads(name, files) if files else lora_data.inside_home(typed, "folder")
        rows, issues = lora_data.scan(source)
        return [lora_data.table_rows(rows), lora_data.scan_text(source, rows, issues), rows]

    scan_btn.click(on_scan, [ds_name, uploads, folder], [table, report, scanned], api_visibility="private")

    @ui_errors
    def on_save(
        name: str,
        records: list[dict[str, Any]] | None,
        rows: Any,
        tag: str,
        mode: str,
        share: float,
        progress: gr.Progress = gr.Progress(),
    ) -> list[Any]:
        def tick(done: int, total: int, message: str) -> None:
            progress((done, max(total, 1)), desc=message, unit="files")

        built = lora_data.save(name, records, rows, tag, mode, share, progress=tick)
        counts = built.counts()
        head = f"Saved to {lora_data.dataset_dir(name)}: {counts['train']} train, {counts['validation']} validation.\n"
        return [
            head + lora_data.report_text(built),
            gr.Dropdown(choices=lora_data.list_datasets(), value=lora_data.check_name(name)),
        ]

    save_btn.click(
        on_save,
        [ds_name, scanned, table, trigger, trigger_mode, val_fraction],
        [report, dataset],
        api_visibility="private",
    )

    # --- training -------------------------------------------------------------------------------------------
    @ui_errors
    def on_preset(name: str | None) -> list[Any]:
        if not name:
            return [gr.skip()] * 7
        cfg = lora_jobs.preset_config(name)
        return [
            cfg.model,
            cfg.rank,
            cfg.alpha,
            cfg.learning_rate,
            cfg.max_steps,
            cfg.checkpoint_every,
            cfg.target_modules,
        ]

    preset.change(
        on_preset,
        preset,
        [model, rank, alpha, lr, steps, every, targets],
        queue=False,
        api_visibility="private",
    )

    def started(state: lora_jobs.JobState) -> list[Any]:
        # The trainer writes the run's config.yaml only once the model is loaded: list the new run already.
        runs = sorted({*lora_runs.list_runs(runs_dir), state.run})
        return [state.line(), gr.Timer(active=True), gr.Dropdown(choices=runs, value=state.run)]

    @ui_errors
    def on_start(values: dict[Any, Any]) -> list[Any]:
        v = {names[c]: x for c, x in values.items()}
        cfg = lora_jobs.train_config(runs_dir, **v)
        return started(jobs.start(cfg))

    form = {
        "preset": preset,
        "dataset": dataset,
        "name": run_name,
        "model": model,
        "rank": rank,
        "alpha": alpha,
        "learning_rate": lr,
        "max_steps": steps,
        "checkpoint_every": every,
        "targets": targets,
        "preview": preview,
    }
    names = {component: key for key, component in form.items()}
    start_btn.click(on_start, set(form.values()), [status, timer, run], api_visibility="private")

    @ui_errors
    def on_resume(selected: str | None) -> list[Any]:
        return started(jobs.start(lora_jobs.resume_config(runs_dir, selected), resume=True))

    resume_btn.click(on_resume, run, [status, timer, run], api_visibility="private")

    def on_stop() -> str:
        if jobs.stop():
            return "Stopping: the run saves a checkpoint at the end of this step, then Resume continues it."
        return "No training is running."

    stop_btn.click(on_stop, None, status, queue=False, api_visibility="private")

    # --- runs, checkpoints, previews, adapters --------------------------------------------------------------
    def pairs(folder: Any, name: str | None) -> list[Any]:
        found = lora_runs.previews(folder, name) if folder is not None else []
        out: list[Any] = []
        for i in range(len(pair_rows)):
            if i < len(found):
                p = found[i]
                out += [gr.Row(visible=True), f"`{p.prompt}`", str(p.base) if p.base else None, str(p.lora)]
            else:
                out += [gr.Row(visible=False), "", None, None]
        return out

    pair_outputs = [c for group in pair_rows for c in group]

    @ui_errors
    def on_run(name: str | None) -> list[Any]:
        if not name:
            return [
                "Pick a run.",
                _table([], CHECKPOINT_HEADERS),
                gr.Dropdown(choices=[], value=None),
                *pairs(None, None),
            ]
        folder = lora_runs.run_dir(runs_dir, name)
        names_ = lora_runs.checkpoint_names(folder)
        last = names_[-1] if names_ else None
        return [
            lora_runs.run_overview(folder),
            _table(lora_runs.checkpoint_rows(folder), CHECKPOINT_HEADERS),
            gr.Dropdown(choices=names_, value=last),
            *pairs(folder, last),
        ]

    run_outputs = [overview, checkpoints, checkpoint, *pair_outputs]

    @ui_errors
    def run_loss(name: str | None) -> Any:
        if not name:
            return gr.skip()
        return lora_runs.loss_figure(lora_runs.loss_rows(lora_runs.run_dir(runs_dir, name)), name)

    run.input(on_run, run, run_outputs, api_visibility="private").then(
        run_loss, run, loss_plot, api_visibility="private"
    )

    @ui_errors
    def on_checkpoint(name: str | None, chosen: str | None) -> list[Any]:
        return pairs(lora_runs.run_dir(runs_dir, name), chosen) if name else pairs(None, None)

    checkpoint.input(on_checkpoint, [run, checkpoint], pair_outputs, api_visibility="private")

    @ui_errors
    def on_refresh(name: str | None) -> list[Any]:
        job = jobs.snapshot()
        listed = sorted({*lora_runs.list_runs(runs_dir), *([job.run] if job else [])})
        keep = name if name in listed else None
        return [
            gr.Dropdown(choices=listed, value=keep),
            _table(lora_runs.adapter_rows(runs_dir), ADAPTER_HEADERS),
            gr.Dropdown(choices=lora_data.list_datasets()),
            *on_run(keep),
        ]

    refresh_btn.click(on_refresh, run, [run, adapters, dataset, *run_outputs], api_visibility="private")
    # [run, checkpoints, finished, loss points] at the last poll: lists and plot are redrawn only on a change.
    seen = gr.State(None)

    def poll(selected: str | None, last: Any) -> list[Any]:
        state = jobs.snapshot()
        refresh_outputs = 3 + len(run_outputs)
        if state is None:
            return [gr.skip(), gr.skip(), gr.Timer(active=False), last, *[gr.skip()] * refresh_outputs]
        rows = lora_runs.loss_rows(state.run_dir)
        now = [state.run, len(lora_runs.checkpoint_names(state.run_dir)), state.finished, len(rows)]
        last = last or [None] * 4
        plot = gr.skip() if now[::3] == last[::3] else lora_runs.loss_figure(rows, state.run)
        values = [state.line(), plot, gr.Timer(active=not state.finished), now]
        if now[:3] == last[:3]:
            return [*values, *[gr.skip()] * refresh_outputs]
        return [*values, *on_refresh(selected or state.run)]

    timer.tick(
        poll,
        [run, seen],
        [status, loss_plot, timer, seen, run, adapters, dataset, *run_outputs],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )

    @ui_errors
    def on_pick(frame: Any, evt: gr.SelectData) -> list[Any]:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        path = frame.iloc[row]["path"]
        return [
            path,
            take_payload(None, path, lora_runs.adapter_request(path, runs_dir)),
            f"Picked `{path}`.",
        ]

    adapters.select(on_pick, adapters, [picked, payload, adapter_msg], api_visibility="private")

    @ui_errors
    def on_install(path: str | None) -> str:
        if not path:
            raise gr.Error("Pick an adapter in the list first.")
        name = lora_runs.install_adapter(path, runs_dir, ctx.loras_dir)
        return f"Installed as **{name}** in {ctx.loras_dir}: press ↻ beside Generate's LoRA picker to see it."

    install_btn.click(on_install, picked, adapter_msg, api_visibility="private")
    # Generate's "reuse settings" receiver: fills its form with the adapter (LoRA path, scale 1) and a prompt
    # the adapter was trained on, then switches tabs. Hidden by the shell when the Generate tab is absent.
    ctx.send.sender(use_btn, payload, "generate")
    ctx.on_page_load([status, timer], lambda: _page_state(jobs))


def _page_state(jobs: lora_jobs.TrainingJobs) -> list[Any]:
    """A reloaded page picks up a training that is still running."""
    state = jobs.snapshot()
    if state is None:
        return ["No training in this app yet.", gr.Timer(active=False)]
    return [state.line(), gr.Timer(active=not state.finished)]
