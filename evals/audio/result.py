"""The typed result of analyzing one track, and the delivery verdict attached to it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from evals.audio.recipe import Adherence


@dataclass(frozen=True)
class DeliveryCheck:
    name: str  # e.g. "integrated_loudness_lufs"
    passed: bool
    measured: float | int | None
    limit: str  # human-readable limit, e.g. "-18 ± 1.5 LUFS"
    reason: str  # empty when passed, else why it failed (or why it was skipped)
    skipped: bool = False


@dataclass(frozen=True)
class DeliveryResult:
    genre: str
    passed: bool
    reasons: tuple[str, ...]  # one line per failed check
    checks: tuple[DeliveryCheck, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TrackAnalysis:
    """Everything measured on one track. Units are in the names; ``-inf`` loudness means digital silence."""

    path: str | None
    sample_rate_hz: int
    channels: int
    duration_s: float
    # Loudness (BS.1770-4 / EBU R128 / Tech 3342)
    integrated_loudness_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    loudness_range_lu: float | None  # None below 3 s
    max_short_term_lufs: float | None  # None below 3 s
    max_momentary_lufs: float
    mono_loudness_drop_lu: float
    # Levels and defects
    rms_dbfs: float
    crest_factor_db: float
    dc_offset: float
    clipped_samples: int
    silence_ratio: float
    leading_silence_s: float
    trailing_silence_s: float
    longest_silence_s: float
    dropouts: int
    # Stereo image
    stereo_correlation: float
    stereo_width: float
    # Spectrum (None when every frame is silent)
    spectral_centroid_hz: float | None
    spectral_rolloff_hz: float | None
    spectral_flatness: float | None
    spectral_bandwidth_hz: float | None
    harshness_ratio: float | None
    # Rhythm and tonality
    tempo_bpm: float | None
    beat_regularity: float
    onset_density_per_s: float
    key: str | None
    mode: str | None
    key_confidence: float
    key_margin: float
    # Optional verdicts
    genre: str | None = None
    delivery: DeliveryResult | None = None
    adherence: Adherence | None = None
    notes: tuple[str, ...] = ()
    tempo_confidence: float | None = None  # 0..1 (rhythm.tempo_confidence); None: not measured

    @property
    def tempo_uncertain(self) -> bool:
        """A tempo was read but below the calibrated confidence: shown, never judged."""
        from evals.audio.rhythm import TEMPO_CONFIDENCE_THRESHOLD

        return (
            self.tempo_bpm is not None
            and self.tempo_confidence is not None
            and self.tempo_confidence < TEMPO_CONFIDENCE_THRESHOLD
        )

    @property
    def keyscale(self) -> str | None:
        return f"{self.key} {self.mode}" if self.key and self.mode else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: non-finite floats become None (JSON has no infinities)."""
        return _json_safe(asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
