"""Style-transfer tab: re-render a source in a new style; a strength sweep with one seed compares side by side."""

from __future__ import annotations

from typing import Any

# Module level, not inside build(): Gradio resolves gr.Request / gr.SelectData annotations through the
# module globals, and with postponed annotations a local import leaves them unresolvable (never injected).
import gradio as gr

from workbench.ui import forms
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, progress_adapter, session_key, ui_errors
from workbench.ui.results import card_values, result_card, source_picker

TAB_ID = "style"
LABEL = "Style transfer"
NEEDS_MODEL = True
MODES = ("full",)
MAX_RENDERS = 5


def build(ctx: TabContext) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            src = source_picker("style")
            reference = gr.Audio(
                type="filepath",
                sources=["upload"],
                label="Timbre reference (optional)",
                elem_id="style-reference",
            )
        with gr.Column(scale=2):
            prompt = gr.Textbox(
                label="Style prompt",
                lines=3,
                elem_id="style-prompt",
                placeholder="e.g. soft bossa nova, nylon guitar, brushes, warm",
            )
            strength = gr.Slider(
                0,
                1,
                value=0.5,
                step=0.05,
                label="Strength",
                info="1 = follow the source's structure fully, 0 = prompt only",
            )
            strengths = gr.Textbox("0.2, 0.5, 0.8", label="Sweep strengths", elem_id="style-strengths")
            seed, steps, audio_format = forms.seed_steps_format(
                "Seed (empty = random; shared by the sweep)", "style-seed"
            )
    with gr.Row():
        render = gr.Button("Render", variant="primary", elem_id="style-run")
        sweep = gr.Button("Render strength sweep", elem_id="style-sweep")
        cancel = gr.Button("Cancel", variant="stop", elem_id="style-cancel")
    status = gr.Markdown(elem_id="style-status")
    with gr.Row(equal_height=False):
        cards = [result_card(ctx, "style", i) for i in range(MAX_RENDERS)]
    for card in cards:
        if card.reuse is not None:
            card.reuse.visible = False

    def arm(request: gr.Request) -> str:
        ctx.cancels.arm(session_key(request, TAB_ID))
        return "Queued…"

    def run(
        values: list[float],
        audio: str | None,
        run_id: str,
        ref: str | None,
        text: str,
        sd: Any,
        n_steps: Any,
        fmt: str,
        request: Any,
        progress: Any,
    ) -> list[Any]:
        path = ctx.workbench.source_path(audio, run_id)
        common = forms.common_fields({"prompt": text, "seed": sd, "steps": n_steps, "instrumental": True})
        results = ctx.workbench.style_sweep(
            path,
            values,
            common,
            ref,
            forms.check_format(fmt),
            progress_adapter(progress),
            ctx.cancels.get(session_key(request, TAB_ID)),
        )
        head = (
            f"**Done:** {len(results)} render(s), seed {results[0][1].result.request.seed}" if results else ""
        )
        if len(results) < len(values):
            head = f"**Cancelled** after {len(results)} of {len(values)} renders. " + head
        out: list[Any] = [head]
        for i, card in enumerate(cards):
            if i < len(results):
                s, run = results[i]
                out += card_values(ctx, run.result, run.takes[0], label=f"Strength {s:g}")
            else:
                out += card.hidden()
        return out

    inputs = [src.audio, src.run_id, reference, prompt, seed, steps, audio_format]
    outputs = [status] + [c for card in cards for c in card.outputs]

    @ui_errors
    def ui_style_render(
        audio: str | None,
        run_id: str,
        ref: str | None,
        text: str,
        sd: Any,
        n_steps: Any,
        fmt: str,
        value: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> Any:
        return run([float(value)], audio, run_id, ref, text, sd, n_steps, fmt, request, progress)

    @ui_errors
    def ui_style_sweep(
        audio: str | None,
        run_id: str,
        ref: str | None,
        text: str,
        sd: Any,
        n_steps: Any,
        fmt: str,
        values: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> Any:
        return run(
            forms.parse_strengths(values), audio, run_id, ref, text, sd, n_steps, fmt, request, progress
        )

    for button, fn, extra in ((render, ui_style_render, strength), (sweep, ui_style_sweep, strengths)):
        button.click(arm, None, status, queue=False, api_visibility="private").then(
            fn, [*inputs, extra], outputs, concurrency_id=GPU_CONCURRENCY_ID, api_visibility="private"
        )

    def do_cancel(request: gr.Request) -> str:
        return "Cancelling…" if ctx.cancels.cancel(session_key(request, TAB_ID)) else "Nothing to cancel."

    cancel.click(do_cancel, None, status, queue=False, api_visibility="private")
    ctx.send.receiver("style", src.inputs, src.receive, TAB_ID)
