"""Mastering tab: loudness target, true-peak ceiling and fades on any result or upload; numbers before/after."""

from __future__ import annotations

from typing import Any

from workbench.audio.mastering import CEILING_MODES, MasteringSpec
from workbench.core.genres import load_genres
from workbench.ui import forms
from workbench.ui.context import TabContext, ui_errors
from workbench.ui.results import audio_preview, source_picker

TAB_ID = "master"
LABEL = "Mastering"
NEEDS_MODEL = False
MODES = ("full",)


def _table(before: dict[str, Any], after: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        return "silent" if v is None else f"{v:.2f}"

    rows = [
        ("Integrated loudness (LUFS)", "integrated_lufs"),
        ("True peak (dBTP, 4x)", "true_peak_dbtp"),
        ("Sample peak (dBFS)", "sample_peak_dbfs"),
    ]
    lines = ["| | before | after |", "|---|---|---|"]
    lines += [f"| {label} | {fmt(before[key])} | {fmt(after[key])} |" for label, key in rows]
    return "\n".join(lines)


def build(ctx: TabContext) -> None:
    import gradio as gr

    genres = load_genres()
    with gr.Row():
        with gr.Column(scale=3):
            src = source_picker("master")
        with gr.Column(scale=2):
            preset = gr.Dropdown(
                [("— custom —", "")] + [(g.label, k) for k, g in genres.items()],
                value="",
                label="Targets from genre",
            )
            with gr.Row():
                target = gr.Number(
                    -18.0, label="Loudness target (LUFS, empty = keep)", elem_id="master-target"
                )
                ceiling = gr.Number(
                    -1.0, label="True-peak ceiling (dBTP, empty = none)", elem_id="master-ceiling"
                )
            with gr.Row():
                fade_in = gr.Number(0.0, label="Fade in (s)", minimum=0)
                fade_out = gr.Number(0.0, label="Fade out (s)", minimum=0)
            mode = gr.Radio(
                list(CEILING_MODES),
                value="limit",
                label="Ceiling by",
                info="limit: look-ahead limiter keeps the loudness; gain: lower the whole track",
            )
            audio_format = forms.format_choice()
    run = gr.Button("Master", variant="primary", elem_id="master-run")
    status = gr.Markdown(elem_id="master-status")
    numbers = gr.Markdown(elem_id="master-numbers")
    with gr.Row():
        before = gr.Audio(type="filepath", interactive=False, label="Before", elem_id="master-before")
        after = gr.Audio(type="filepath", interactive=False, label="After", elem_id="master-after")
    wave = gr.Image(label="After (waveform)", interactive=False, type="filepath", height=130)

    def apply_preset(key: str) -> list[Any]:
        g = genres.get(key)
        return [gr.skip(), gr.skip()] if g is None else [g.loudness_lufs, g.true_peak_dbtp]

    preset.change(apply_preset, preset, [target, ceiling], queue=False, api_visibility="private")

    @ui_errors
    def ui_master(
        audio: str | None, run_id: str, lufs: Any, tp: Any, fin: Any, fout: Any, how: str, fmt: str
    ) -> list[Any]:
        path = ctx.workbench.source_path(audio, run_id)
        spec = MasteringSpec(
            target_lufs=forms.optional_float("target_lufs", lufs),
            true_peak_dbtp=forms.optional_float("true_peak_dbtp", tp),
            fade_in_s=float(fin or 0.0),
            fade_out_s=float(fout or 0.0),
            ceiling_mode=how,
        )
        mastered = ctx.workbench.master(path, spec, run_id or None, forms.check_format(fmt))
        result = mastered.result
        where = (
            "recorded in the take's sidecar" if mastered.recorded else "an upload, so nothing was recorded"
        )
        notes = "".join(f"  \nnote: {n}" for n in result.notes)
        return [
            f"**Done:** {result.summary()} — {where}{notes}",
            _table(result.before, result.after),
            path,
            str(mastered.path),
            audio_preview(ctx, result.audio),
        ]

    run.click(
        ui_master,
        [src.audio, src.run_id, target, ceiling, fade_in, fade_out, mode, audio_format],
        [status, numbers, before, after, wave],
        concurrency_id="master",
        api_visibility="private",
    )
    ctx.send.receiver("master", src.inputs, src.receive, TAB_ID)
