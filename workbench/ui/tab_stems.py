"""Stems tab: demucs separation of any result or upload into drums, bass, other and vocals, plus a zip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.audio.stems import STEM_NAMES
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, ui_errors
from workbench.ui.results import source_picker

TAB_ID = "stems"
LABEL = "Stems"
NEEDS_MODEL = False
MODES = ("full",)


def build(ctx: TabContext) -> None:
    import gradio as gr

    gr.Markdown(
        f"Separates with demucs **{ctx.settings.demucs_model}** "
        + (
            f"from `{ctx.settings.demucs_repo}`."
            if ctx.settings.demucs_repo
            else "from the usual model caches."
        )
    )
    src = source_picker("stems")
    run = gr.Button("Separate", variant="primary", elem_id="stems-run")
    status = gr.Markdown(elem_id="stems-status")
    with gr.Row():
        players = [
            gr.Audio(type="filepath", interactive=False, label=name, elem_id=f"stems-{name}")
            for name in STEM_NAMES
        ]
    archive = gr.File(label="All stems (zip)", interactive=False, elem_id="stems-zip")

    @ui_errors
    def ui_separate(audio: str | None, run_id: str) -> list[Any]:
        path = ctx.workbench.source_path(audio, run_id)
        out = ctx.workbench.stems(ctx.separator(), path, run_id or None)
        return [
            f"**Done:** {len(out.paths)} stems from {Path(path).name}",
            *[str(out.paths.get(name)) if name in out.paths else None for name in STEM_NAMES],
            str(out.archive),
        ]

    run.click(
        ui_separate,
        src.inputs,
        [status, *players, archive],
        concurrency_id=GPU_CONCURRENCY_ID,
        api_visibility="private",
    )
    ctx.send.receiver("stems", src.inputs, src.receive, TAB_ID)
