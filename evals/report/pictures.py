"""Waveform and spectrogram pictures of one track, written as PNG files (the result cards show them).

Figures are drawn with matplotlib's object API (``Figure`` + Agg canvas), not pyplot, because pyplot keeps global
state and Gradio runs handlers on worker threads.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from workbench.core.audio_io import Audio

DISPLAY_RATE = (
    22_050  # spectrograms show up to 11 kHz, where the music is; resampling first halves the STFT work
)


def _mono(audio: Audio, rate: int = DISPLAY_RATE) -> np.ndarray:
    import soxr

    mono = audio.samples.mean(axis=0).astype(np.float32)
    return soxr.resample(mono, audio.sample_rate, rate) if audio.sample_rate != rate else mono


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
    freqs = np.linspace(0, DISPLAY_RATE / 2, db.shape[0])
    times = np.arange(db.shape[1]) * 512 / DISPLAY_RATE
    ax.pcolormesh(times, freqs[1:], db[1:], shading="auto", cmap="magma")
    ax.set_yscale("log")
    ax.set_ylim(40, DISPLAY_RATE / 2)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("seconds", fontsize=7, labelpad=1)
    path = _new_png(folder, "spec")
    fig.savefig(path)
    return str(path)
