"""Named API endpoints (``gradio_client``): generate, repaint, extend, style_transfer, stems, master.

They sit on hidden components so each endpoint has a small, stable, keyword-friendly signature instead of the
UI's dozens of positional inputs (the schema drift that breaks third-party ACE-Step clients). Audio goes in as an
upload (``gradio_client.handle_file``) or as the run id of a recorded result - never as a server path, and Gradio
refuses FileData paths that were not uploaded. Each returns output files plus a JSON description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.audio.mastering import MasteringSpec
from workbench.engine.requests import Text2Music, request_from_dict
from workbench.services import RecordedRun
from workbench.ui import forms
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, ui_errors


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


def _files(run: RecordedRun) -> list[str]:
    return [t.path for t in run.takes]


def build(ctx: TabContext) -> None:
    import gradio as gr

    def source(audio: str | None, run_id: str | None) -> str:
        return ctx.workbench.source_path(audio, run_id)

    @ui_errors
    def generate(
        prompt: str = "",
        lyrics: str = "",
        instrumental: bool = True,
        duration_s: float = 30.0,
        bpm: float | None = None,
        keyscale: str = forms.AUTO,
        time_signature: str = forms.AUTO,
        steps: float | None = None,
        guidance_scale: float | None = None,
        shift: float | None = None,
        seed: float | None = None,
        batch_size: float = 1,
        genre: str = "",
        lora: str = "",
        lora_scale: float = 1.0,
        output_format: str = "wav",
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
            duration_s=float(duration_s),
            batch_size=forms.optional_int("batch_size", batch_size) or 1,
            lora=forms.lora_from_name(ctx.loras_dir, lora or None, lora_scale),
        )
        run = ctx.workbench.generate(request, audio_format=forms.check_format(output_format))
        return _files(run), _describe(run)

    def window_edit(
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
        src = source(audio, run_id)
        request = request_from_dict({"task": task, "src": src, **params, **_common(prompt, seed, steps)})
        run = ctx.workbench.edit(request, audio_format=forms.check_format(output_format))
        return _files(run), _describe(run, preservation=run.preservation)

    @ui_errors
    def repaint(
        audio: str | None = None,
        run_id: str = "",
        start_s: float = 0.0,
        end_s: float = 1.0,
        prompt: str = "",
        crossfade_ms: float = 50.0,
        seed: float | None = None,
        steps: float | None = None,
        output_format: str = "wav",
    ) -> tuple[list[str], dict[str, Any]]:
        params = {"start_s": start_s, "end_s": end_s, "crossfade_ms": crossfade_ms}
        return window_edit("repaint", audio, run_id, params, prompt, seed, steps, output_format)

    @ui_errors
    def extend(
        audio: str | None = None,
        run_id: str = "",
        side: str = "right",
        extend_s: float = 10.0,
        prompt: str = "",
        crossfade_ms: float = 50.0,
        seed: float | None = None,
        steps: float | None = None,
        output_format: str = "wav",
    ) -> tuple[list[str], dict[str, Any]]:
        params = {"side": side, "extend_s": extend_s, "crossfade_ms": crossfade_ms}
        return window_edit("extend", audio, run_id, params, prompt, seed, steps, output_format)

    @ui_errors
    def style_transfer(
        audio: str | None = None,
        run_id: str = "",
        prompt: str = "",
        strengths: str = "0.5",
        reference: str | None = None,
        seed: float | None = None,
        steps: float | None = None,
        output_format: str = "wav",
    ) -> tuple[list[str], dict[str, Any]]:
        src = source(audio, run_id)
        sweep = ctx.workbench.style_sweep(
            src,
            forms.parse_strengths(strengths),
            _common(prompt, seed, steps),
            reference,
            forms.check_format(output_format),
        )
        files = [f for _s, r in sweep for f in _files(r)]
        return files, {"renders": [_describe(r, strength=s) for s, r in sweep]}

    @ui_errors
    def stems(audio: str | None = None, run_id: str = "") -> tuple[list[str], dict[str, Any]]:
        src = source(audio, run_id)
        out = ctx.workbench.stems(ctx.separator(), src, run_id or None)
        return [*map(str, out.paths.values()), str(out.archive)], {
            "stems": {k: Path(v).name for k, v in out.paths.items()},
            "zip": out.archive.name,
            "model": ctx.settings.demucs_model,
        }

    @ui_errors
    def master(
        audio: str | None = None,
        run_id: str = "",
        target_lufs: float | None = -18.0,
        true_peak_dbtp: float | None = -1.0,
        fade_in_s: float = 0.0,
        fade_out_s: float = 0.0,
        output_format: str = "wav",
    ) -> tuple[str, dict[str, Any]]:
        src = source(audio, run_id)
        spec = MasteringSpec(
            target_lufs=forms.optional_float("target_lufs", target_lufs),
            true_peak_dbtp=forms.optional_float("true_peak_dbtp", true_peak_dbtp),
            fade_in_s=float(fade_in_s or 0.0),
            fade_out_s=float(fade_out_s or 0.0),
        )
        mastered = ctx.workbench.master(src, spec, run_id or None, forms.check_format(output_format))
        return str(mastered.path), {**mastered.result.to_dict(), "recorded_in_sidecar": mastered.recorded}

    def text(name: str, value: str = "") -> Any:
        return gr.Textbox(value, label=name)

    def number(name: str, value: float | None = None) -> Any:
        return gr.Number(value, label=name)

    def upload(name: str) -> Any:
        return gr.File(label=name, type="filepath", file_types=["audio"])

    endpoints: list[tuple[Any, list[Any], list[Any], str]] = []
    with gr.Column(visible=False):
        files_out = gr.File(file_count="multiple", label="files")
        info_out = gr.JSON(label="info")
        endpoints += [
            (
                generate,
                [
                    text("prompt"),
                    text("lyrics"),
                    gr.Checkbox(True, label="instrumental"),
                    number("duration_s", 30),
                    number("bpm"),
                    text("keyscale", forms.AUTO),
                    text("time_signature", forms.AUTO),
                    number("steps"),
                    number("guidance_scale"),
                    number("shift"),
                    number("seed"),
                    number("batch_size", 1),
                    text("genre"),
                    text("lora"),
                    number("lora_scale", 1.0),
                    text("output_format", "wav"),
                ],
                [files_out, info_out],
                "generate",
            ),
            (
                repaint,
                [
                    upload("audio"),
                    text("run_id"),
                    number("start_s", 0),
                    number("end_s", 1),
                    text("prompt"),
                    number("crossfade_ms", 50),
                    number("seed"),
                    number("steps"),
                    text("output_format", "wav"),
                ],
                [files_out, info_out],
                "repaint",
            ),
            (
                extend,
                [
                    upload("audio"),
                    text("run_id"),
                    text("side", "right"),
                    number("extend_s", 10),
                    text("prompt"),
                    number("crossfade_ms", 50),
                    number("seed"),
                    number("steps"),
                    text("output_format", "wav"),
                ],
                [files_out, info_out],
                "extend",
            ),
            (
                style_transfer,
                [
                    upload("audio"),
                    text("run_id"),
                    text("prompt"),
                    text("strengths", "0.5"),
                    upload("reference"),
                    number("seed"),
                    number("steps"),
                    text("output_format", "wav"),
                ],
                [files_out, info_out],
                "style_transfer",
            ),
            (stems, [upload("audio"), text("run_id")], [files_out, info_out], "stems"),
            (
                master,
                [
                    upload("audio"),
                    text("run_id"),
                    number("target_lufs", -18.0),
                    number("true_peak_dbtp", -1.0),
                    number("fade_in_s", 0.0),
                    number("fade_out_s", 0.0),
                    text("output_format", "wav"),
                ],
                [gr.File(label="file"), info_out],
                "master",
            ),
        ]
        trigger = gr.Button("api", visible=False)
    for fn, inputs, outputs, name in endpoints:
        trigger.click(fn, inputs, outputs, api_name=name, concurrency_id=GPU_CONCURRENCY_ID)
