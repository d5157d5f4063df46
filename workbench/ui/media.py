"""Pictures and one-line numbers for a result: waveform and spectrogram PNGs, loudness / peak / tempo / key.

Figures are drawn with matplotlib's object API (``Figure`` + Agg canvas), not pyplot, because pyplot keeps global
state and Gradio runs handlers on worker threads.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.core.audio_io import Audio

_PITCHES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl-Kessler key profiles. librosa has chroma but no key estimator, hence these 24 correlations.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_ANALYSIS_RATE = 22_050


@dataclass(frozen=True)
class Measures:
    integrated_lufs: float | None
    true_peak_dbtp: float | None
    tempo_bpm: float | None
    key: str | None


def _mono(audio: Audio, rate: int = _ANALYSIS_RATE) -> np.ndarray:
    import soxr

    mono = audio.samples.mean(axis=0).astype(np.float32)
    return soxr.resample(mono, audio.sample_rate, rate) if audio.sample_rate != rate else mono


def estimate_key(mono: np.ndarray, rate: int = _ANALYSIS_RATE) -> str | None:
    import librosa

    if mono.size < rate or float(np.abs(mono).max()) < 1e-4:
        return None
    # CQT chroma: log-spaced bins resolve low notes that a 2048-point STFT smears into their neighbours.
    chroma = librosa.feature.chroma_cqt(y=mono, sr=rate).mean(axis=1)
    if not np.isfinite(chroma).all() or chroma.std() < 1e-9:
        return None
    best, best_r = None, -math.inf
    for shift in range(12):
        for name, profile in (("major", _MAJOR), ("minor", _MINOR)):
            r = float(np.corrcoef(chroma, np.roll(profile, shift))[0, 1])
            if r > best_r:
                best, best_r = f"{_PITCHES[shift]} {name}", r
    return best


def estimate_tempo(mono: np.ndarray, rate: int = _ANALYSIS_RATE) -> float | None:
    import librosa

    if mono.size < 2 * rate:
        return None
    tempo, _beats = librosa.beat.beat_track(y=mono, sr=rate)
    value = float(np.atleast_1d(tempo)[0])
    return round(value, 1) if value > 0 else None


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 2)


def measure(audio: Audio) -> Measures:
    """The evals package's analysis when it is installed (the same numbers the reports use), else a minimal
    local measurement (BS.1770 loudness, 4x true peak, librosa beat tracking, Krumhansl key profiles)."""
    try:
        from evals import analyze_audio
    except ImportError:
        return _local_measure(audio)
    a = analyze_audio(audio)
    key = f"{a.key} {a.mode}" if a.key and a.mode else a.key
    tempo = None if a.tempo_bpm is None else round(float(a.tempo_bpm), 1)
    return Measures(
        _finite_or_none(a.integrated_loudness_lufs), _finite_or_none(a.true_peak_dbtp), tempo, key
    )


def _local_measure(audio: Audio) -> Measures:
    from workbench.audio import mastering

    levels = mastering.measure(audio.samples, audio.sample_rate)
    mono = _mono(audio)
    return Measures(
        levels["integrated_lufs"], levels["true_peak_dbtp"], estimate_tempo(mono), estimate_key(mono)
    )


def summary_line(
    audio: Audio,
    *,
    bpm: int | None = None,
    keyscale: str | None = None,
    target_lufs: float | None = None,
) -> str:
    """e.g. ``-17.8 LUFS (target -18) · true peak -1.2 dBTP · 98.4 BPM (asked 100) · F major (asked F major)``."""
    m = measure(audio)
    parts = [
        ("silent" if m.integrated_lufs is None else f"{m.integrated_lufs:.1f} LUFS")
        + (f" (target {target_lufs:g})" if target_lufs is not None else "")
    ]
    parts.append("true peak " + ("-inf" if m.true_peak_dbtp is None else f"{m.true_peak_dbtp:.1f} dBTP"))
    parts.append(
        ("tempo n/a" if m.tempo_bpm is None else f"{m.tempo_bpm:g} BPM") + (f" (asked {bpm})" if bpm else "")
    )
    parts.append(("key n/a" if m.key is None else m.key) + (f" (asked {keyscale})" if keyscale else ""))
    parts.append(f"{audio.duration_s:.1f} s")
    return " · ".join(parts)


def _new_png(folder: Path, stem: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stem}-{uuid.uuid4().hex[:10]}.png"


def waveform_png(
    audio: Audio, folder: Path, *, region_s: tuple[float, float] | None = None, width_px: int = 900
) -> str:
    """Min/max envelope per pixel column (exact at any zoom, cheap for 10-minute files); optional shaded region."""
    from matplotlib.figure import Figure

    mono = audio.samples.mean(axis=0)
    columns = max(1, min(width_px, mono.size))
    edges = np.linspace(0, mono.size, columns + 1).astype(int)
    lo = np.minimum.reduceat(mono, edges[:-1])
    hi = np.maximum.reduceat(mono, edges[:-1])
    t = edges[:-1] / audio.sample_rate
    fig = Figure(figsize=(width_px / 100, 1.6), dpi=100)
    ax = fig.add_axes((0.04, 0.2, 0.95, 0.75))
    ax.fill_between(t, lo, hi, color="#4a6fa5", linewidth=0)
    if region_s is not None:
        ax.axvspan(region_s[0], region_s[1], color="#f28e2b", alpha=0.35)
    ax.set_xlim(0, audio.duration_s)
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.tick_params(labelsize=7)
    ax.set_xlabel("seconds", fontsize=7, labelpad=1)
    path = _new_png(folder, "wave")
    fig.savefig(path)
    return str(path)


def spectrogram_png(audio: Audio, folder: Path, *, width_px: int = 900) -> str:
    """Log-frequency power spectrogram (dB) of the mono mix."""
    import librosa
    from matplotlib.figure import Figure

    mono = _mono(audio)
    spec = np.abs(librosa.stft(mono, n_fft=1024, hop_length=512)) ** 2
    db = librosa.power_to_db(spec, ref=max(float(spec.max()), 1e-12), top_db=80.0)
    fig = Figure(figsize=(width_px / 100, 1.8), dpi=100)
    ax = fig.add_axes((0.04, 0.18, 0.95, 0.78))
    freqs = np.linspace(0, _ANALYSIS_RATE / 2, db.shape[0])
    times = np.arange(db.shape[1]) * 512 / _ANALYSIS_RATE
    ax.pcolormesh(times, freqs[1:], db[1:], shading="auto", cmap="magma")
    ax.set_yscale("log")
    ax.set_ylim(40, _ANALYSIS_RATE / 2)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("seconds", fontsize=7, labelpad=1)
    path = _new_png(folder, "spec")
    fig.savefig(path)
    return str(path)
