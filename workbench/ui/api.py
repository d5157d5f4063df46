"""Named API endpoints (``gradio_client``): generate, repaint, extend, style_transfer, stems, master.

They sit on hidden components so each endpoint has a small, stable, keyword-friendly signature instead of the
UI's dozens of positional inputs (the schema drift that breaks third-party ACE-Step clients). The components are
generated from each endpoint function's signature (names, types, defaults), so an endpoint is declared once.
Audio goes in as an upload (``gradio_client.handle_file``) or as the run id of a recorded result - never as a
server path, and Gradio refuses FileData paths that were not uploaded. Each returns output files plus a JSON
description.
"""

from __future__ import annotations

import functools
import inspect
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, NewType

import gradio as gr

from workbench.audio.mastering import MasteringSpec
from workbench.engine.requests import (
    DEFAULT_CROSSFADE_MS,
    DEFAULT_DURATION_S,
    Extend,
    LoraRef,
    Repaint,
    StyleTransfer,
    Text2Music,
    request_from_dict,
)
from workbench.services import RecordedRun
from workbench.ui import forms
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, ui_errors

# An endpoint parameter annotated Upload is an audio file the client uploads (gradio_client.handle_file).
Upload = NewType("Upload", str)


def _describe(run: RecordedRun, **extra: Any) -> dict[str, Any]:
    result = run.result
    return {
        "status": result.status,
        "batch_id": result.batch_id,
        "request": result.request.to_dict(),
        "takes": [
            {
                "run_id": t.run_id,
                "seed": t.take.seed,
                "duration_s": round(t.take.audio.duration_s, 3),
                "sidecar": json.loads(Path(t.sidecar).read_text()),
            }
            for t in run.takes
        ],
        "timings": result.timings,
        "notes": result.notes,
        **extra,
    }


def _common(prompt: str, seed: Any, steps: Any) -> dict[str, Any]:
    return forms.common_fields({"prompt": prompt, "seed": seed, "steps": steps, "instrumental": True})


def _number_or(field: str, value: Any, default: float) -> float:
    """API callers send any JSON: a list or object must get the field's own message, not a TypeError."""
    number = forms.optional_float(field, value)
    return default if number is None else number


def _files(run: RecordedRun) -> list[str]:
    return [t.path for t in run.takes]


def _value_type(annotation: Any) -> Any:
    """``X | None`` -> X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(kinds) == 1:
            return kinds[0]
    return annotation


def _component(param: inspect.Parameter) -> gr.components.Component:
    """The hidden input for one endpoint parameter: its name is the label, its default the value."""
    kind, name, default = _value_type(param.annotation), param.name, param.default
    if default is inspect.Parameter.empty:
        raise TypeError(f"endpoint parameter {name} needs a default (every API input is optional)")
    if kind is Upload:
        return gr.File(label=name, type="filepath", file_types=["audio"])
    if kind is bool:
        return gr.Checkbox(default, label=name)
    if kind in (int, float):
        return gr.Number(default, label=name)
    if kind is str:
        return gr.Textbox(default, label=name)
    raise TypeError(f"endpoint parameter {name}: no API component for {param.annotation!r}")


def inputs_for(fn: Callable[..., Any]) -> list[gr.components.Component]:
    """One hidden component per parameter of ``fn``, in order: the endpoint's schema is its signature."""
    return [_component(p) for p in inspect.signature(fn, eval_str=True).parameters.values()]


def generate(
    ctx: TabContext,
    prompt: str = "",
    lyrics: str = "",
    instrumental: bool = forms.INSTRUMENTAL_FIRST,
    duration_s: float = DEFAULT_DURATION_S,
    bpm: float | None = None,
    keyscale: str = forms.AUTO,
    time_signature: str = forms.AUTO,
    steps: float | None = None,
    guidance_scale: float | None = None,
    shift: float | None = None,
    seed: float | None = None,
    batch_size: float = forms.default_of(Text2Music, "batch_size"),
    genre: str = "",
    lora: str = "",
    lora_scale: float = forms.default_of(LoraRef, "scale"),
    output_format: str = forms.DEFAULT_FORMAT,
) -> tuple[list[str], dict[str, Any]]:
    values = dict(
        prompt=prompt,
        lyrics=lyrics,
        instrumental=instrumental,
        bpm=bpm,
        keyscale=keyscale,
        time_signature=time_signature,
        steps=steps,
        guidance_scale=guidance_scale,
        shift=shift,
        seed=seed,
        genre=genre,
    )
    request = Text2Music(
        **forms.common_fields(values),
        duration_s=_number_or("duration_s", duration_s, DEFAULT_DURATION_S),
        batch_size=forms.optional_int("batch_size", batch_size) or 1,
        lora=forms.lora_from_name(ctx.loras_dir, lora or None, lora_scale),
    )
    run = ctx.workbench.generate(request, audio_format=forms.check_format(output_format))
    return _files(run), _describe(run)


def window_edit(
    ctx: TabContext,
    task: str,
    audio: str | None,
    run_id: str,
    params: dict[str, Any],
    prompt: str,
    seed: float | None,
    steps: float | None,
    output_format: str,
) -> tuple[list[str], dict[str, Any]]:
    """Repaint and extend: run, then report how much of the source outside the window was preserved."""
    src = ctx.workbench.source_path(audio, run_id)
    request = request_from_dict({"task": task, "src": src, **params, **_common(prompt, seed, steps)})
    run = ctx.workbench.edit(request, audio_format=forms.check_format(output_format))
    return _files(run), _describe(run, preservation=run.preservation)


def repaint(
    ctx: TabContext,
    audio: Upload | None = None,
    run_id: str = "",
    start_s: float = forms.default_of(Repaint, "start_s"),
    end_s: float = forms.FIRST_REPAINT_END_S,
    prompt: str = "",
    crossfade_ms: float = DEFAULT_CROSSFADE_MS,
    seed: float | None = None,
    steps: float | None = None,
    output_format: str = forms.DEFAULT_FORMAT,
) -> tuple[list[str], dict[str, Any]]:
    params = {"start_s": start_s, "end_s": end_s, "crossfade_ms": crossfade_ms}
    return window_edit(ctx, "repaint", audio, run_id, params, prompt, seed, steps, output_format)


def extend(
    ctx: TabContext,
    audio: Upload | None = None,
    run_id: str = "",
    side: str = forms.default_of(Extend, "side"),
    extend_s: float = forms.default_of(Extend, "extend_s"),
    prompt: str = "",
    crossfade_ms: float = DEFAULT_CROSSFADE_MS,
    seed: float | None = None,
    steps: float | None = None,
    output_format: str = forms.DEFAULT_FORMAT,
) -> tuple[list[str], dict[str, Any]]:
    params = {"side": side, "extend_s": extend_s, "crossfade_ms": crossfade_ms}
    return window_edit(ctx, "extend", audio, run_id, params, prompt, seed, steps, output_format)


def style_transfer(
    ctx: TabContext,
    audio: Upload | None = None,
    run_id: str = "",
    prompt: str = "",
    strengths: str = f"{forms.default_of(StyleTransfer, 'strength'):g}",
    reference: Upload | None = None,
    seed: float | None = None,
    steps: float | None = None,
    output_format: str = forms.DEFAULT_FORMAT,
) -> tuple[list[str], dict[str, Any]]:
    src = ctx.workbench.source_path(audio, run_id)
    sweep = ctx.workbench.style_sweep(
        src,
        forms.parse_strengths(strengths),
        _common(prompt, seed, steps),
        reference,
        forms.check_format(output_format),
    )
    files = [f for _s, r in sweep for f in _files(r)]
    return files, {"renders": [_describe(r, strength=s) for s, r in sweep]}


def stems(ctx: TabContext, audio: Upload | None = None, run_id: str = "") -> tuple[list[str], dict[str, Any]]:
    src = ctx.workbench.source_path(audio, run_id)
    out = ctx.workbench.stems(ctx.separator(), src, run_id or None)
    return [*map(str, out.paths.values()), str(out.archive)], {
        "stems": {k: Path(v).name for k, v in out.paths.items()},
        "zip": out.archive.name,
        "model": ctx.settings.demucs_model,
    }


def master(
    ctx: TabContext,
    audio: Upload | None = None,
    run_id: str = "",
    target_lufs: float | None = forms.FIRST_TARGET_LUFS,
    true_peak_dbtp: float | None = forms.default_of(MasteringSpec, "true_peak_dbtp"),
    fade_in_s: float = forms.default_of(MasteringSpec, "fade_in_s"),
    fade_out_s: float = forms.default_of(MasteringSpec, "fade_out_s"),
    output_format: str = forms.DEFAULT_FORMAT,
) -> tuple[str, dict[str, Any]]:
    src = ctx.workbench.source_path(audio, run_id)
    spec = MasteringSpec(
        target_lufs=forms.optional_float("target_lufs", target_lufs),
        true_peak_dbtp=forms.optional_float("true_peak_dbtp", true_peak_dbtp),
        fade_in_s=_number_or("fade_in_s", fade_in_s, 0.0),
        fade_out_s=_number_or("fade_out_s", fade_out_s, 0.0),
    )
    mastered = ctx.workbench.master(src, spec, run_id or None, forms.check_format(output_format))
    return str(mastered.path), {**mastered.result.to_dict(), "recorded_in_sidecar": mastered.recorded}


ENDPOINTS = (generate, repaint, extend, style_transfer, stems, master)


def bind(ctx: TabContext, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(ctx, ...)`` as an endpoint: its signature without ``ctx`` (the schema), errors made readable."""
    signature = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    def endpoint(*args: Any, **kwargs: Any) -> Any:
        return fn(ctx, *args, **kwargs)

    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return ui_errors(endpoint)


def build(ctx: TabContext) -> None:
    with gr.Column(visible=False):
        files_out = gr.File(file_count="multiple", label="files")
        info_out = gr.JSON(label="info")
        file_out = gr.File(label="file")
        trigger = gr.Button("api", visible=False)
        for fn in ENDPOINTS:
            endpoint = bind(ctx, fn)
            trigger.click(
                endpoint,
                inputs_for(endpoint),
                [file_out if fn is master else files_out, info_out],
                api_name=fn.__name__,
                concurrency_id=GPU_CONCURRENCY_ID,
            )
