"""Mastering post-step for any result: fades, loudness normalisation, a true-peak ceiling; numbers before/after.

Order: DC removal (a zero-phase 10 Hz high-pass; an offset wastes headroom, skews loudness-matched playback and
thumps at every start and stop), fades (they change the loudness), then one static gain to the integrated-loudness target (BS.1770,
measured by ``evals.audio.loudness``), then the ceiling.

The ceiling is a look-ahead peak limiter, not a plain gain reduction. With gain reduction alone a loud target on a
peaky track (retail -14 LUFS with a -1 dBTP ceiling, say) misses the loudness target by several dB, and level
consistency across a venue's playlist is what the target is for. The limiter works offline on the whole file, so
its "look-ahead" is free: the gain needed at every sample (ceiling / 4x-oversampled peak there) is spread with a
sliding minimum over +-``LIMITER_WINDOW_S`` and smoothed with a moving average of the same length, which keeps the
gain at or below the needed gain everywhere (every averaged value is a minimum over a window containing that
sample) while ramps take ``LIMITER_WINDOW_S`` - slow enough not to distort bass. A final check re-measures the true
peak; any residue from inter-sample interpolation is removed with a small static trim, so the ceiling holds.
``ceiling_mode="gain"`` gives the plain static reduction for users who want no dynamics change at all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.signal

from workbench.core.audio_io import Audio
from workbench.core.errors import InputError

OVERSAMPLING = 4  # true peak per ITU-R BS.1770-4 Annex 2 needs >= 4x
LIMITER_WINDOW_S = 0.010  # attack and release of the look-ahead limiter
LIMITER_MARGIN_DB = 0.1  # aim slightly under the ceiling so interpolation residue rarely needs the final trim
MIN_TARGET_LUFS = -60.0
MAX_TARGET_LUFS = -5.0
CEILING_MODES = ("limit", "gain")


@dataclass(frozen=True)
class MasteringSpec:
    target_lufs: float | None  # integrated loudness target; None leaves the level alone
    true_peak_dbtp: float | None = -1.0  # ceiling; None disables it
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    ceiling_mode: str = "limit"  # "limit" (look-ahead limiter) or "gain" (static reduction)
    remove_dc: bool = True  # 10 Hz zero-phase high-pass before anything else

    def validate(self, duration_s: float | None = None) -> None:
        if self.target_lufs is not None and not (
            _finite(self.target_lufs) and MIN_TARGET_LUFS <= self.target_lufs <= MAX_TARGET_LUFS
        ):
            raise InputError(
                "target_lufs",
                self.target_lufs,
                f"use a loudness between {MIN_TARGET_LUFS:g} and {MAX_TARGET_LUFS:g} LUFS (e.g. -18), or leave it empty",
            )
        if self.true_peak_dbtp is not None and not (
            _finite(self.true_peak_dbtp) and -20.0 <= self.true_peak_dbtp <= 0.0
        ):
            raise InputError(
                "true_peak_dbtp", self.true_peak_dbtp, "use a ceiling between -20 and 0 dBTP (e.g. -1)"
            )
        for name, value in (("fade_in_s", self.fade_in_s), ("fade_out_s", self.fade_out_s)):
            if not (_finite(value) and value >= 0.0):
                raise InputError(name, value, "use a length in seconds >= 0")
        if duration_s is not None and self.fade_in_s + self.fade_out_s > duration_s + 1e-9:
            raise InputError(
                "fade_out_s",
                self.fade_out_s,
                f"fade in + fade out ({self.fade_in_s + self.fade_out_s:g} s) exceed the audio ({duration_s:.2f} s); shorten them",
            )
        if self.ceiling_mode not in CEILING_MODES:
            raise InputError("ceiling_mode", self.ceiling_mode, f"choose one of {', '.join(CEILING_MODES)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MasteringResult:
    audio: Audio
    before: dict[
        str, float | None
    ]  # integrated_lufs, true_peak_dbtp, sample_peak_dbfs (None = -inf, silence)
    after: dict[str, float | None]
    gain_db: float  # the static loudness gain applied (before the limiter)
    notes: list[str] = field(default_factory=list)
    spec: MasteringSpec | None = None
    limiter_reduction_db: float = 0.0  # deepest gain reduction of the limiter (0 = it did nothing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": None if self.spec is None else self.spec.to_dict(),
            "before": self.before,
            "after": self.after,
            "gain_db": round(self.gain_db, 3),
            "limiter_reduction_db": round(self.limiter_reduction_db, 3),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        def fmt(v: float | None, unit: str) -> str:
            return "silent" if v is None else f"{v:.1f} {unit}"

        return (
            f"loudness {fmt(self.before['integrated_lufs'], 'LUFS')} -> {fmt(self.after['integrated_lufs'], 'LUFS')}, "
            f"true peak {fmt(self.before['true_peak_dbtp'], 'dBTP')} -> {fmt(self.after['true_peak_dbtp'], 'dBTP')}, "
            f"gain {self.gain_db:+.1f} dB"
            + (
                f", limiter up to -{self.limiter_reduction_db:.1f} dB"
                if self.limiter_reduction_db > 0.05
                else ""
            )
        )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0 else float("-inf")


def integrated_lufs(samples: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness; -inf for silence or clips under 400 ms."""
    from evals.audio.loudness import measure_loudness

    return float(measure_loudness(samples, sample_rate).integrated_lufs)


def true_peak(samples: np.ndarray) -> float:
    """Linear true peak over all channels, 4x oversampled."""
    from evals.audio.peak import true_peak as evals_true_peak

    return float(evals_true_peak(samples))


def measure(samples: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    """The numbers shown and recorded. -inf (silence) becomes None so the dict is valid JSON."""

    def clean(value: float) -> float | None:
        return round(value, 2) if math.isfinite(value) else None

    sample_peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return {
        "integrated_lufs": clean(integrated_lufs(samples, sample_rate)),
        "true_peak_dbtp": clean(_db(true_peak(samples))),
        "sample_peak_dbfs": clean(_db(sample_peak)),
    }


def apply_fades(samples: np.ndarray, sample_rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Raised-cosine fades: no slope discontinuity at the ends of the ramp, so no click."""
    out = samples.copy()
    for length_s, is_in in ((fade_in_s, True), (fade_out_s, False)):
        n = min(int(round(length_s * sample_rate)), out.shape[1])
        if n <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
        if is_in:
            out[:, :n] *= ramp
        else:
            out[:, -n:] *= ramp[::-1]
    return out


def _oversampled_envelope(samples: np.ndarray) -> np.ndarray:
    """Per input sample: the largest |value| of the 4x-oversampled signal around it, over all channels."""
    up = scipy.signal.resample_poly(samples, OVERSAMPLING, 1, axis=-1)
    frames = samples.shape[1]
    envelope = (
        np.abs(up[:, : frames * OVERSAMPLING])
        .reshape(samples.shape[0], frames, OVERSAMPLING)
        .max(axis=(0, 2))
    )
    return np.maximum(envelope, np.abs(samples).max(axis=0))


def limit(samples: np.ndarray, sample_rate: int, ceiling_linear: float) -> tuple[np.ndarray, float]:
    """Offline look-ahead limiter (see the module docstring). Returns (samples, deepest reduction in dB)."""
    envelope = _oversampled_envelope(samples)
    needed = np.minimum(1.0, ceiling_linear / np.maximum(envelope, 1e-12))
    if needed.min() >= 1.0:
        return samples, 0.0
    window = max(1, int(round(LIMITER_WINDOW_S * sample_rate)))
    held = scipy.ndimage.minimum_filter1d(needed, size=2 * window - 1, mode="nearest")
    gain = scipy.ndimage.uniform_filter1d(held, size=window, mode="nearest")
    gain = np.minimum(
        gain, needed
    )  # float rounding in the moving average must never lift the gain above need
    return (samples * gain[None, :]).astype(np.float32), -_db(float(gain.min()))


def _apply_ceiling(
    samples: np.ndarray, sample_rate: int, spec: MasteringSpec, notes: list[str]
) -> tuple[np.ndarray, float]:
    assert spec.true_peak_dbtp is not None  # the caller checks
    ceiling = 10.0 ** (spec.true_peak_dbtp / 20.0)
    reduction_db = 0.0
    if spec.ceiling_mode == "limit":
        samples, reduction_db = limit(samples, sample_rate, ceiling * 10.0 ** (-LIMITER_MARGIN_DB / 20.0))
    peak = true_peak(samples)
    if peak > ceiling:
        trim_db = _db(ceiling / peak)
        samples = (samples * np.float32(ceiling / peak * 0.9999)).astype(np.float32)
        if spec.ceiling_mode == "gain":
            notes.append(f"true peak reduced by static gain {trim_db:.2f} dB to meet the ceiling")
        else:
            notes.append(f"trimmed {trim_db:.3f} dB after the limiter for inter-sample peaks")
    return samples, reduction_db


DC_CUTOFF_HZ = 10.0


def remove_dc(samples: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """High-pass at 10 Hz, zero phase (filtered forwards and backwards). Returns (audio, largest |offset| removed)."""
    offset = float(np.abs(samples.mean(axis=-1)).max()) if samples.size else 0.0
    if samples.shape[-1] < 64:
        return samples, 0.0
    sos = scipy.signal.butter(2, DC_CUTOFF_HZ, btype="highpass", fs=rate, output="sos")
    return scipy.signal.sosfiltfilt(sos, samples, axis=-1).astype(np.float32), offset


def master(audio: Audio, spec: MasteringSpec) -> MasteringResult:
    """Master ``audio`` (any rate and channel count). The input is not modified."""
    spec.validate(audio.duration_s)
    samples = np.asarray(audio.samples, dtype=np.float32)
    rate = audio.sample_rate
    before = measure(samples, rate)
    notes: list[str] = []
    if spec.remove_dc:
        samples, removed = remove_dc(samples, rate)
        if removed > 1e-3:
            notes.append(f"removed a DC offset of {removed:.3f} FS")
    out = apply_fades(samples, rate, spec.fade_in_s, spec.fade_out_s)
    gain_db = 0.0
    if spec.target_lufs is not None:
        current = integrated_lufs(out, rate)
        if math.isfinite(current):
            gain_db = spec.target_lufs - current
            out = (out * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
        else:
            notes.append("loudness not normalised: the audio is silent or shorter than 0.4 s")
    reduction_db = 0.0
    if spec.true_peak_dbtp is not None:
        out, reduction_db = _apply_ceiling(out, rate, spec, notes)
    after = measure(out, rate)
    if (
        spec.target_lufs is not None
        and after["integrated_lufs"] is not None
        and abs(after["integrated_lufs"] - spec.target_lufs) > 0.5
    ):
        notes.append(
            f"ended at {after['integrated_lufs']:.1f} LUFS, not {spec.target_lufs:g}: the true-peak ceiling "
            f"{'limiting' if spec.ceiling_mode == 'limit' else 'gain reduction'} took the level down"
        )
    return MasteringResult(
        Audio(out, rate, list(audio.notes)), before, after, gain_db, notes, spec, reduction_db
    )
