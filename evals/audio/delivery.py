"""Delivery checks: does an analyzed track meet its genre's delivery spec (configs/genres.yaml)?

Per genre the YAML gives the loudness target and tolerance, the true-peak ceiling, the tempo range and the longest
allowed silence. On top of those, every genre gets the same technical-defect limits (``DefectLimits``): no clipped
runs, no dropouts, DC offset at most 0.001 FS, mono fold-down at most 3 LU quieter (ceiling speakers are often
mono), loudness range at most 8 LU (background music should not swell and duck). Those defaults follow common
mastering QC practice (see docs/metrics.md); callers can pass their own ``DefectLimits``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from evals.audio.recipe import OCTAVE_FACTORS
from evals.audio.result import DeliveryCheck, DeliveryResult, TrackAnalysis
from workbench.core.errors import InputError
from workbench.core.genres import GENRES_PATH, load_genres


@dataclass(frozen=True)
class DeliverySpec:
    """The delivery part of a genre preset."""

    genre: str
    loudness_lufs: float
    loudness_tolerance_lu: float
    true_peak_dbtp: float
    bpm_range: tuple[float, float]
    max_silence_s: float


@dataclass(frozen=True)
class DefectLimits:
    max_clipped_samples: int = 0
    max_dropouts: int = 0
    max_abs_dc_offset: float = 0.001
    max_mono_loudness_drop_lu: float = 3.0
    max_loudness_range_lu: float = 8.0


@functools.cache
def load_delivery_specs(path: Path = GENRES_PATH) -> dict[str, DeliverySpec]:
    """Delivery specs of every genre in ``path``, from the shared preset loader (workbench.core.genres)."""
    return {
        name: DeliverySpec(
            genre=name,
            loudness_lufs=g.loudness_lufs,
            loudness_tolerance_lu=g.loudness_tolerance_lu,
            true_peak_dbtp=g.true_peak_dbtp,
            bpm_range=(float(g.bpm_range[0]), float(g.bpm_range[1])),
            max_silence_s=g.max_silence_s,
        )
        for name, g in load_genres(path).items()
    }


def delivery_spec(genre: str, path: Path = GENRES_PATH) -> DeliverySpec:
    specs = load_delivery_specs(path)
    if genre not in specs:
        raise InputError("genre", genre, f"unknown genre; known genres: {', '.join(sorted(specs))}")
    return specs[genre]


def _check(name: str, passed: bool, measured: float | int | None, limit: str, reason: str) -> DeliveryCheck:
    return DeliveryCheck(name, passed, measured, limit, "" if passed else reason)


def _tempo_check(
    tempo_bpm: float | None, low: float, high: float, *, uncertain: bool = False
) -> DeliveryCheck:
    limit = f"{low:g}-{high:g} BPM"
    if tempo_bpm is not None and uncertain:
        # A low-confidence reading on soft, drumless material is as likely wrong as right: not judged.
        note = f"read as {tempo_bpm:.1f} BPM but uncertain (no clear pulse); not checked"
        return DeliveryCheck("tempo_bpm", True, tempo_bpm, limit, note, skipped=True)
    if tempo_bpm is None:
        # Ambient material often has no steady pulse; that is not a delivery defect, so the check is skipped.
        return DeliveryCheck(
            "tempo_bpm", True, None, limit, "no steady tempo detected; not checked", skipped=True
        )
    if low <= tempo_bpm <= high:
        return _check("tempo_bpm", True, tempo_bpm, limit, "")
    for factor in OCTAVE_FACTORS:
        if low <= tempo_bpm * factor <= high:
            # Half/double-time readings are estimator ambiguity, not a wrong tempo.
            note = f"read as {tempo_bpm:.1f} BPM, in range at x{factor:g} (metrical ambiguity)"
            return DeliveryCheck("tempo_bpm", True, tempo_bpm, limit, note)
    return _check("tempo_bpm", False, tempo_bpm, limit, f"tempo {tempo_bpm:.1f} BPM outside {limit}")


def check_delivery(
    analysis: TrackAnalysis,
    genre: str,
    limits: DefectLimits | None = None,
    genres_path: Path = GENRES_PATH,
) -> DeliveryResult:
    """Pass/fail of ``analysis`` against ``genre``'s delivery spec, with one reason per failed check."""
    spec = delivery_spec(genre, genres_path)
    limits = limits or DefectLimits()
    a = analysis
    checks = []
    loudness_limit = f"{spec.loudness_lufs:g} ± {spec.loudness_tolerance_lu:g} LUFS"
    loudness_ok = abs(a.integrated_loudness_lufs - spec.loudness_lufs) <= spec.loudness_tolerance_lu
    checks.append(
        _check(
            "integrated_loudness_lufs",
            loudness_ok,
            a.integrated_loudness_lufs,
            loudness_limit,
            f"loudness {a.integrated_loudness_lufs:.1f} LUFS outside {loudness_limit}",
        )
    )
    checks.append(
        _check(
            "true_peak_dbtp",
            a.true_peak_dbtp <= spec.true_peak_dbtp,
            a.true_peak_dbtp,
            f"<= {spec.true_peak_dbtp:g} dBTP",
            f"true peak {a.true_peak_dbtp:.2f} dBTP above the {spec.true_peak_dbtp:g} dBTP ceiling",
        )
    )
    checks.append(_tempo_check(a.tempo_bpm, *spec.bpm_range, uncertain=a.tempo_uncertain))
    for name, value in (
        ("leading_silence_s", a.leading_silence_s),
        ("trailing_silence_s", a.trailing_silence_s),
        ("longest_silence_s", a.longest_silence_s),
    ):
        label = name.removesuffix("_s").replace("_", " ")
        checks.append(
            _check(
                name,
                value <= spec.max_silence_s,
                value,
                f"<= {spec.max_silence_s:g} s",
                f"{label} {value:.2f} s longer than {spec.max_silence_s:g} s",
            )
        )
    checks.append(
        _check(
            "clipped_samples",
            a.clipped_samples <= limits.max_clipped_samples,
            a.clipped_samples,
            f"<= {limits.max_clipped_samples}",
            f"{a.clipped_samples} clipped samples (runs of >= 3 at full scale)",
        )
    )
    checks.append(
        _check(
            "dropouts",
            a.dropouts <= limits.max_dropouts,
            a.dropouts,
            f"<= {limits.max_dropouts}",
            f"{a.dropouts} dropout(s): short gaps of digital silence inside the music",
        )
    )
    checks.append(
        _check(
            "dc_offset",
            abs(a.dc_offset) <= limits.max_abs_dc_offset,
            a.dc_offset,
            f"|x| <= {limits.max_abs_dc_offset:g} FS",
            f"DC offset {a.dc_offset:+.4f} FS beyond ±{limits.max_abs_dc_offset:g}",
        )
    )
    checks.append(
        _check(
            "mono_loudness_drop_lu",
            a.mono_loudness_drop_lu <= limits.max_mono_loudness_drop_lu,
            a.mono_loudness_drop_lu,
            f"<= {limits.max_mono_loudness_drop_lu:g} LU",
            f"mono fold-down {a.mono_loudness_drop_lu:.1f} LU quieter than stereo (phase problems)",
        )
    )
    if a.loudness_range_lu is not None:
        checks.append(
            _check(
                "loudness_range_lu",
                a.loudness_range_lu <= limits.max_loudness_range_lu,
                a.loudness_range_lu,
                f"<= {limits.max_loudness_range_lu:g} LU",
                f"loudness range {a.loudness_range_lu:.1f} LU above {limits.max_loudness_range_lu:g} LU",
            )
        )
    reasons = tuple(c.reason for c in checks if not c.passed)
    return DeliveryResult(genre=genre, passed=not reasons, reasons=reasons, checks=tuple(checks))
