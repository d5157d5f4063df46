"""Edit tab: repaint a region, extend left/right, add a track (lego), extract a stem, complete an arrangement."""

from __future__ import annotations

from typing import Any

# Module level, not inside build(): Gradio resolves gr.Request / gr.SelectData annotations through the
# module globals, and with postponed annotations a local import leaves them unresolvable (never injected).
import gradio as gr

from workbench.core import audio_io
from workbench.core.errors import InputError
from workbench.engine.requests import DEFAULT_CROSSFADE_MS, TRACK_NAMES, request_from_dict
from workbench.ui import forms
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, progress_adapter, session_key, ui_errors
from workbench.ui.results import audio_preview, card_values, result_card, source_picker

TAB_ID = "edit"
LABEL = "Edit"
NEEDS_MODEL = True
MODES = ("full",)

_OPERATION_HELP = {
    "repaint": "Regenerate the region between start and end; everything outside stays bit-identical.",
    "extend": "Add new music before (left) or after (right) the source; the source itself stays bit-identical.",
    "lego": "Add a named track (e.g. drums) over the source, optionally only between start and end. Base model.",
    "extract": "Have the model render one named stem of the source. Base model.",
    "complete": "Complete a partial arrangement with the chosen track classes. Base model.",
}


EDIT_OPERATIONS = ("repaint", "extend", "lego", "extract", "complete")


def operation_fields(op: str, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of one Edit operation out of the whole form (which shows every operation's fields)."""
    if op in ("repaint", "extend"):
        window: dict[str, Any] = (
            {"start_s": float(values["start_s"]), "end_s": float(values["end_s"])}
            if op == "repaint"
            else {"side": str(values["side"]), "extend_s": float(values["extend_s"])}
        )
        return {**window, "crossfade_ms": float(values.get("crossfade_ms", DEFAULT_CROSSFADE_MS))}
    if op == "lego":
        end = values.get("end_s")
        start = float(values.get("start_s") or 0.0)
        return {"track": str(values["track"]), "start_s": start, "end_s": float(end) if end else None}
    if op == "extract":
        return {"track": str(values["track"])}
    if op == "complete":
        return {"tracks": tuple(values.get("tracks") or ())}
    raise InputError("operation", op, f"choose one of {', '.join(EDIT_OPERATIONS)}")


def build(ctx: TabContext) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            src = source_picker("edit")
            region = gr.Image(
                label="Source waveform (the orange band is the region)",
                interactive=False,
                type="filepath",
                height=130,
                elem_id="edit-region",
            )
        with gr.Column(scale=2):
            operation = gr.Radio(
                list(EDIT_OPERATIONS), value="repaint", label="Operation", elem_id="edit-operation"
            )
            help_text = gr.Markdown(_OPERATION_HELP["repaint"])
            with gr.Row():
                start_s = gr.Number(0.0, label="Start (s)", elem_id="edit-start")
                end_s = gr.Number(1.0, label="End (s)", elem_id="edit-end")
                crossfade_ms = gr.Number(DEFAULT_CROSSFADE_MS, label="Crossfade (ms)")
            with gr.Row():
                side = gr.Radio(["left", "right"], value="right", label="Extend side", elem_id="edit-side")
                extend_s = gr.Number(5.0, label="Extend by (s)", elem_id="edit-extend-s")
            with gr.Row():
                track = gr.Dropdown(list(TRACK_NAMES), value="drums", label="Track (lego / extract)")
                tracks = gr.Dropdown(
                    list(TRACK_NAMES), value=["drums", "bass"], multiselect=True, label="Tracks (complete)"
                )
            prompt = gr.Textbox(label="Caption for the new material", lines=2, elem_id="edit-prompt")
            seed, steps, audio_format = forms.seed_steps_format("Seed (empty = random)", "edit-seed")
    with gr.Row():
        run = gr.Button("Run edit", variant="primary", elem_id="edit-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="edit-cancel")
    status = gr.Markdown(elem_id="edit-status")
    with gr.Row():
        before = gr.Audio(type="filepath", interactive=False, label="Before", elem_id="edit-before")
    after = result_card(ctx, "edit", 0)

    operation.change(
        lambda op: _OPERATION_HELP[op], operation, help_text, queue=False, api_visibility="private"
    )

    @ui_errors
    def show_region(audio: str | None, run_id: str, op: str, start: float, end: float) -> Any:
        if not audio and not run_id:
            return None
        clip = audio_io.load_conformed(ctx.workbench.source_path(audio, run_id))
        # Only repaint and lego act on a window of the source; extend's new material lies outside it.
        band = (float(start or 0), float(end or 0)) if op in ("repaint", "lego") else None
        return audio_preview(ctx, clip, band if band and band[1] > band[0] else None)

    region_inputs = [src.audio, src.run_id, operation, start_s, end_s]
    for trigger in (src.audio.change, start_s.blur, end_s.blur, operation.change):
        trigger(
            show_region, region_inputs, region, queue=False, api_visibility="private", show_progress="hidden"
        )

    def arm(request: gr.Request) -> str:
        ctx.cancels.arm(session_key(request, TAB_ID))
        return "Queued…"

    @ui_errors
    def ui_edit(
        audio: str | None,
        run_id: str,
        op: str,
        start: float,
        end: float,
        fade: float,
        sd: str,
        ext: float,
        trk: str,
        trks: list[str],
        text: str,
        sd_seed: Any,
        n_steps: Any,
        fmt: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> list[Any]:
        path = ctx.workbench.source_path(audio, run_id)
        common = forms.common_fields(
            {"prompt": text, "seed": sd_seed, "steps": n_steps, "instrumental": True}
        )
        form = {
            "start_s": start,
            "end_s": end,
            "crossfade_ms": fade,
            "side": sd,
            "extend_s": ext,
            "track": trk,
            "tracks": trks,
        }
        req = request_from_dict({"task": op, "src": path, **common, **operation_fields(op, form)})
        run = ctx.workbench.edit(
            req,
            audio_format=forms.check_format(fmt),
            progress=progress_adapter(progress),
            cancel=ctx.cancels.get(session_key(request, TAB_ID)),
        )
        result = run.result
        if not result.ok:
            return [f"**Cancelled** after {result.steps_done} of {result.request.steps} steps."] + [
                gr.skip()
            ] * (1 + len(after.outputs))
        # Repaint/extend: the window the engine regenerated; lego's window is the request's (it is not spliced).
        band = result.edit_window_s
        if op == "lego" and end:
            band = (float(start or 0), float(end))
        return [
            f"**Done:** {op} done in {result.timings.get('total_s', 0):.1f} s",
            path,
            *card_values(
                ctx, result, run.takes[0], label=f"After {op}", region_s=band, extra_summary=run.preservation
            ),
        ]

    inputs = [
        src.audio,
        src.run_id,
        operation,
        start_s,
        end_s,
        crossfade_ms,
        side,
        extend_s,
        track,
        tracks,
        prompt,
        seed,
        steps,
        audio_format,
    ]
    run.click(arm, None, status, queue=False, api_visibility="private").then(
        ui_edit,
        inputs,
        [status, before, *after.outputs],
        concurrency_id=GPU_CONCURRENCY_ID,
        api_visibility="private",
    )

    def do_cancel(request: gr.Request) -> str:
        return "Cancelling…" if ctx.cancels.cancel(session_key(request, TAB_ID)) else "Nothing to cancel."

    cancel.click(do_cancel, None, status, queue=False, api_visibility="private")

    ctx.send.receiver("edit", src.inputs, src.receive, TAB_ID)
    if after.reuse is not None:  # an edit's recipe is not a Generate form; its Send-to buttons stay
        after.reuse.visible = False
