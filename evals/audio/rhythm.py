"""Tempo, beat regularity and onset density from a mono signal at a reduced rate (12 kHz is plenty for onsets).

The onset envelope is librosa's (``onset_strength`` on a log-mel spectrogram) and onsets are picked by librosa's
``onset_detect``. Tempo is read from the autocorrelation of that envelope over the whole track, weighted by
the same log-normal prior around 120 BPM that ``librosa.feature.tempo`` uses, but refined below the frame
grid: librosa returns the best integer-lag bin, which at a 21 ms hop quantises 120 BPM into ~5 BPM steps. Here
the period is refined by parabolic interpolation at the peak and at its multiples (a peak k periods away pins
the period k times more precisely).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

HOP = 256
N_FFT = 1024
N_MELS = 64
MIN_BPM = 30.0
MAX_BPM = 300.0
PRIOR_BPM = 120.0  # librosa.feature.tempo's start_bpm
PRIOR_STD_OCTAVES = 1.0
MIN_DURATION_S = 4.0  # below this the envelope holds too few beats to call a tempo
MIN_REGULARITY = 0.05  # below this the pulse is too weak to report a tempo
# Below this confidence a tempo is reported but marked uncertain, and delivery checks and recipe adherence do not
# judge it. Calibrated by benchmarks/tempo_confidence.py on labelled clips and synthetic drumless ones: every
# wrong reading of the labelled soft material fell below it, every reading with a clear pulse above it
# (the table is in docs/metrics.md).
TEMPO_CONFIDENCE_THRESHOLD = 0.25


@dataclass(frozen=True)
class RhythmStats:
    tempo_bpm: float | None  # None when the signal is too short or has no detectable pulse
    beat_regularity: float  # autocorrelation of the onset envelope at the beat period: 1 metronomic, ~0 none
    onset_density_per_s: float
    tempo_confidence: float = 0.0  # see ``tempo_confidence``; compare with TEMPO_CONFIDENCE_THRESHOLD


def tempo_confidence(regularity: float, contrast: float) -> float:
    """0..1: the geometric mean of the pulse's regularity and its contrast (``pulse_contrast``). Both must be
    high: soft material with no attacks has a weak regularity, smooth swells a flat (low-contrast) one."""
    return float(np.sqrt(max(regularity, 0.0) * max(contrast, 0.0)))


def onset_envelope(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    import librosa

    spectrum = np.abs(librosa.stft(mono, n_fft=N_FFT, hop_length=HOP, center=True)) ** 2
    mel = librosa.feature.melspectrogram(S=spectrum, sr=sample_rate, n_mels=N_MELS, fmax=sample_rate / 2)
    return librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sample_rate, hop_length=HOP)


def _autocorrelation(envelope: np.ndarray) -> np.ndarray:
    centred = envelope - envelope.mean()
    size = scipy.fft.next_fast_len(2 * centred.size)
    spectrum = scipy.fft.rfft(centred, size)
    acf = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, size)[: centred.size]
    # Unbiased: each lag averages over the overlap it has, so long lags are not penalised for being long.
    acf = acf / np.arange(centred.size, 0, -1)
    return acf / acf[0] if acf[0] > 0 else acf


def _peak_near(acf: np.ndarray, lag: float, radius: int) -> float | None:
    """Sub-frame position of the largest ACF value within ``radius`` frames of ``lag``."""
    low, high = int(np.floor(lag - radius)), int(np.ceil(lag + radius)) + 1
    if low < 1 or high >= acf.size - 1:
        return None
    best = low + int(np.argmax(acf[low:high]))
    left, centre, right = acf[best - 1], acf[best], acf[best + 1]
    curvature = left - 2 * centre + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return best + float(np.clip(offset, -0.5, 0.5))


def estimate_tempo(envelope: np.ndarray, frame_rate: float) -> tuple[float | None, float]:
    """(tempo in BPM or None, regularity) from an onset envelope sampled at ``frame_rate`` Hz."""
    tempo, regularity, _contrast = estimate_tempo_with_contrast(envelope, frame_rate)
    return tempo, regularity


def pulse_contrast(acf: np.ndarray, lag: float) -> float:
    """How much the autocorrelation at the beat period stands above its lowest point in the half period before it.

    A real pulse has a dip between beats; a smooth envelope (sustained pads, slow swells) has a high but flat
    autocorrelation, so its "regularity" is high while the period it picks means nothing. 0 = no dip, 1 = full.
    """
    low, high = int(np.floor(lag / 2)), int(round(lag))
    if low < 1 or high >= acf.size or high <= low:
        return 0.0
    return float(np.clip(acf[high] - acf[low : high + 1].min(), 0.0, 1.0))


def estimate_tempo_with_contrast(
    envelope: np.ndarray, frame_rate: float
) -> tuple[float | None, float, float]:
    """(tempo in BPM or None, regularity, pulse contrast) from an onset envelope sampled at ``frame_rate`` Hz."""
    if envelope.size / frame_rate < MIN_DURATION_S or not np.any(envelope > 0):
        return None, 0.0, 0.0
    acf = _autocorrelation(envelope)
    lags = np.arange(acf.size, dtype=np.float64)
    with np.errstate(divide="ignore"):
        bpm = 60.0 * frame_rate / lags
    valid = (bpm >= MIN_BPM) & (bpm <= MAX_BPM) & (lags <= acf.size / 2)
    if not valid.any():
        return None, 0.0, 0.0
    prior = np.exp(-0.5 * (np.log2(np.where(valid, bpm, 1.0) / PRIOR_BPM) / PRIOR_STD_OCTAVES) ** 2)
    score = np.where(valid, np.maximum(acf, 0.0) * prior, -np.inf)
    lag = float(np.argmax(score))
    refined = _peak_near(acf, lag, 1) or lag
    regularity = float(np.clip(acf[int(round(refined))], 0.0, 1.0))
    contrast = pulse_contrast(acf, refined)
    if regularity < MIN_REGULARITY:
        return None, regularity, contrast
    estimates = [refined]
    for multiple in (2, 3, 4):
        position = _peak_near(acf, refined * multiple, 2)
        if position is None or lags[-1] / 2 < position:
            break
        estimates.append(position / multiple)
    period = float(np.median(estimates))
    return 60.0 * frame_rate / period, regularity, contrast


def measure_rhythm(mono: np.ndarray, sample_rate: int) -> RhythmStats:
    import librosa

    duration_s = mono.size / sample_rate
    if duration_s < N_FFT / sample_rate:
        return RhythmStats(None, 0.0, 0.0)
    envelope = onset_envelope(mono, sample_rate)
    tempo, regularity, contrast = estimate_tempo_with_contrast(envelope, sample_rate / HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=sample_rate, hop_length=HOP)
    confidence = tempo_confidence(regularity, contrast) if tempo is not None else 0.0
    return RhythmStats(tempo, regularity, float(len(onsets) / duration_s), confidence)
