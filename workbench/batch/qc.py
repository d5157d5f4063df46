"""The QC gate: per-track metrics, checks against the row's targets, and which failed checks reject a track.

Metrics come from an *analyzer*, a function ``Audio -> dict``. The default is the evaluation package's
``evals.analyze_audio`` when it is installed (tempo and key included), else the built-in measurements below
(clipping, silence, loudness, true peak; tempo and key are then reported as "not measured"). Checks are plain
functions in ``CHECKS``, so a team can add one (say, a CLAP-score floor) without touching the runner.

Music checks (clipping, silence, tempo, key) look at the generated audio; delivery checks (loudness, true peak)
look at the mastered audio, because mastering is what sets those.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.audio_io import Audio
from workbench.batch.presets import GenrePreset
from workbench.errors import InputError

CHECK_NAMES = ("clipping", "silence", "tempo", "key", "loudness", "true_peak")
MUSIC_CHECKS = ("clipping", "silence", "tempo", "key")
CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped (float output of the VAE can exceed 1.0)
SILENCE_FRAME_S = 0.05
DEFAULT_MAX_SILENCE_S = 2.0
KEY_MODES = ("exact", "relative", "off")


@dataclass(frozen=True)
class QcRules:
    """What is checked and what rejects a track. Load from the plan's ``qc:`` mapping with ``from_dict``."""

    enabled: bool = True
    max_clipped_fraction: float = 0.001  # share of samples at full scale
    silence_threshold_dbfs: float = -60.0
    max_silence_s: float | None = None  # None: the genre's max_silence_s, else 2 s
    tempo_tolerance_bpm: float = 8.0  # around the row's bpm (or the genre's range); half/double time accepted
    key_match: str = "relative"  # "exact", "relative" (A minor passes for C major) or "off"
    loudness_tolerance_lu: float | None = None  # None: the genre's tolerance, else 1 LU
    reject: tuple[str, ...] = ("clipping", "silence", "loudness", "true_peak")  # failures that reject
    regenerate: int = 0  # new-seed attempts for a rejected track before it is kept as rejected

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> QcRules:
        data = dict(data or {})
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(
                f"qc.{unknown[0]}",
                data[unknown[0]],
                f"unknown QC setting; allowed: {', '.join(sorted(allowed))}",
            )
        if "reject" in data:
            data["reject"] = tuple(data["reject"] or ())
        rules = cls(**data)
        rules.validate()
        return rules

    def validate(self) -> None:
        bad = [c for c in self.reject if c not in CHECKS]
        if bad:
            raise InputError("qc.reject", bad[0], f"unknown check; choose from {', '.join(CHECKS)}")
        if self.key_match not in KEY_MODES:
            raise InputError("qc.key_match", self.key_match, f"choose one of {', '.join(KEY_MODES)}")
        if (
            isinstance(self.regenerate, bool)
            or not isinstance(self.regenerate, int)
            or not 0 <= self.regenerate <= 10
        ):
            raise InputError("qc.regenerate", self.regenerate, "must be a whole number between 0 and 10")
        for name in ("max_clipped_fraction", "tempo_tolerance_bpm"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InputError(f"qc.{name}", value, "must be a number >= 0")


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
def clipped_fraction(samples: np.ndarray) -> float:
    return float(np.mean(np.abs(samples) >= CLIP_LEVEL)) if samples.size else 0.0


def longest_silence_s(samples: np.ndarray, sample_rate: int, threshold_dbfs: float = -60.0) -> float:
    """Longest run of 50 ms frames whose RMS (over channels) is below the threshold."""
    hop = max(1, int(SILENCE_FRAME_S * sample_rate))
    n = samples.shape[1] // hop
    if n == 0:
        return 0.0
    frames = samples[:, : n * hop].reshape(samples.shape[0], n, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=(0, 2)))
    quiet = rms < 10.0 ** (threshold_dbfs / 20.0)
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    return longest * hop / sample_rate


def level_metrics(audio: Audio) -> dict[str, float | None]:
    """Integrated loudness and true peak with the same meters mastering uses (BS.1770, 4x oversampled)."""
    from workbench.mastering import measure

    m = measure(audio.samples, audio.sample_rate)
    return {"integrated_lufs": m["integrated_lufs"], "true_peak_dbtp": m["true_peak_dbtp"]}


def basic_analyzer(audio: Audio) -> dict[str, Any]:
    return {
        "clipped_fraction": clipped_fraction(audio.samples),
        "longest_silence_s": longest_silence_s(audio.samples, audio.sample_rate),
        **level_metrics(audio),
        "tempo_bpm": None,
        "key": None,
    }


Analyzer = Callable[[Audio], dict[str, Any]]


def default_analyzer() -> Analyzer:
    """``evals.analyze_audio`` when the metrics package provides it, else the built-in measurements."""
    try:
        from evals import analyze_audio  # type: ignore[attr-defined]
    except ImportError:
        return basic_analyzer

    def analyze(audio: Audio) -> dict[str, Any]:
        return {**basic_analyzer(audio), **_from_evals(analyze_audio(audio))}

    return analyze


def _from_evals(result: Any) -> dict[str, Any]:
    """Map the metrics package's result onto the names the checks use (dataclass or dict)."""
    is_instance = dataclasses.is_dataclass(result) and not isinstance(result, type)
    data = dataclasses.asdict(result) if is_instance else dict(result)
    names = {
        "tempo_bpm": ("tempo_bpm", "bpm", "tempo"),
        "key": ("key", "keyscale"),
        "integrated_lufs": ("integrated_lufs", "loudness_lufs"),
        "true_peak_dbtp": ("true_peak_dbtp",),
        "clipped_fraction": ("clipped_fraction", "clipping_fraction"),
        "longest_silence_s": ("longest_silence_s", "max_silence_s"),
    }
    out = {}
    for ours, theirs in names.items():
        for name in theirs:
            if data.get(name) is not None:
                out[ours] = data[name]
                break
    return out


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


_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def key_pitch(key: str) -> tuple[int, str] | None:
    """'F# minor' -> (6, 'minor'); None if unreadable."""
    parts = str(key).replace("♯", "#").replace("♭", "b").split()
    if len(parts) != 2 or not parts[0] or parts[0][0] not in _PITCH or parts[1] not in ("major", "minor"):
        return None
    pitch = _PITCH[parts[0][0]] + sum(1 if c == "#" else -1 if c == "b" else 0 for c in parts[0][1:])
    return pitch % 12, parts[1]


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


CHECKS: dict[str, CheckFn] = {
    "clipping": _clipping,
    "silence": _silence,
    "tempo": _tempo,
    "key": _key,
    "loudness": _loudness,
    "true_peak": _true_peak,
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


def run_checks(
    music_metrics: dict[str, Any], delivery_metrics: dict[str, Any], target: Target, rules: QcRules
) -> QcReport:
    """Music checks on the generated audio's metrics, delivery checks on the mastered audio's."""
    if not rules.enabled:
        return QcReport([], {**music_metrics, **delivery_metrics}, ())
    checks = []
    for name, fn in CHECKS.items():
        checks.append(fn(music_metrics if name in MUSIC_CHECKS else delivery_metrics, target, rules))
    metrics = {**music_metrics, **{f"delivered_{k}": v for k, v in delivery_metrics.items()}}
    return QcReport(checks, metrics, rules.reject)
