"""The QC gate: per-track metrics, checks against the row's targets, and which failed checks reject a track.

Metrics come from an *analyzer*, a function ``(audio, request, genre) -> dict``. ``full`` (the default) is the
metrics package: ``evals.analyze_audio`` with the genre's delivery checks (``evals.check_delivery``: loudness,
true peak, silence, tempo range, DC offset, dropouts, mono fold-down, loudness range) plus tempo and key.
``basic`` measures only clipping, silence, loudness and true peak, for very large batches where analysis time
matters, with the same ``evals`` meters and definitions, so a threshold means the same whichever analyzer ran. Checks are plain functions in ``CHECKS``, so a team can add one (a CLAP-score floor, say) without
touching the runner; ``reject`` says which failures reject a track, the others are only recorded.

Everything is measured on the delivered (mastered) audio except clipping, which is measured on the generated
audio: the limiter would hide flat-topped peaks that are baked into the music.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evals.audio.levels import clipped_fraction, longest_silence_s
from evals.audio.loudness import measure_loudness
from evals.audio.peak import to_db, true_peak
from workbench.core.audio_io import Audio
from workbench.core.config import from_mapping, number, whole
from workbench.core.errors import InputError
from workbench.core.genres import GenrePreset
from workbench.core.keyscale import parse_keyscale

ANALYZERS = ("full", "basic")
DEFAULT_MAX_SILENCE_S = 2.0
KEY_MODES = ("exact", "relative", "off")


@dataclass(frozen=True)
class QcRules:
    """What is checked and what rejects a track. Load from the plan's ``qc:`` mapping with ``from_dict``."""

    enabled: bool = True
    max_clipped_fraction: float = 0.001  # share of samples in clipped runs (evals.audio.levels)
    silence_threshold_dbfs: float = -60.0  # not read: both analyzers use evals.audio.levels.SILENCE_DBFS
    max_silence_s: float | None = None  # None: the genre's max_silence_s, else 2 s
    tempo_tolerance_bpm: float = 8.0  # around the row's bpm (or the genre's range); half/double time accepted
    key_match: str = "relative"  # "exact", "relative" (A minor passes for C major) or "off"
    loudness_tolerance_lu: float | None = None  # None: the genre's tolerance, else 1 LU
    reject: tuple[str, ...] = (
        "clipping",
        "silence",
        "loudness",
        "true_peak",
        "delivery",
    )  # failures that reject
    regenerate: int = 0  # new-seed attempts for a rejected track before it is kept as rejected
    analyzer: str = "full"  # "full" (evals.analyze_audio + delivery checks) or "basic" (levels only; faster)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> QcRules:
        data = dict(data or {})
        if "reject" in data and data["reject"] is None:  # an empty "reject:" in YAML: nothing rejects
            data["reject"] = []
        rules = from_mapping(cls, data, "qc", what="QC setting")
        rules.validate()
        return rules

    def validate(self) -> None:
        bad = [c for c in self.reject if c not in CHECKS]
        if bad:
            raise InputError("qc.reject", bad[0], f"unknown check; choose from {', '.join(CHECKS)}")
        if self.analyzer not in ANALYZERS:
            raise InputError("qc.analyzer", self.analyzer, f"choose one of {', '.join(ANALYZERS)}")
        if self.key_match not in KEY_MODES:
            raise InputError("qc.key_match", self.key_match, f"choose one of {', '.join(KEY_MODES)}")
        whole("qc.regenerate", self.regenerate, 0, 10)
        for name in ("max_clipped_fraction", "tempo_tolerance_bpm"):
            number(f"qc.{name}", getattr(self, name), 0)


@dataclass(frozen=True)
class Target:
    """What a track should measure, from its request and genre."""

    bpm_range: tuple[float, float] | None = None
    key: str | None = None
    loudness_lufs: float | None = None
    loudness_tolerance_lu: float = 1.0
    true_peak_dbtp: float | None = None
    max_silence_s: float = DEFAULT_MAX_SILENCE_S


def target_for(
    request: Any, preset: GenrePreset | None, rules: QcRules, mastering_spec: Any = None
) -> Target:
    if request.bpm is not None:
        bpm_range: tuple[float, float] | None = (float(request.bpm), float(request.bpm))
    elif preset is not None:
        bpm_range = (float(preset.bpm_range[0]), float(preset.bpm_range[1]))
    else:
        bpm_range = None
    tolerance = rules.loudness_tolerance_lu
    if tolerance is None:
        tolerance = preset.loudness_tolerance_lu if preset is not None else 1.0
    max_silence = rules.max_silence_s
    if max_silence is None:
        max_silence = preset.max_silence_s if preset is not None else DEFAULT_MAX_SILENCE_S
    return Target(
        bpm_range=bpm_range,
        key=request.keyscale,
        loudness_lufs=getattr(mastering_spec, "target_lufs", None),
        loudness_tolerance_lu=float(tolerance),
        true_peak_dbtp=getattr(mastering_spec, "true_peak_dbtp", None),
        max_silence_s=float(max_silence),
    )


# --- measurements ---------------------------------------------------------------------------------------------------
def _finite_or_none(value: float) -> float | None:
    return (
        value if math.isfinite(value) else None
    )  # silence has no loudness or peak; None keeps the JSON valid


def basic_analyzer(audio: Audio, request: Any = None, genre: str | None = None) -> dict[str, Any]:
    """Clipping, silence, loudness and true peak only: the same meters and definitions ``full_analyzer`` uses."""
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)  # what analyze_audio measures
    return {
        "clipped_fraction": clipped_fraction(samples),
        "longest_silence_s": longest_silence_s(samples, audio.sample_rate),
        "integrated_lufs": _finite_or_none(measure_loudness(samples, audio.sample_rate).integrated_lufs),
        "true_peak_dbtp": _finite_or_none(to_db(true_peak(samples))),
        "tempo_bpm": None,
        "key": None,
    }


_EVALS_METRICS = (
    "tempo_bpm",
    "beat_regularity",
    "key_confidence",
    "clipped_samples",
    "dropouts",
    "dc_offset",
    "mono_loudness_drop_lu",
    "loudness_range_lu",
    "spectral_centroid_hz",
    "onset_density_per_s",
    "longest_silence_s",
)


def full_analyzer(audio: Audio, request: Any = None, genre: str | None = None) -> dict[str, Any]:
    """``evals.analyze_audio`` with the genre's delivery checks, flattened to the names the checks use."""
    from evals import analyze_audio
    from evals.audio.delivery import load_delivery_specs

    known = genre if genre in load_delivery_specs() else None
    a = analyze_audio(audio, genre=known)
    metrics: dict[str, Any] = {name: getattr(a, name) for name in _EVALS_METRICS}
    metrics["integrated_lufs"] = _finite_or_none(a.integrated_loudness_lufs)
    metrics["true_peak_dbtp"] = _finite_or_none(a.true_peak_dbtp)
    metrics["key"] = f"{a.key} {a.mode}" if a.key and a.mode else None
    metrics["clipped_fraction"] = clipped_fraction(audio.samples)
    if a.delivery is not None:
        metrics["delivery_passed"] = a.delivery.passed
        metrics["delivery_reasons"] = list(a.delivery.reasons)
    return metrics


Analyzer = Callable[[Audio, Any, "str | None"], dict[str, Any]]


def analyzer_for(rules: QcRules) -> Analyzer:
    return full_analyzer if rules.analyzer == "full" else basic_analyzer


# --- checks ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool | None  # None: not measured or no target, so neither pass nor fail
    value: Any
    limit: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CheckFn = Callable[[dict[str, Any], Target, QcRules], CheckResult]


def _clipping(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    v = m.get("clipped_fraction")
    return CheckResult(
        "clipping", None if v is None else v <= r.max_clipped_fraction, v, f"<= {r.max_clipped_fraction:g}"
    )


def _silence(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    v = m.get("longest_silence_s")
    return CheckResult("silence", None if v is None else v <= t.max_silence_s, v, f"<= {t.max_silence_s:g} s")


def _tempo(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    v = m.get("tempo_bpm")
    if v is None or t.bpm_range is None:
        return CheckResult("tempo", None, v, "not measured" if v is None else "no target")
    lo, hi = t.bpm_range[0] - r.tempo_tolerance_bpm, t.bpm_range[1] + r.tempo_tolerance_bpm
    # Beat trackers often report half or double time; a track at 2x the target still fits the venue.
    ok = any(lo <= float(v) * f <= hi for f in (1.0, 0.5, 2.0))
    return CheckResult("tempo", ok, v, f"{lo:g}-{hi:g} bpm (or half/double)")


def key_pitch(key: str) -> tuple[int, str] | None:
    """'F# minor' -> (6, 'minor'); None if unreadable."""
    try:
        return parse_keyscale(str(key))
    except ValueError:
        return None


def keys_match(measured: str, wanted: str, mode: str = "relative") -> bool | None:
    a, b = key_pitch(measured), key_pitch(wanted)
    if a is None or b is None:
        return None
    if a == b:
        return True
    if mode != "relative" or a[1] == b[1]:
        return False
    major, minor = (a, b) if a[1] == "major" else (b, a)
    return (major[0] - 3) % 12 == minor[0]  # relative minor is three semitones below the major


def _key(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    v = m.get("key")
    if r.key_match == "off" or v is None or t.key is None:
        return CheckResult(
            "key", None, v, "off" if r.key_match == "off" else "not measured" if v is None else "no target"
        )
    return CheckResult("key", keys_match(str(v), t.key, r.key_match), v, f"{t.key} ({r.key_match})")


def _loudness(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    v = m.get("integrated_lufs")
    if t.loudness_lufs is None:
        return CheckResult("loudness", None, v, "no target")
    ok = v is not None and abs(float(v) - t.loudness_lufs) <= t.loudness_tolerance_lu + 1e-9
    return CheckResult("loudness", ok, v, f"{t.loudness_lufs:g} +- {t.loudness_tolerance_lu:g} LUFS")


def _true_peak(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    v = m.get("true_peak_dbtp")
    if t.true_peak_dbtp is None:
        return CheckResult("true_peak", None, v, "no target")
    ok = v is None or float(v) <= t.true_peak_dbtp + 0.05  # None = silence, which has no peak to exceed
    return CheckResult("true_peak", ok, v, f"<= {t.true_peak_dbtp:g} dBTP")


def _delivery(m: dict[str, Any], t: Target, r: QcRules) -> CheckResult:
    passed = m.get("delivery_passed")
    reasons = "; ".join(m.get("delivery_reasons") or [])
    return CheckResult("delivery", passed, reasons or None, "genre delivery spec (evals.check_delivery)")


CHECKS: dict[str, CheckFn] = {
    "clipping": _clipping,
    "silence": _silence,
    "tempo": _tempo,
    "key": _key,
    "loudness": _loudness,
    "true_peak": _true_peak,
    "delivery": _delivery,
}


@dataclass
class QcReport:
    checks: list[CheckResult] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    reject: tuple[str, ...] = ()

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.passed is False]

    @property
    def rejected(self) -> bool:
        return any(name in self.reject for name in self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rejected": self.rejected,
            "failed": self.failed,
            "metrics": self.metrics,
            "checks": [c.to_dict() for c in self.checks],
        }


def run_checks(metrics: dict[str, Any], target: Target, rules: QcRules) -> QcReport:
    if not rules.enabled:
        return QcReport([], metrics, ())
    return QcReport([fn(metrics, target, rules) for fn in CHECKS.values()], metrics, rules.reject)
