"""Mastering tab: loudness target, true-peak ceiling and fades on any result or upload; numbers before/after."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from workbench.audio.mastering import CEILING_MODES, MasteringSpec
from workbench.core.genres import GenrePreset, load_genres
from workbench.ui import ab_compare, forms
from workbench.ui.context import TabContext, by_name, ui_errors
from workbench.ui.results import SourcePicker, audio_preview, source_picker

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


@dataclass
class MasterComponents:
    src: SourcePicker
    preset: Any
    form: dict[str, Any]  # target_lufs, true_peak_dbtp, fade_in_s, fade_out_s, ceiling_mode, audio_format
    run: Any
    status: Any
    numbers: Any
    before: Any
    after: Any
    wave: Any


def _form() -> dict[str, Any]:
    form: dict[str, Any] = {}
    with gr.Row():
        form["target_lufs"] = gr.Number(
            forms.FIRST_TARGET_LUFS, label="Loudness target (LUFS, empty = keep)", elem_id="master-target"
        )
        form["true_peak_dbtp"] = gr.Number(
            _default("true_peak_dbtp"),
            label="True-peak ceiling (dBTP, empty = none)",
            elem_id="master-ceiling",
        )
    with gr.Row():
        form["fade_in_s"] = gr.Number(_default("fade_in_s"), label="Fade in (s)", minimum=0)
        form["fade_out_s"] = gr.Number(_default("fade_out_s"), label="Fade out (s)", minimum=0)
    form["ceiling_mode"] = gr.Radio(
        list(CEILING_MODES),
        value=_default("ceiling_mode"),
        label="Ceiling by",
        info="limit: look-ahead limiter keeps the loudness; gain: lower the whole track",
    )
    form["audio_format"] = forms.format_choice()
    return form


def _default(name: str) -> Any:
    return forms.default_of(MasteringSpec, name)


def _layout(genres: dict[str, GenrePreset]) -> MasterComponents:
    with gr.Row():
        with gr.Column(scale=3):
            src = source_picker("master")
        with gr.Column(scale=2):
            preset = gr.Dropdown(
                [("— custom —", "")] + [(g.label, k) for k, g in genres.items()],
                value="",
                label="Targets from genre",
            )
            form = _form()
    run = gr.Button("Master", variant="primary", elem_id="master-run")
    status = gr.Markdown(elem_id="master-status")
    numbers = gr.Markdown(elem_id="master-numbers")
    with gr.Row():
        before = gr.Audio(type="filepath", interactive=False, label="Before", elem_id="master-before")
        after = gr.Audio(type="filepath", interactive=False, label="After", elem_id="master-after")
    ab_compare.compare("master-compare", [("master-before", "Before"), ("master-after", "After")])
    wave = gr.Image(label="After (waveform)", interactive=False, type="filepath", height=130)
    return MasterComponents(src, preset, form, run, status, numbers, before, after, wave)


def apply_preset(genres: dict[str, GenrePreset], key: str) -> list[Any]:
    g = genres.get(key)
    return [gr.skip(), gr.skip()] if g is None else [g.loudness_lufs, g.true_peak_dbtp]


def master(ctx: TabContext, values: dict[str, Any]) -> list[Any]:
    run_id = values["run_id"]
    path = ctx.workbench.source_path(values["audio"], run_id)
    spec = MasteringSpec(
        target_lufs=forms.optional_float("target_lufs", values["target_lufs"]),
        true_peak_dbtp=forms.optional_float("true_peak_dbtp", values["true_peak_dbtp"]),
        fade_in_s=float(values["fade_in_s"] or 0.0),
        fade_out_s=float(values["fade_out_s"] or 0.0),
        ceiling_mode=values["ceiling_mode"],
    )
    mastered = ctx.workbench.master(path, spec, run_id or None, forms.check_format(values["audio_format"]))
    result = mastered.result
    where = "recorded in the take's sidecar" if mastered.recorded else "an upload, so nothing was recorded"
    notes = "".join(f"  \nnote: {n}" for n in result.notes)
    return [
        f"**Done:** {result.summary()} — {where}{notes}",
        _table(result.before, result.after),
        path,
        str(mastered.path),
        audio_preview(ctx, result.audio),
    ]


def _wire(ctx: TabContext, c: MasterComponents, genres: dict[str, GenrePreset]) -> None:
    ceiling = [c.form["target_lufs"], c.form["true_peak_dbtp"]]
    c.preset.change(
        functools.partial(apply_preset, genres), c.preset, ceiling, queue=False, api_visibility="private"
    )
    inputs = {"audio": c.src.audio, "run_id": c.src.run_id, **c.form}
    c.run.click(
        ui_errors(by_name(inputs, functools.partial(master, ctx))),
        set(inputs.values()),
        [c.status, c.numbers, c.before, c.after, c.wave],
        concurrency_id="master",
        api_visibility="private",
    )
    ctx.send.receiver("master", c.src.inputs, c.src.receive, TAB_ID)


def build(ctx: TabContext) -> None:
    genres = load_genres()
    _wire(ctx, _layout(genres), genres)
