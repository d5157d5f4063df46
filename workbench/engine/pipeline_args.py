"""Translating a typed request into AceStepPipeline arguments, and the pipeline's output back into the result.

``prepare`` reads and checks source audio and lays out windows in frames before the model is touched;
``pipeline_kwargs`` builds the exact ``AceStepPipeline.__call__`` arguments (the engine-overhead benchmark calls the
pipeline with these same arguments); ``finish`` crops to the requested length and, for repaint/extend, restores
the untouched source around the regenerated window (see splice.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core import audio_io
from workbench.core.audio_io import SAMPLE_RATE, Audio
from workbench.core.errors import InputError
from workbench.engine import splice
from workbench.engine.requests import (
    DEFAULT_DURATION_S,
    MAX_DURATION_S,
    AudioCodes,
    Complete,
    Extend,
    Extract,
    GenerationRequest,
    Lego,
    Repaint,
    SourceRequest,
    StyleTransfer,
)

if TYPE_CHECKING:
    from workbench.engine.engine import RunResult

FRAMES_PER_LATENT = 1920  # 48 kHz / 25 latents per second


@dataclass
class Prepared:
    """Source audio and windows, checked and laid out in frames, before the model is touched."""

    source: np.ndarray | None = None  # conformed source (channels, frames), possibly cut to duration_s
    model_input: np.ndarray | None = None  # what the pipeline gets (extend: source plus silence)
    reference: np.ndarray | None = None
    out_frames: int = 0
    window: tuple[int, int] | None = None  # regenerated frames [start, end) in output coordinates
    crossfade: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def window_s(self) -> tuple[float, float] | None:
        """The regenerated window in seconds, as the result reports it."""
        if self.window is None:
            return None
        return self.window[0] / SAMPLE_RATE, self.window[1] / SAMPLE_RATE


def _seconds_to_frames(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


def prepare(request: GenerationRequest) -> Prepared:
    prepared = Prepared()
    if isinstance(request, AudioCodes):
        length_s = request.duration_s or request.code_count / 5.0  # codes run at 5 Hz
        prepared.out_frames = _seconds_to_frames(length_s)
        return prepared
    if not isinstance(request, SourceRequest):
        prepared.out_frames = _seconds_to_frames(float(request.duration_s or DEFAULT_DURATION_S))
        return prepared
    src = audio_io.load_conformed(request.src)
    prepared.notes += [f"source: {n}" for n in src.notes]
    samples = src.samples
    source_s = src.duration_s
    if request.duration_s is not None:
        if request.duration_s > source_s + 1e-6:
            raise InputError(
                "duration_s",
                request.duration_s,
                f"the source is only {source_s:.2f} s long; leave duration empty to use all of it, or pick a shorter one",
            )
        samples = samples[:, : _seconds_to_frames(request.duration_s)]
        source_s = samples.shape[1] / SAMPLE_RATE
    prepared.source = samples
    prepared.model_input = samples
    prepared.out_frames = samples.shape[1]
    if isinstance(request, Repaint):
        if request.end_s > source_s + 1e-6:
            raise InputError(
                "end_s",
                request.end_s,
                f"the window ends beyond the source ({source_s:.2f} s); pick an end within it",
            )
        prepared.window = (_seconds_to_frames(request.start_s), _seconds_to_frames(request.end_s))
        prepared.crossfade = _seconds_to_frames(request.crossfade_ms / 1000.0)
    elif isinstance(request, Extend):
        if source_s + request.extend_s > MAX_DURATION_S:
            raise InputError(
                "extend_s",
                request.extend_s,
                f"source ({source_s:.1f} s) plus extension would exceed {MAX_DURATION_S:.0f} s; extend by less",
            )
        new = _seconds_to_frames(request.extend_s)
        silence = np.zeros((samples.shape[0], new), dtype=np.float32)
        if request.side == "right":
            prepared.model_input = np.concatenate([samples, silence], axis=1)
            prepared.window = (samples.shape[1], samples.shape[1] + new)
        else:
            prepared.model_input = np.concatenate([silence, samples], axis=1)
            prepared.window = (0, new)
        prepared.out_frames = samples.shape[1] + new
        prepared.crossfade = _seconds_to_frames(request.crossfade_ms / 1000.0)
    elif isinstance(request, Lego) and request.end_s is not None and request.end_s > source_s + 1e-6:
        raise InputError("end_s", request.end_s, f"the window ends beyond the source ({source_s:.2f} s)")
    if isinstance(request, StyleTransfer) and request.reference:
        ref = audio_io.load_conformed(request.reference)
        prepared.notes += [f"reference: {n}" for n in ref.notes]
        prepared.reference = ref.samples
    return prepared


def _pad_to_latents(samples: np.ndarray) -> np.ndarray:
    """The VAE maps 1920 frames to one latent; pad so the decode covers every source frame."""
    extra = (-samples.shape[1]) % FRAMES_PER_LATENT
    if extra:
        samples = np.pad(samples, ((0, 0), (0, extra)))
    return samples


def pipeline_kwargs(
    request: GenerationRequest, prepared: Prepared, pipe: Any, seeds: list[int]
) -> dict[str, Any]:
    import torch

    n = request.batch_size
    kwargs: dict[str, Any] = dict(
        prompt=[request.prompt] * n,
        lyrics=[request.lyrics_for_model] * n,
        vocal_language=request.vocal_language,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance_scale,
        shift=request.shift,
        cfg_interval_start=0.0 if request.cfg_interval_start is None else request.cfg_interval_start,
        cfg_interval_end=1.0 if request.cfg_interval_end is None else request.cfg_interval_end,
        bpm=request.bpm,
        keyscale=request.keyscale,
        timesignature=request.time_signature,
        generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
        audio_duration=prepared.out_frames / SAMPLE_RATE,
    )
    if prepared.model_input is not None:
        kwargs["src_audio"] = torch.from_numpy(_pad_to_latents(prepared.model_input))
        kwargs["audio_duration"] = None  # the pipeline takes the length from the source
    if isinstance(request, (Repaint, Extend)):
        assert prepared.window is not None  # set by _prepare for both tasks
        kwargs.update(
            task_type="repaint",
            repainting_start=prepared.window[0] / SAMPLE_RATE,
            repainting_end=prepared.window[1] / SAMPLE_RATE,
        )
    elif isinstance(request, StyleTransfer):
        kwargs.update(task_type="cover", audio_cover_strength=request.strength)
        if prepared.reference is not None:
            kwargs["reference_audio"] = torch.from_numpy(prepared.reference)
    elif isinstance(request, Lego):
        kwargs.update(
            task_type="lego",
            track_name=request.track,
            repainting_start=request.start_s,
            repainting_end=request.end_s,
        )
    elif isinstance(request, Extract):
        kwargs.update(task_type="extract", track_name=request.track)
    elif isinstance(request, Complete):
        kwargs.update(task_type="complete", complete_track_classes=list(request.tracks))
    elif isinstance(request, AudioCodes):
        kwargs.update(audio_codes=[request.codes] * n)
    return kwargs


def finish(request: GenerationRequest, prepared: Prepared, generated: np.ndarray) -> Audio:
    """Crop to the exact requested length and, for repaint/extend, restore the untouched source."""
    frames = prepared.out_frames
    if generated.shape[1] < frames:
        generated = np.pad(generated, ((0, 0), (0, frames - generated.shape[1])))
    generated = np.ascontiguousarray(generated[:, :frames], dtype=np.float32)
    if prepared.window is None or prepared.source is None:
        return Audio(generated, SAMPLE_RATE)
    start, end = prepared.window
    source, _offset = _source_on_timeline(request, prepared.source, frames, prepared.window)
    keep = np.ones(frames, dtype=bool)
    keep[start:end] = False
    generated, _gain = splice.match_gain(generated, source, keep)
    return Audio(splice.splice_window(source, generated, start, end, prepared.crossfade), SAMPLE_RATE)


def _source_on_timeline(
    request: GenerationRequest, source: np.ndarray, frames: int, window: tuple[int, int]
) -> tuple[np.ndarray, int]:
    """The source laid out on the output timeline, and where it starts there.

    Extend's new region is silence on that timeline (it is fully generated); extending to the left moves the
    source right by the new material. Repaint's source already is the output timeline.
    """
    if not isinstance(request, Extend):
        return source, 0
    offset = window[1] if request.side == "left" else 0
    laid = np.zeros((source.shape[0], frames), dtype=np.float32)
    laid[:, offset : offset + source.shape[1]] = source
    return laid, offset


def preservation_report(result: RunResult) -> str:
    """Check the engine's guarantee on this very result: samples outside the edited window equal the source.

    Uses the window the engine reports (``result.edit_window_s``) and the conformed source of the request, and
    leaves out the crossfades, which lie on the preserved side of each edge.
    """
    request = result.request
    if result.edit_window_s is None or not result.takes or not isinstance(request, (Repaint, Extend)):
        return ""
    out = result.takes[0].audio.samples
    frames = out.shape[1]
    source = audio_io.load_conformed(request.src).samples
    if request.duration_s is not None:
        source = source[:, : _seconds_to_frames(request.duration_s)]
    window = (_seconds_to_frames(result.edit_window_s[0]), _seconds_to_frames(result.edit_window_s[1]))
    laid, offset = _source_on_timeline(request, source, frames, window)
    fade = _seconds_to_frames(request.crossfade_ms / 1000.0)
    keep = np.zeros(frames, dtype=bool)
    keep[offset : offset + source.shape[1]] = True
    keep[max(0, window[0] - fade) : min(frames, window[1] + fade)] = False
    same = bool(np.array_equal(out[:, keep], laid[:, keep]))
    kept_s = int(keep.sum()) / SAMPLE_RATE
    return f"Preservation: {kept_s:.2f} s outside the edit are " + (
        "**bit-identical** to the source" if same else "**NOT identical** to the source (please report this)"
    )
