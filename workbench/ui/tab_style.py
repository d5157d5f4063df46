"""Style-transfer tab: re-render a source in a new style; a strength sweep with one seed compares side by side."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from workbench.engine.requests import StyleTransfer
from workbench.ui import ab_compare, forms
from workbench.ui.context import GpuJob, TabContext
from workbench.ui.results import (
    ResultCard,
    SourcePicker,
    card_values,
    guard_upload,
    result_card,
    source_picker,
)

TAB_ID = "style"
LABEL = "Style transfer"
NEEDS_MODEL = True
MODES = ("full",)
MAX_RENDERS = 5
# The sweep opens on three strengths around the request's default: a weak, a middle and a strong render.
FIRST_SWEEP = "0.2, 0.5, 0.8"


@dataclass
class StyleComponents:
    src: SourcePicker
    form: dict[str, Any]  # reference, prompt, strength, strengths, seed, steps, audio_format
    render: Any
    sweep: Any
    cancel: Any
    status: Any
    cards: list[ResultCard]

    def inputs(self, *extra: str) -> dict[str, Any]:
        """A job's set-inputs: the source, the shared form fields and the button's own strength field."""
        shared = ("reference", "prompt", "seed", "steps", "audio_format")
        return {
            "audio": self.src.audio,
            "run_id": self.src.run_id,
            **{name: self.form[name] for name in (*shared, *extra)},
        }

    @property
    def outputs(self) -> list[Any]:
        return [self.status] + [c for card in self.cards for c in card.outputs]


def _form() -> dict[str, Any]:
    form: dict[str, Any] = {}
    form["prompt"] = gr.Textbox(
        label="Style prompt",
        lines=3,
        elem_id="style-prompt",
        placeholder="e.g. soft bossa nova, nylon guitar, brushes, warm",
    )
    form["strength"] = gr.Slider(
        0,
        1,
        value=forms.default_of(StyleTransfer, "strength"),
        step=0.05,
        label="Strength",
        info="1 = follow the source's structure fully, 0 = prompt only",
    )
    form["strengths"] = gr.Textbox(FIRST_SWEEP, label="Sweep strengths", elem_id="style-strengths")
    form["seed"], form["steps"], form["audio_format"] = forms.seed_steps_format(
        "Seed (empty = random; shared by the sweep)", "style-seed"
    )
    return form


def _layout(ctx: TabContext) -> StyleComponents:
    with gr.Row():
        with gr.Column(scale=3):
            src = source_picker("style")
            reference = gr.Audio(
                type="filepath",
                sources=["upload"],
                label="Timbre reference (optional)",
                elem_id="style-reference",
            )
            guard_upload(reference)
        with gr.Column(scale=2):
            form = {"reference": reference, **_form()}
    with gr.Row():
        render = gr.Button("Render", variant="primary", elem_id="style-run")
        sweep = gr.Button("Render strength sweep", elem_id="style-sweep")
        cancel = gr.Button("Cancel", variant="stop", elem_id="style-cancel")
    status = gr.Markdown(elem_id="style-status")
    with gr.Row(equal_height=False):
        cards = [result_card(ctx, "style", i) for i in range(MAX_RENDERS)]
    takes = [(f"style-audio-{i}", f"Render {i + 1}") for i in range(MAX_RENDERS)]
    ab_compare.compare("style-compare", [("style-source", "Source"), *takes])
    for card in cards:
        if card.reuse is not None:
            card.reuse.visible = False
    return StyleComponents(src, form, render, sweep, cancel, status, cards)


def render(
    ctx: TabContext, values: dict[str, Any], job: GpuJob, *, strengths: list[float], cards: list[ResultCard]
) -> list[Any]:
    """One render per strength, all with the same seed; the cards show them side by side."""
    path = ctx.workbench.source_path(values["audio"], values["run_id"])
    common = forms.common_fields(
        {"prompt": values["prompt"], "seed": values["seed"], "steps": values["steps"], "instrumental": True}
    )
    fmt = forms.check_format(values["audio_format"])
    results = ctx.workbench.style_sweep(
        path, strengths, common, values["reference"], fmt, job.progress, job.cancel
    )
    head = f"**Done:** {len(results)} render(s), seed {results[0][1].result.request.seed}" if results else ""
    if len(results) < len(strengths):
        head = f"**Cancelled** after {len(results)} of {len(strengths)} renders. " + head
    out: list[Any] = [head]
    for i, card in enumerate(cards):
        if i < len(results):
            strength, run = results[i]
            out += card_values(ctx, run.result, run.takes[0], label=f"Strength {strength:g}")
        else:
            out += card.hidden()
    return out


def render_one(ctx: TabContext, values: dict[str, Any], job: GpuJob, *, cards: list[ResultCard]) -> list[Any]:
    return render(ctx, values, job, strengths=[float(values["strength"])], cards=cards)


def render_sweep(
    ctx: TabContext, values: dict[str, Any], job: GpuJob, *, cards: list[ResultCard]
) -> list[Any]:
    return render(ctx, values, job, strengths=forms.parse_strengths(values["strengths"]), cards=cards)


def _wire(ctx: TabContext, c: StyleComponents) -> None:
    for button, fn, field in ((c.render, render_one, "strength"), (c.sweep, render_sweep, "strengths")):
        handler = functools.partial(fn, cards=c.cards)
        ctx.gpu_action(TAB_ID, button, c.cancel, handler, c.inputs(field), c.outputs, status=c.status)
    ctx.send.receiver("style", c.src.inputs, c.src.receive, TAB_ID)


def build(ctx: TabContext) -> None:
    _wire(ctx, _layout(ctx))
