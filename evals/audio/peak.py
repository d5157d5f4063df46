"""True peak (ITU-R BS.1770-4 Annex 2) by 4x oversampling, evaluated only where it can matter.

The interpolation filter is the one scipy's ``resample_poly`` uses by default (81 taps, Kaiser beta 5), the
plain reference method. Running ``resample_poly`` over a 3-minute stereo file costs 0.7-1.2 s here, which alone
would cap the analysis near 150x real time, so this module does two things differently:
- it prunes: an interpolated value can be no larger than (sum of |taps| of its phase) x (largest input sample
  under the filter). Blocks whose neighbourhood maximum times that bound cannot beat the running peak are skipped;
- it filters the remaining blocks by batched FFT convolution, computing only the three fractional phases (the
  filter is a Nyquist filter, so the integer phase is the input itself).
The result equals ``resample_poly`` over everything to float32 precision (tests compare the two).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal

OVERSAMPLING = 4
_HALF_TAPS = 10  # resample_poly's default: the filter spans 10 input samples either side
_BLOCK = 128  # samples per pruning block; must exceed _HALF_TAPS so neighbours cover the filter span
_MARGIN = 16  # input samples kept either side of an oversampled block so wrap-around stays outside it
_BATCH_SAMPLES = 1 << 20  # samples per batched FFT (bounds memory on long files)
_FULL_BLOCK = (
    4096 - 2 * _MARGIN
)  # FFT length 4096; block length when (nearly) every block has to be oversampled
_FULL_PASS_FRACTION = 0.6  # above this share of candidate blocks, long blocks over everything are cheaper


@lru_cache(maxsize=1)
def _interpolator() -> np.ndarray:
    """resample_poly's default 4x interpolation filter (81 taps, Kaiser beta 5), gain 4."""
    taps = scipy.signal.firwin(2 * _HALF_TAPS * OVERSAMPLING + 1, 1.0 / OVERSAMPLING, window=("kaiser", 5.0))
    return taps * OVERSAMPLING


@lru_cache(maxsize=1)
def _phase_gain_bound() -> float:
    """max over phases of sum |taps|: the largest factor by which interpolation can exceed its inputs."""
    taps = _interpolator()
    return float(max(np.abs(taps[p::OVERSAMPLING]).sum() for p in range(OVERSAMPLING)))


@lru_cache(maxsize=4)
def _phase_spectra(length: int) -> np.ndarray:
    """Spectra of the fractional phases (1/4, 2/4, 3/4) as circular kernels of ``length`` samples.

    Phase p's output at n + p/4 is sum_k taps[4k + p + centre] * x[n - k].
    """
    taps = _interpolator()
    centre = _HALF_TAPS * OVERSAMPLING
    kernels = np.zeros((OVERSAMPLING - 1, length))
    for p in range(1, OVERSAMPLING):
        for k in range(-_HALF_TAPS - 1, _HALF_TAPS + 1):
            index = OVERSAMPLING * k + p + centre
            if 0 <= index < taps.size:
                kernels[p - 1, k % length] = taps[index]
    return scipy.fft.rfft(kernels, axis=-1).astype(np.complex64)


def sample_peak(samples: np.ndarray) -> float:
    return float(np.max(np.abs(samples))) if samples.size else 0.0


def _phases_peak(segments: np.ndarray, block: int) -> float:
    """Peak of the fractional phases over the middle ``block`` samples of each row of ``segments``.

    Rows carry _MARGIN real samples either side of their block; the circular wrap-around of the FFT convolution
    only reaches those margins, which are discarded.
    """
    spectrum = scipy.fft.rfft(segments, axis=-1, workers=1)
    phases = scipy.fft.irfft(
        spectrum[None] * _phase_spectra(segments.shape[-1])[:, None, :], axis=-1, workers=1
    )
    return float(np.max(np.abs(phases[..., _MARGIN : _MARGIN + block])))


def _oversampled_peak(padded: np.ndarray, channel: np.ndarray, start: np.ndarray) -> float:
    """Peak over the _BLOCK-sample blocks starting at ``start`` (unpadded coordinates) on ``channel``."""
    span = _BLOCK + 2 * _MARGIN
    offsets = np.arange(span)[None, :]
    per_batch = _BATCH_SAMPLES // span
    best = 0.0
    for first in range(0, channel.size, per_batch):
        rows = slice(first, first + per_batch)
        best = max(best, _phases_peak(padded[channel[rows, None], start[rows, None] + offsets], _BLOCK))
    return best


def _pad(samples: np.ndarray, block: int) -> tuple[np.ndarray, int]:
    channels, frames = samples.shape
    n_blocks = -(-frames // block)
    padded = np.zeros((channels, n_blocks * block + 2 * _MARGIN), dtype=np.float32)
    padded[:, _MARGIN : _MARGIN + frames] = samples
    return padded, n_blocks


def full_true_peak(samples: np.ndarray) -> float:
    """Oversample every sample (no pruning), with the same filter and FFT convolution."""
    if samples.size == 0:
        return 0.0
    padded, n_blocks = _pad(samples, _FULL_BLOCK)
    span = _FULL_BLOCK + 2 * _MARGIN
    windows = np.lib.stride_tricks.sliding_window_view(padded, span, axis=-1)[:, ::_FULL_BLOCK]
    per_batch = max(1, _BATCH_SAMPLES // span)
    best = sample_peak(samples)
    for channel in windows:
        for first in range(0, n_blocks, per_batch):
            best = max(best, _phases_peak(channel[first : first + per_batch], _FULL_BLOCK))
    return best


def true_peak(samples: np.ndarray) -> float:
    """Linear true peak of ``samples`` (channels, frames) over all channels (>= the sample peak)."""
    peak = sample_peak(samples)
    if peak == 0.0:
        return 0.0
    padded, n_blocks = _pad(samples, _BLOCK)
    channels = samples.shape[0]
    magnitude = np.abs(padded[:, _MARGIN : _MARGIN + n_blocks * _BLOCK]).reshape(channels, n_blocks, _BLOCK)
    block_max = magnitude.max(axis=-1)
    # A block's interpolated values depend on up to _HALF_TAPS samples in the neighbouring blocks.
    neighbourhood = block_max.copy()
    neighbourhood[:, 1:] = np.maximum(neighbourhood[:, 1:], block_max[:, :-1])
    neighbourhood[:, :-1] = np.maximum(neighbourhood[:, :-1], block_max[:, 1:])
    bound = neighbourhood * _phase_gain_bound()

    # First the blocks holding the loudest samples, which usually set the true peak; then every block that could
    # still beat it.
    channel, index = np.nonzero(block_max >= peak * 0.9)
    best = max(peak, _oversampled_peak(padded, channel, index * _BLOCK))
    rest = (bound > best) & (block_max < peak * 0.9)
    if rest.mean() > _FULL_PASS_FRACTION:
        return max(best, full_true_peak(samples))
    channel, index = np.nonzero(rest)
    return max(best, _oversampled_peak(padded, channel, index * _BLOCK))


def resample_poly_true_peak(samples: np.ndarray) -> float:
    """The plain reference: ``resample_poly`` over everything. Tests and the benchmark check the fast path
    against it."""
    up = scipy.signal.resample_poly(samples, OVERSAMPLING, 1, axis=-1)
    return max(float(np.max(np.abs(up))), sample_peak(samples))


def to_db(linear: float) -> float:
    return float(20.0 * np.log10(linear)) if linear > 0 else float("-inf")
