"""Turning a source clip into a blind stimulus: common length with fades, loudness match, anonymised file.

A listener prefers the louder of two otherwise equal clips, and a longer or tagged file gives the system away, so
every stimulus gets the same integrated loudness (within ``LOUDNESS_TOLERANCE_LU``), a true peak under the ceiling,
optionally the same length, and is written as bare 16-bit PCM WAV (soundfile writes no INFO/LIST chunk) under a
random name.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from workbench.audio.mastering import MasteringSpec, apply_fades, integrated_lufs, master, true_peak
from workbench.core.audio_io import SAMPLE_RATE, Audio, conform
from workbench.core.errors import AudioInputError

LOUDNESS_TOLERANCE_LU = 0.5
GOLD_LOWPASS_HZ = 3500.0  # the BS.1534 low anchor
GOLD_NOISE_DB = -30.0  # white noise relative to the clip's RMS: audible, not masking


@dataclass(frozen=True)
class Prepared:
    audio: Audio
    loudness_lufs: float
    true_peak_dbtp: float
    duration_s: float


def cut(audio: Audio, start_s: float, duration_s: float | None) -> Audio:
    """The common excerpt. A clip shorter than the excerpt is an error: padding with silence would mark it."""
    if duration_s is None:
        start = int(round(start_s * audio.sample_rate))
        return Audio(audio.samples[:, start:], audio.sample_rate, list(audio.notes))
    start = int(round(start_s * audio.sample_rate))
    frames = int(round(duration_s * audio.sample_rate))
    if audio.frames < start + frames:
        raise AudioInputError(
            "clip_duration_s",
            duration_s,
            f"a clip is only {audio.duration_s:.2f} s long (from {start_s:g} s); lower clip_duration_s or "
            "clip_start_s, or supply longer clips",
        )
    return Audio(audio.samples[:, start : start + frames], audio.sample_rate, list(audio.notes))


def prepare(
    audio: Audio,
    *,
    target_lufs: float,
    ceiling_dbtp: float,
    start_s: float = 0.0,
    duration_s: float | None = None,
    fade_ms: float = 0.0,
) -> Prepared:
    """Conform to 48 kHz stereo, cut, fade, gain to the target; the mastering limiter only where peaks need it."""
    audio = cut(conform(audio), start_s, duration_s)
    fade_s = min(fade_ms / 1000.0, audio.duration_s / 4)
    samples = apply_fades(audio.samples, audio.sample_rate, fade_s, fade_s)
    lufs = integrated_lufs(samples, audio.sample_rate)
    if not np.isfinite(lufs):
        raise AudioInputError(
            "clip", "silent", "is silent or shorter than 0.4 s; it cannot be loudness-matched"
        )
    samples = (samples * np.float32(10.0 ** ((target_lufs - lufs) / 20.0))).astype(np.float32)
    lufs = integrated_lufs(
        samples, audio.sample_rate
    )  # not assumed: the -70 LUFS absolute gate is not scale-free
    tp = _dbtp(samples)
    for _ in range(2):  # the limiter lowers the loudness a little; a second pass converges
        if tp <= ceiling_dbtp and abs(lufs - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        spec = MasteringSpec(target_lufs=target_lufs, true_peak_dbtp=ceiling_dbtp)
        samples = master(Audio(samples, audio.sample_rate, []), spec).audio.samples
        lufs, tp = integrated_lufs(samples, audio.sample_rate), _dbtp(samples)
    if tp > ceiling_dbtp + 1e-6 or abs(lufs - target_lufs) > LOUDNESS_TOLERANCE_LU:
        raise AudioInputError(
            "clip",
            f"{lufs:.2f} LUFS",
            f"cannot be matched to {target_lufs:g} LUFS within {LOUDNESS_TOLERANCE_LU} LU under a "
            f"{ceiling_dbtp:g} dBTP ceiling; lower target_lufs",
        )
    out = Audio(samples, audio.sample_rate, list(audio.notes))
    return Prepared(out, float(lufs), float(tp), out.duration_s)


def _dbtp(samples: np.ndarray) -> float:
    return float(20.0 * np.log10(max(true_peak(samples), 1e-12)))


def degrade(audio: Audio, seed: int) -> Audio:
    """The gold-trial copy: 3.5 kHz low-pass plus white noise, which an attentive listener always hears."""
    sos = scipy.signal.butter(8, GOLD_LOWPASS_HZ, btype="low", fs=audio.sample_rate, output="sos")
    low = scipy.signal.sosfiltfilt(sos, audio.samples.astype(np.float64), axis=-1)
    rms = float(np.sqrt(np.mean(low**2))) or 1e-4
    noise = np.random.default_rng(seed).standard_normal(low.shape) * rms * 10.0 ** (GOLD_NOISE_DB / 20.0)
    return Audio((low + noise).astype(np.float32), audio.sample_rate, list(audio.notes))


def write_anonymised(audio: Audio, folder: Path) -> Path:
    """Write bare PCM WAV under a random 128-bit name; returns the path (which never leaves the server)."""
    folder.mkdir(parents=True, exist_ok=True)
    if audio.sample_rate != SAMPLE_RATE:
        raise AudioInputError(
            "sample_rate", audio.sample_rate, f"stimuli must be {SAMPLE_RATE} Hz; conform first"
        )
    path = folder / f"{secrets.token_hex(16)}.wav"
    tmp = path.with_suffix(".tmp")
    sf.write(str(tmp), np.clip(audio.samples, -1.0, 1.0).T, audio.sample_rate, subtype="PCM_16", format="WAV")
    tmp.replace(path)
    return path
