"""Putting regenerated audio back into its source so that nothing outside the edit changes.

The pipeline re-synthesises the whole clip through the VAE (and peak-normalises it), so its output never equals
the source anywhere. The engine therefore keeps the conformed source samples verbatim outside the edited window
and joins them to the new audio with short equal-power crossfades placed on the preserved side of each boundary.
Samples beyond the crossfades are bit-identical to the source.
"""

from __future__ import annotations

import numpy as np


def equal_power_ramps(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) gains whose squares sum to 1 at every sample."""
    theta = (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1) * (np.pi / 2)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def match_gain(generated: np.ndarray, source: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale the generated clip so its level over the preserved frames matches the source there.

    The pipeline normalises every output to -1 dBFS peak; without this a quiet source would jump in level at the
    edit. Over the preserved frames the generated clip is the model's reconstruction of the source, so an RMS
    ratio there is the right correction. Clamped so silence on either side cannot blow it up.
    """
    if not keep.any():
        return generated, 1.0
    src_rms = float(np.sqrt(np.mean(np.square(source[:, keep], dtype=np.float64))))
    gen_rms = float(np.sqrt(np.mean(np.square(generated[:, keep], dtype=np.float64))))
    if src_rms < 1e-6 or gen_rms < 1e-6:
        return generated, 1.0
    gain = float(np.clip(src_rms / gen_rms, 0.1, 10.0))
    return (generated * np.float32(gain)).astype(np.float32), gain


def splice_window(
    source: np.ndarray, generated: np.ndarray, start: int, end: int, crossfade: int
) -> np.ndarray:
    """Source outside [start, end), generated inside, crossfaded over ``crossfade`` frames outside each edge.

    ``source`` and ``generated`` are (channels, frames) with equal frame counts. The crossfade before ``start``
    fades the source out and the new audio in; the one after ``end`` does the reverse. Edges at the ends of the
    clip get no crossfade.
    """
    if source.shape != generated.shape:
        raise ValueError(f"source {source.shape} and generated {generated.shape} must have the same shape")
    frames = source.shape[1]
    out = source.copy()
    out[:, start:end] = generated[:, start:end]
    if start > 0 and crossfade > 0:
        length = min(crossfade, start)
        fade_out, fade_in = equal_power_ramps(length)
        a = start - length
        out[:, a:start] = source[:, a:start] * fade_out + generated[:, a:start] * fade_in
    if end < frames and crossfade > 0:
        length = min(crossfade, frames - end)
        fade_out, fade_in = equal_power_ramps(length)
        out[:, end : end + length] = (
            generated[:, end : end + length] * fade_out + source[:, end : end + length] * fade_in
        )
    return out
