"""Edit tab: repaint a region, extend left/right, add a track (lego), extract a stem, complete an arrangement."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from workbench.core.errors import InputError
from workbench.engine.requests import (
    DEFAULT_CROSSFADE_MS,
    TRACK_NAMES,
    Complete,
    Extend,
    Lego,
    Repaint,
    request_from_dict,
)
from workbench.ui import ab_compare, forms, waveform
from workbench.ui.context import GpuJob, TabContext
from workbench.ui.results import (
    ResultCard,
    SourcePicker,
    card_values,
    result_card,
    source_picker,
)

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
# The form opens on a short extension, a quick first try on any source (the API keeps Extend's default).
FIRST_EXTEND_S = 5.0
# The form's inputs besides the source, named like the request fields they fill.
FORM_FIELDS = (
    "operation",
    "start_s",
    "end_s",
    "crossfade_ms",
    "side",
    "extend_s",
    "track",
    "tracks",
    "prompt",
    "seed",
    "steps",
    "audio_format",
)


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


@dataclass
class EditComponents:
    src: SourcePicker
    region: Any
    help_text: Any
    form: dict[str, Any]  # FORM_FIELDS -> component
    run: Any
    cancel: Any
    status: Any
    before: Any
    after: ResultCard

    @property
    def inputs(self) -> dict[str, Any]:
        """The job's set-inputs: the source and the form."""
        return {"audio": self.src.audio, "run_id": self.src.run_id, **self.form}


def _window_rows() -> dict[str, Any]:
    form: dict[str, Any] = {}
    with gr.Row():
        form["start_s"] = gr.Number(
            forms.default_of(Repaint, "start_s"), label="Start (s)", elem_id="edit-start"
        )
        form["end_s"] = gr.Number(forms.FIRST_REPAINT_END_S, label="End (s)", elem_id="edit-end")
        form["crossfade_ms"] = gr.Number(DEFAULT_CROSSFADE_MS, label="Crossfade (ms)")
    with gr.Row():
        form["side"] = gr.Radio(
            ["left", "right"],
            value=forms.default_of(Extend, "side"),
            label="Extend side",
            elem_id="edit-side",
        )
        form["extend_s"] = gr.Number(FIRST_EXTEND_S, label="Extend by (s)", elem_id="edit-extend-s")
    with gr.Row():
        form["track"] = gr.Dropdown(
            list(TRACK_NAMES), value=forms.default_of(Lego, "track"), label="Track (lego / extract)"
        )
        form["tracks"] = gr.Dropdown(
            list(TRACK_NAMES),
            value=list(forms.default_of(Complete, "tracks")),
            multiselect=True,
            label="Tracks (complete)",
        )
    form["prompt"] = gr.Textbox(label="Caption for the new material", lines=2, elem_id="edit-prompt")
    form["seed"], form["steps"], form["audio_format"] = forms.seed_steps_format(
        "Seed (empty = random)", "edit-seed"
    )
    return form


def _layout(ctx: TabContext) -> EditComponents:
    with gr.Row():
        with gr.Column(scale=3):
            src = source_picker("edit")
            region = waveform.waveform(
                "edit-wave",
                source="edit-source",
                start="edit-start",
                end="edit-end",
                operation="edit-operation",
            )
        with gr.Column(scale=2):
            operation = gr.Radio(
                list(EDIT_OPERATIONS), value="repaint", label="Operation", elem_id="edit-operation"
            )
            help_text = gr.Markdown(_OPERATION_HELP["repaint"])
            form = {"operation": operation, **_window_rows()}
    with gr.Row():
        run = gr.Button("Run edit", variant="primary", elem_id="edit-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="edit-cancel")
    status = gr.Markdown(elem_id="edit-status")
    with gr.Row():
        before = gr.Audio(type="filepath", interactive=False, label="Before", elem_id="edit-before")
    after = result_card(ctx, "edit", 0)
    ab_compare.compare("edit-compare", [("edit-before", "Before"), ("edit-audio-0", "After")])
    return EditComponents(src, region, help_text, form, run, cancel, status, before, after)


def edit_request(path: str, values: dict[str, Any]) -> Any:
    op = values["operation"]
    common = forms.common_fields(
        {"prompt": values["prompt"], "seed": values["seed"], "steps": values["steps"], "instrumental": True}
    )
    return request_from_dict({"task": op, "src": path, **common, **operation_fields(op, values)})


def run_edit(ctx: TabContext, values: dict[str, Any], job: GpuJob, *, after: ResultCard) -> list[Any]:
    op = values["operation"]
    path = ctx.workbench.source_path(values["audio"], values["run_id"])
    fmt = forms.check_format(values["audio_format"])
    run = ctx.workbench.edit(edit_request(path, values), audio_format=fmt, **job.hooks)
    result = run.result
    if not result.ok:
        return [f"**Cancelled** after {result.steps_done} of {result.request.steps} steps."] + [gr.skip()] * (
            1 + len(after.outputs)
        )
    # Repaint/extend: the window the engine regenerated; lego's window is the request's (it is not spliced).
    band = result.edit_window_s
    if op == "lego" and values["end_s"]:
        band = (float(values["start_s"] or 0), float(values["end_s"]))
    return [
        f"**Done:** {op} done in {result.timings.get('total_s', 0):.1f} s",
        path,
        *card_values(
            ctx, result, run.takes[0], label=f"After {op}", region_s=band, extra_summary=run.preservation
        ),
    ]


def _wire(ctx: TabContext, c: EditComponents) -> None:
    operation = c.form["operation"]
    operation.change(
        lambda op: _OPERATION_HELP[op], operation, c.help_text, queue=False, api_visibility="private"
    )
    edit = functools.partial(run_edit, after=c.after)
    ctx.gpu_action(
        TAB_ID, c.run, c.cancel, edit, c.inputs, [c.status, c.before, *c.after.outputs], status=c.status
    )
    ctx.send.receiver("edit", c.src.inputs, c.src.receive, TAB_ID)
    if c.after.reuse is not None:  # an edit's recipe is not a Generate form; its Send-to buttons stay
        c.after.reuse.visible = False


def build(ctx: TabContext) -> None:
    _wire(ctx, _layout(ctx))
