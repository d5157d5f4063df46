"""Turning a source clip into a blind stimulus: common length, band limit and fades, loudness match, anonymised
file, and a fresh 16-bit rendering for every serve.

A listener prefers the louder of two otherwise equal clips, and a longer or tagged file gives the system away, so
every stimulus gets the same integrated loudness (within ``LOUDNESS_TOLERANCE_LU``), a true peak under the ceiling,
optionally the same length, and is written as a bare WAV (soundfile writes no INFO/LIST chunk) under a random name.

What a script could read without listening is removed too:
- **Source codecs.** Every stimulus passes one linear-phase low-pass (``BAND_LIMIT_HZ``: flat to 15 kHz, at least
  100 dB down from 16 kHz). An MP3-sourced system otherwise shows its encoder's cut-off (about -111 dB above
  20 kHz against -52 dB from a FLAC source); after the common filter every stimulus carries only the serve
  dither up there.
- **Gold copies.** The degradation is applied to the cut excerpt *before* the band limit and the common fade, so
  the degraded copy fades in from silence at the same onset as the intact one (noise added after the fade made
  its first samples non-zero: a "first samples" rule found every gold trial).
- **Byte identity.** The stored stimulus is a 24-bit master; each served pair side gets its own 16-bit rendering
  with TPDF dither of +-1 LSB seeded per serve (``render_served``). The same clip in two pairs, a swapped
  repeat included, is never the same bytes. The dither is noise at about -96 dBFS, far under the -70 LUFS gate,
  so loudness and true peak move by less than 0.01 LU / dB.
"""

from __future__ import annotations

import functools
import io
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
BAND_LIMIT_HZ = 16_000.0  # stop-band edge of the common low-pass
BAND_LIMIT_TRANSITION_HZ = 1_000.0
BAND_LIMIT_ATTENUATION_DB = 100.0
MASTER_SUBTYPE = "PCM_24"  # on disk; the 16-bit serve rendering needs headroom below its own LSB to dither
SERVED_LSB = 1.0 / 32768.0
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


@functools.lru_cache(maxsize=4)
def _band_limit_taps(sample_rate: int) -> np.ndarray:
    nyquist = sample_rate / 2.0
    numtaps, beta = scipy.signal.kaiserord(BAND_LIMIT_ATTENUATION_DB, BAND_LIMIT_TRANSITION_HZ / nyquist)
    numtaps |= 1  # odd: a symmetric filter whose centre tap is the zero-delay point
    cutoff = BAND_LIMIT_HZ - BAND_LIMIT_TRANSITION_HZ / 2.0
    return np.asarray(scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta), fs=sample_rate))


def band_limit(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The common low-pass every stimulus passes: linear phase, no delay (centre-aligned convolution)."""
    taps = _band_limit_taps(sample_rate)
    out = scipy.signal.oaconvolve(samples.astype(np.float64), taps[None, :], mode="same", axes=1)
    return out.astype(np.float32)


def prepare(
    audio: Audio,
    *,
    target_lufs: float,
    ceiling_dbtp: float,
    start_s: float = 0.0,
    duration_s: float | None = None,
    fade_ms: float = 0.0,
    degrade_seed: int | None = None,
) -> Prepared:
    """Conform to 48 kHz stereo, cut, [degrade,] band-limit, fade, gain to the target; the mastering limiter only
    where peaks need it. ``degrade_seed``: the gold-trial copy of the same excerpt (see ``degrade``)."""
    audio = cut(conform(audio), start_s, duration_s)
    if degrade_seed is not None:
        audio = degrade(audio, degrade_seed)
    fade_s = min(fade_ms / 1000.0, audio.duration_s / 4)
    samples = apply_fades(band_limit(audio.samples, audio.sample_rate), audio.sample_rate, fade_s, fade_s)
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
    """The gold-trial copy: 3.5 kHz low-pass plus white noise, which an attentive listener always hears. Applied
    to the excerpt before the band limit and the fade (``prepare(degrade_seed=...)``), so both copies share
    one envelope."""
    sos = scipy.signal.butter(8, GOLD_LOWPASS_HZ, btype="low", fs=audio.sample_rate, output="sos")
    low = scipy.signal.sosfiltfilt(sos, audio.samples.astype(np.float64), axis=-1)
    rms = float(np.sqrt(np.mean(low**2))) or 1e-4
    noise = np.random.default_rng(seed).standard_normal(low.shape) * rms * 10.0 ** (GOLD_NOISE_DB / 20.0)
    return Audio((low + noise).astype(np.float32), audio.sample_rate, list(audio.notes))


def write_anonymised(audio: Audio, folder: Path) -> Path:
    """Write the 24-bit master as bare PCM WAV under a random 128-bit name; returns the path (which never leaves
    the server: raters get ``render_served`` bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    if audio.sample_rate != SAMPLE_RATE:
        raise AudioInputError(
            "sample_rate", audio.sample_rate, f"stimuli must be {SAMPLE_RATE} Hz; conform first"
        )
    path = folder / f"{secrets.token_hex(16)}.wav"
    tmp = path.with_suffix(".tmp")
    sf.write(
        str(tmp), np.clip(audio.samples, -1.0, 1.0).T, audio.sample_rate, subtype=MASTER_SUBTYPE, format="WAV"
    )
    tmp.replace(path)
    return path


def render_served(path: Path, seed: int) -> bytes:
    """A fresh 16-bit WAV of a stored stimulus: TPDF dither of +-1 LSB from ``seed``, then rounding. The same seed
    gives the same bytes (a player's range requests must agree); a new serve gets a new seed."""
    samples, rate = sf.read(str(path), dtype="float64", always_2d=True)
    rng = np.random.default_rng(seed)
    dither = (rng.random(samples.shape) - rng.random(samples.shape)) * SERVED_LSB
    quantised = np.clip(np.round((samples + dither) / SERVED_LSB), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, quantised, rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
