"""Spectral shape at the file's own rate: centroid, roll-off, flatness, bandwidth and a harshness share.

Definitions follow librosa's ``spectral_*`` features (magnitude spectra for centroid, roll-off and bandwidth,
power spectra for flatness) so numbers compare with anything computed by librosa, but the spectra are computed
once here on non-overlapping 2048-sample Hann frames: the statistics are averages over a whole track, and
librosa's default 4x overlap would cost four times as much for the same averages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

FRAME = 2048
ROLLOFF_SHARE = 0.85
HARSH_BAND_HZ = (2000.0, 6000.0)
SILENT_FRAME_DBFS = -60.0
_FLATNESS_FLOOR = 1e-10  # librosa's amin for spectral flatness


@dataclass(frozen=True)
class SpectralStats:
    """Averages over non-silent frames; all None when every frame is silent."""

    centroid_hz: float | None
    rolloff_hz: float | None
    flatness: float | None  # 0 tonal .. 1 white noise (per-frame geometric / arithmetic mean of power)
    bandwidth_hz: float | None
    harshness_ratio: float | None  # share of total power between 2 and 6 kHz


def measure_spectrum(samples: np.ndarray, sample_rate: int) -> SpectralStats:
    """Spectral statistics of ``samples`` (channels, frames); channel powers are summed, so an out-of-phase
    stereo file is measured as heard, not as its (empty) mono sum."""
    n_frames = samples.shape[-1] // FRAME
    if n_frames == 0:
        return SpectralStats(None, None, None, None, None)
    frames = samples[:, : n_frames * FRAME].reshape(samples.shape[0], n_frames, FRAME)
    window = np.hanning(FRAME + 1)[:-1].astype(np.float32)  # periodic Hann, as librosa's STFT uses
    spectrum = scipy.fft.rfft(frames * window, axis=-1, workers=1)
    channel_power = spectrum.real**2 + spectrum.imag**2  # (channels, frames, bins)
    channel_frame_power = np.einsum("cfk,cfk->cf", frames, frames, dtype=np.float64) / FRAME
    threshold = 10.0 ** (SILENT_FRAME_DBFS / 10.0)
    loud = channel_frame_power.mean(axis=0) > threshold
    loud_channel = channel_frame_power[:, loud] > threshold  # a silent channel must not count as "flat"
    if not loud.any():
        return SpectralStats(None, None, None, None, None)
    if not loud.all():
        channel_power = channel_power[:, loud]
    # float32 arrays with float64 reductions (matrix products accumulate per frame): the full-size temporaries
    # of a float64 version cost more than the FFT itself.
    power = channel_power.sum(axis=0) if channel_power.shape[0] > 1 else channel_power[0]
    magnitude = np.sqrt(power)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / sample_rate)
    moments = magnitude.astype(np.float32) @ np.stack([np.ones_like(freqs), freqs, freqs**2], axis=1).astype(
        np.float32
    )
    mag_sum, first, second = (moments[:, i].astype(np.float64) for i in range(3))
    mag_sum = np.maximum(mag_sum, 1e-30)
    centroid = first / mag_sum
    # sum S (f - c)^2 = sum S f^2 - 2 c sum S f + c^2 sum S, without a frames x bins temporary
    bandwidth = np.sqrt(np.maximum(second / mag_sum - centroid**2, 0.0))
    cumulative = np.cumsum(magnitude, axis=1)
    rolloff_bin = np.argmax(cumulative >= ROLLOFF_SHARE * cumulative[:, -1:], axis=1)
    # Flatness per channel then averaged: summing two channels' power would make noise look flatter than it is.
    floored = np.maximum(channel_power, np.float32(_FLATNESS_FLOOR))
    log_mean = np.log(floored).mean(axis=-1, dtype=np.float64)
    flatness = (np.exp(log_mean) / floored.mean(axis=-1, dtype=np.float64))[loud_channel]

    total = power.sum(axis=0, dtype=np.float64)
    band = (freqs >= HARSH_BAND_HZ[0]) & (freqs < HARSH_BAND_HZ[1])
    return SpectralStats(
        centroid_hz=float(centroid.mean()),
        rolloff_hz=float(freqs[rolloff_bin].mean()),
        flatness=float(flatness.mean()),
        bandwidth_hz=float(bandwidth.mean()),
        harshness_ratio=float(total[band].sum() / total.sum()),
    )
