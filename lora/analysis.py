"""Estimates for metadata a dataset row leaves out (tempo, key), and per-checkpoint audio features.

Both come from the project's shared analysis (``evals.analyze_audio``), so training metadata and evaluation use
the same tempo and key estimators. A field the analysis cannot estimate (no beats, no pitched content) stays
empty and reaches the model as "N/A", as the pipeline writes missing metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.core.audio_io import Audio

# Features compared between previews and the training clips: what a genre LoRA should move toward the data.
FEATURES = ("tempo_bpm", "spectral_centroid_hz", "onset_density_per_s", "integrated_loudness_lufs")


@dataclass(frozen=True)
class Estimate:
    bpm: int | None
    key: str | None


def estimate(samples: np.ndarray, sample_rate: int) -> Estimate:
    """samples: (channels, frames) float32."""
    from evals import analyze_audio

    result = analyze_audio(Audio(samples, sample_rate))
    bpm = result.tempo_bpm
    key = f"{result.key} {result.mode}" if result.key and result.mode else None
    return Estimate(int(round(bpm)) if bpm and 30 <= bpm <= 300 else None, key)


def features(path: str | Path) -> dict[str, float]:
    """The FEATURES of one file (finite values only)."""
    from evals import analyze_file

    result = analyze_file(path)
    out = {}
    for name in FEATURES:
        value = getattr(result, name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[name] = float(value)
    return out


def mean_features(paths: list[Path]) -> dict[str, float]:
    per_name: dict[str, list[float]] = {}
    for path in paths:
        for name, value in features(path).items():
            per_name.setdefault(name, []).append(value)
    return {name: float(np.mean(values)) for name, values in per_name.items()}


def feature_gap(candidate: dict[str, float], reference: dict[str, float]) -> float | None:
    """Mean relative distance |candidate − reference| / |reference| over the features both have (0 = identical)."""
    shared = [n for n in FEATURES if n in candidate and n in reference and abs(reference[n]) > 1e-9]
    if not shared:
        return None
    return float(np.mean([abs(candidate[n] - reference[n]) / abs(reference[n]) for n in shared]))
