"""Adherence of a track to the recipe it was generated from: tempo (with octave handling), key, duration."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.core.errors import InputError
from workbench.core.keyscale import PITCH_CLASSES, parse_keyscale, pitch_class

DEFAULT_BPM_TOLERANCE_PCT = 4.0  # the usual tolerance in MIREX tempo evaluation (8 % total window)
DEFAULT_DURATION_TOLERANCE_S = 1.0
OCTAVE_FACTORS = (0.5, 2.0, 1.0 / 3.0, 3.0)  # metrical levels a tempo estimator commonly reports instead


@dataclass(frozen=True)
class Recipe:
    """What a track was asked to be. Every field is optional; only the given ones are checked."""

    bpm: float | None = None
    keyscale: str | None = None  # "F major", "C# minor", "Bb major"
    duration_s: float | None = None
    bpm_tolerance_pct: float = DEFAULT_BPM_TOLERANCE_PCT
    duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S

    def __post_init__(self) -> None:
        if self.bpm is not None and not 20 <= self.bpm <= 400:
            raise InputError("recipe.bpm", self.bpm, "give a tempo between 20 and 400 BPM, or leave it empty")
        if self.keyscale is not None:
            try:
                parse_keyscale(self.keyscale)
            except ValueError:
                raise InputError(
                    "recipe.keyscale", self.keyscale, "write it like 'C major', 'F# minor' or 'Bb major'"
                ) from None
        if self.duration_s is not None and self.duration_s <= 0:
            raise InputError("recipe.duration_s", self.duration_s, "give a positive duration in seconds")
        if self.bpm_tolerance_pct <= 0 or self.duration_tolerance_s < 0:
            raise InputError(
                "recipe tolerance",
                (self.bpm_tolerance_pct, self.duration_tolerance_s),
                "bpm_tolerance_pct must be > 0 and duration_tolerance_s >= 0",
            )

    @classmethod
    def from_request(cls, request: object) -> Recipe:
        """Recipe from any generation request carrying ``bpm``, ``keyscale`` and ``duration_s`` attributes."""
        bpm = getattr(request, "bpm", None)
        return cls(
            bpm=float(bpm) if bpm is not None else None,
            keyscale=getattr(request, "keyscale", None),
            duration_s=getattr(request, "duration_s", None),
        )


@dataclass(frozen=True)
class Adherence:
    """Per-field verdicts (None = not asked for) and one reason per failed field."""

    tempo_ok: bool | None
    tempo_octave_error: bool  # the measured tempo matched only after halving/doubling/thirding
    key_ok: bool | None
    key_relative: bool  # measured the relative major/minor of the requested key (a near miss)
    duration_ok: bool | None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(v is not False for v in (self.tempo_ok, self.key_ok, self.duration_ok))


def tempo_matches(measured_bpm: float, target_bpm: float, tolerance_pct: float) -> tuple[bool, bool]:
    """(matches, only as an octave error). Octave matches are accepted: estimators read half or double time."""
    if abs(measured_bpm - target_bpm) <= target_bpm * tolerance_pct / 100:
        return True, False
    for factor in OCTAVE_FACTORS:
        if abs(measured_bpm * factor - target_bpm) <= target_bpm * tolerance_pct / 100:
            return True, True
    return False, False


def check_adherence(
    recipe: Recipe,
    tempo_bpm: float | None,
    key: str | None,
    mode: str | None,
    duration_s: float,
    *,
    tempo_uncertain: bool = False,
) -> Adherence:
    """``tempo_uncertain``: the tempo reading is below the calibrated confidence, so tempo is not judged (None)."""
    reasons: list[str] = []
    tempo_ok: bool | None = None
    octave = False
    if recipe.bpm is not None and not tempo_uncertain:
        if tempo_bpm is None:
            tempo_ok = False
            reasons.append(f"tempo: asked {recipe.bpm:g} BPM, no steady tempo detected")
        else:
            tempo_ok, octave = tempo_matches(tempo_bpm, recipe.bpm, recipe.bpm_tolerance_pct)
            if not tempo_ok:
                reasons.append(
                    f"tempo: asked {recipe.bpm:g} BPM, measured {tempo_bpm:.1f} BPM "
                    f"(outside ±{recipe.bpm_tolerance_pct:g} %, also at half/double tempo)"
                )
    key_ok: bool | None = None
    relative = False
    if recipe.keyscale is not None:
        want_class, want_mode = parse_keyscale(recipe.keyscale)
        if key is None or mode is None:
            key_ok = False
            reasons.append(f"key: asked {recipe.keyscale}, no pitched content detected")
        else:
            got_class = pitch_class(key)
            key_ok = got_class == want_class and mode == want_mode
            shift = 3 if want_mode == "major" else -3  # relative minor is 3 semitones below the major tonic
            relative = mode != want_mode and got_class == (want_class - shift) % 12
            if not key_ok:
                note = " (its relative key)" if relative else ""
                reasons.append(
                    f"key: asked {PITCH_CLASSES[want_class]} {want_mode}, measured {key} {mode}{note}"
                )
    duration_ok: bool | None = None
    if recipe.duration_s is not None:
        duration_ok = abs(duration_s - recipe.duration_s) <= recipe.duration_tolerance_s
        if not duration_ok:
            reasons.append(
                f"duration: asked {recipe.duration_s:g} s, got {duration_s:.1f} s "
                f"(tolerance ±{recipe.duration_tolerance_s:g} s)"
            )
    return Adherence(tempo_ok, octave, key_ok, relative, duration_ok, tuple(reasons))
