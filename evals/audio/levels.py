"""Sample-level checks: RMS, crest factor, DC offset, clipping, silence, dropouts and stereo image.

Thresholds follow common mastering QC practice (sox ``stats`` / ffmpeg ``astats`` / ``silencedetect``):
clipping is a run of >= 3 consecutive samples at >= 0.999 full scale, silence is anything below -60 dBFS measured
over 10 ms windows, a dropout is a short run (1-300 ms) of near-digital silence (< -80 dBFS) inside audio that is
clearly playing (> -40 dBFS) on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP_LEVEL = 0.999
CLIP_MIN_RUN = 3
SILENCE_DBFS = -60.0
SILENCE_WINDOW_S = 0.010
DROPOUT_DBFS = -80.0
DROPOUT_CONTEXT_DBFS = -40.0
DROPOUT_WINDOW_S = 0.001
DROPOUT_MAX_S = 0.300
DROPOUT_CONTEXT_S = 0.020


@dataclass(frozen=True)
class LevelStats:
    rms_dbfs: float
    sample_peak_dbfs: float
    crest_factor_db: float
    dc_offset: float  # largest per-channel mean, as a fraction of full scale (signed)
    clipped_samples: int  # samples inside clipped runs, all channels
    silence_ratio: float  # share of the duration below SILENCE_DBFS
    leading_silence_s: float
    trailing_silence_s: float
    longest_silence_s: float  # longest silent run strictly inside the track (leading/trailing excluded)
    dropouts: int
    stereo_correlation: (
        float  # zero-lag normalised cross-correlation of L and R: 1 mono, 0 unrelated, -1 inverted
    )
    stereo_width: float  # side energy / (mid + side energy): 0 mono, 0.5 unrelated channels, 1 inverted


def _db(value: float) -> float:
    return float(20.0 * np.log10(value)) if value > 0 else float("-inf")


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, stops = edges[0::2], edges[1::2]
    return starts, stops - starts


def clipped_samples(samples: np.ndarray) -> int:
    total = 0
    for channel in samples:
        starts, lengths = _runs(np.abs(channel) >= CLIP_LEVEL)
        total += int(lengths[lengths >= CLIP_MIN_RUN].sum())
    return total


def clipped_fraction(samples: np.ndarray) -> float:
    """Share of all samples (all channels) that sit in clipped runs."""
    return clipped_samples(samples) / samples.size if samples.size else 0.0


def _window_peaks(samples: np.ndarray, window: int) -> np.ndarray:
    """Largest |sample| over all channels in each complete window."""
    n = samples.shape[-1] // window
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    return np.abs(samples[:, : n * window].reshape(samples.shape[0], n, window)).max(axis=(0, 2))


def _silence(samples: np.ndarray, sample_rate: int) -> tuple[float, float, float, float]:
    window = max(1, int(round(SILENCE_WINDOW_S * sample_rate)))
    n = samples.shape[-1] // window
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0
    blocks = samples[:, : n * window].reshape(samples.shape[0], n, window)
    power = np.einsum("cnk,cnk->n", blocks, blocks, dtype=np.float64) / (window * samples.shape[0])
    silent = power < 10.0 ** (SILENCE_DBFS / 10.0)
    ratio = float(silent.mean())
    starts, lengths = _runs(silent)
    leading = float(lengths[0] * window / sample_rate) if starts.size and starts[0] == 0 else 0.0
    trailing = (
        float(lengths[-1] * window / sample_rate) if starts.size and starts[-1] + lengths[-1] == n else 0.0
    )
    inner = [
        length for start, length in zip(starts, lengths, strict=True) if start > 0 and start + length < n
    ]
    longest = float(max(inner) * window / sample_rate) if inner else 0.0
    return ratio, leading, trailing, longest


def longest_silence_s(samples: np.ndarray, sample_rate: int) -> float:
    """Longest silent run strictly inside the track, in seconds (the ``LevelStats`` field of the same name)."""
    return _silence(samples, sample_rate)[3]


def _dropouts(samples: np.ndarray, sample_rate: int) -> int:
    window = max(1, int(round(DROPOUT_WINDOW_S * sample_rate)))
    peaks = _window_peaks(samples, window)
    if peaks.size == 0:
        return 0
    dead = peaks < 10.0 ** (DROPOUT_DBFS / 20.0)
    starts, lengths = _runs(dead)
    max_len = int(DROPOUT_MAX_S / DROPOUT_WINDOW_S)
    context = int(DROPOUT_CONTEXT_S / DROPOUT_WINDOW_S)
    loud = 10.0 ** (DROPOUT_CONTEXT_DBFS / 20.0)
    count = 0
    for start, length in zip(starts, lengths, strict=True):
        if length > max_len or start < context or start + length + context > peaks.size:
            continue
        before = peaks[start - context : start].max()
        after = peaks[start + length : start + length + context].max()
        if before > loud and after > loud:
            count += 1
    return count


def _stereo(samples: np.ndarray) -> tuple[float, float]:
    if samples.shape[0] != 2:
        return 1.0, 0.0
    left, right = samples[0], samples[1]
    ll = float(np.dot(left, left))
    rr = float(np.dot(right, right))
    lr = float(np.dot(left, right))
    correlation = lr / np.sqrt(ll * rr) if ll > 0 and rr > 0 else 1.0
    mid = ll + rr + 2 * lr  # |L+R|^2; the 1/4 scale cancels in the ratio
    side = ll + rr - 2 * lr
    width = side / (mid + side) if mid + side > 0 else 0.0
    return float(correlation), float(width)


def measure_levels(samples: np.ndarray, sample_rate: int) -> LevelStats:
    """Level, defect and stereo statistics of ``samples`` shaped (channels, frames)."""
    channel_power = np.einsum("cn,cn->c", samples, samples, dtype=np.float64) / max(samples.shape[-1], 1)
    rms = float(np.sqrt(channel_power.mean()))
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    means = samples.mean(axis=-1, dtype=np.float64)
    dc = float(means[np.argmax(np.abs(means))])
    ratio, leading, trailing, longest = _silence(samples, sample_rate)
    correlation, width = _stereo(samples)
    return LevelStats(
        rms_dbfs=_db(rms),
        sample_peak_dbfs=_db(peak),
        crest_factor_db=_db(peak) - _db(rms) if rms > 0 else 0.0,
        dc_offset=dc,
        clipped_samples=clipped_samples(samples),
        silence_ratio=ratio,
        leading_silence_s=leading,
        trailing_silence_s=trailing,
        longest_silence_s=longest,
        dropouts=_dropouts(samples, sample_rate),
        stereo_correlation=correlation,
        stereo_width=width,
    )
