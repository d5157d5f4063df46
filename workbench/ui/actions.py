"""The work behind the Edit, Style-transfer, Stems and Mastering tabs and their API endpoints, without Gradio."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.audio import mastering
from workbench.audio.stems import StemSeparator, write_stems
from workbench.core import audio_io
from workbench.core.errors import InputError
from workbench.engine.engine import Progress, RunResult
from workbench.engine.requests import (
    Complete,
    Extend,
    Extract,
    GenerationRequest,
    Lego,
    Repaint,
    StyleTransfer,
)
from workbench.ui.context import TabContext

EDIT_OPERATIONS = ("repaint", "extend", "lego", "extract", "complete")


def edit_request(op: str, src: str, values: dict[str, Any], common: dict[str, Any]) -> GenerationRequest:
    """Build the request for one Edit operation; ``values`` holds the operation's own fields."""
    if op == "repaint":
        return Repaint(
            **common,
            src=src,
            start_s=float(values["start_s"]),
            end_s=float(values["end_s"]),
            crossfade_ms=float(values.get("crossfade_ms", 50.0)),
        )
    if op == "extend":
        return Extend(
            **common,
            src=src,
            side=str(values["side"]),
            extend_s=float(values["extend_s"]),
            crossfade_ms=float(values.get("crossfade_ms", 50.0)),
        )
    if op == "lego":
        end = values.get("end_s")
        return Lego(
            **common,
            src=src,
            track=str(values["track"]),
            start_s=float(values.get("start_s") or 0.0),
            end_s=float(end) if end else None,
        )
    if op == "extract":
        return Extract(**common, src=src, track=str(values["track"]))
    if op == "complete":
        tracks = tuple(values.get("tracks") or ())
        return Complete(**common, src=src, tracks=tracks)
    raise InputError("operation", op, f"choose one of {', '.join(EDIT_OPERATIONS)}")


def preservation_report(request: GenerationRequest, source_path: str, result: RunResult) -> str:
    """Check the engine's guarantee on this very result: samples outside the edited window equal the source."""
    if not isinstance(request, (Repaint, Extend)) or not result.takes:
        return ""
    source = audio_io.load_conformed(source_path).samples
    out = result.takes[0].audio.samples
    rate = audio_io.SAMPLE_RATE
    fade = int(round(request.crossfade_ms / 1000.0 * rate))
    if isinstance(request, Repaint):
        start, end = int(round(request.start_s * rate)), int(round(request.end_s * rate))
        keep = np.ones(source.shape[1], dtype=bool)
        keep[max(0, start - fade) : min(source.shape[1], end + fade)] = False
        same = bool(np.array_equal(out[:, keep], source[:, keep]))
        kept_s = keep.sum() / rate
    else:
        new = int(round(request.extend_s * rate))
        if request.side == "right":
            region_out, region_src = out[:, : source.shape[1] - fade], source[:, : source.shape[1] - fade]
        else:
            region_out, region_src = out[:, new + fade :], source[:, fade:]
        same = bool(np.array_equal(region_out, region_src))
        kept_s = region_src.shape[1] / rate
    return f"Preservation: {kept_s:.2f} s outside the edit are " + (
        "**bit-identical** to the source" if same else "**NOT identical** to the source (please report this)"
    )


def style_sweep(
    ctx: TabContext,
    src: str,
    strengths: list[float],
    common: dict[str, Any],
    reference: str | None,
    audio_format: str,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[tuple[float, RunResult]]:
    """One render per strength with the same seed, so only the strength differs between them."""
    if common.get("seed") is None:
        import secrets

        common = {**common, "seed": secrets.randbelow(2**31)}
    results = []
    for strength in strengths:
        request = StyleTransfer(**common, src=src, strength=strength, reference=reference or None)
        result = ctx.run(request, audio_format=audio_format, progress=progress, cancel=cancel)
        if not result.ok:
            break
        results.append((strength, result))
    return results


@dataclass
class StemsOutput:
    paths: dict[str, Path]
    archive: Path


def separate(ctx: TabContext, separator: StemSeparator, src: str, run_id: str | None = None) -> StemsOutput:
    separator.check()  # fast, local: a missing model is reported before the audio is even read
    audio = audio_io.load_conformed(src)
    stems = separator.separate(audio)
    folder = ctx.new_temp_dir("stems")
    prefix = f"{run_id}_" if run_id else ""
    paths, archive = write_stems(stems, folder, prefix)
    return StemsOutput(paths, archive)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def master_file(
    ctx: TabContext, src: str, spec: mastering.MasteringSpec, run_id: str | None, audio_format: str = "wav"
) -> tuple[Path, mastering.MasteringResult, bool]:
    """Master a file. For a recorded run the result goes next to it and into its sidecar; uploads go to temp.

    Returns (output path, result, recorded in sidecar).
    """
    audio = audio_io.load_conformed(src)
    result = mastering.master(audio, spec)
    row = ctx.store.get_run(run_id) if run_id else None
    if row is not None:
        base = Path(row.audio_path)
        n = 1
        out = base.with_name(f"{base.stem}_mastered.{audio_format}")
        while out.exists():
            n += 1
            out = base.with_name(f"{base.stem}_mastered{n}.{audio_format}")
        audio_io.write_audio(out, result.audio)
        mastering.record_in_sidecar(row.sidecar_path, result, out)
        return out, result, True
    stem = _SAFE.sub("_", Path(src).stem)[:60] or "audio"
    out = ctx.new_temp_dir("master") / f"{stem}_mastered.{audio_format}"
    audio_io.write_audio(out, result.audio)
    return out, result, False
