"""Generated audio and small datasets for the LoRA training tests (tiny model, 2 s clips)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 48_000


def write_clip(
    path: Path, freq_hz: float, duration_s: float = 2.0, seed: int = 0, level: float = 0.3
) -> Path:
    """A stereo sine with a little noise, so each clip is distinct and clearly not silent."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    left = level * np.sin(2 * np.pi * freq_hz * t) + 0.02 * rng.standard_normal(t.size)
    right = level * np.sin(2 * np.pi * freq_hz * 1.5 * t) + 0.02 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([left, right], axis=1).astype(np.float32), SR)
    return path


def write_beat_clip(path: Path, bpm: float = 120.0, duration_s: float = 4.0, freq_hz: float = 220.0) -> Path:
    """A sine with a decaying click on every beat: something a tempo estimator can find (4 s is its minimum)."""
    t = np.arange(int(duration_s * SR)) / SR
    x = 0.2 * np.sin(2 * np.pi * freq_hz * t)
    n = 2400
    click = 0.6 * np.exp(-np.arange(n) / 300) * np.sin(2 * np.pi * 1000 * np.arange(n) / SR)
    for beat_s in np.arange(0, duration_s - n / SR, 60.0 / bpm):
        i = int(beat_s * SR)
        x[i : i + n] += click
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([x, x], axis=1).astype(np.float32), SR)
    return path


def write_sparse_long_wav(path: Path, duration_s: float, rate: int = 8000) -> Path:
    """A valid 16-bit mono WAV whose data is a sparse run of zeros: hours long by its header, ~0 bytes on disk."""
    n_bytes = int(duration_s * rate) * 2
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + n_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", n_bytes)
    )
    with path.open("wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + n_bytes)
    return path


def make_folder(root: Path, n: int = 4, duration_s: float = 2.0) -> Path:
    for i in range(n):
        write_clip(root / f"clip{i}.wav", 180.0 + 70 * i, duration_s, seed=i)
        (root / f"clip{i}.json").write_text(
            f'{{"caption": "soft tone {i}, warm pad", "bpm": {90 + i}, "key": "C major", "time_signature": "4"}}'
        )
    return root


def build_small_dataset(
    root: Path, n: int = 4, val_fraction: float = 0.25, trigger: str = "zzlobby", duration_s: float = 2.0
) -> Path:
    from lora.dataset import DatasetOptions, build_dataset

    audio = make_folder(root / "audio", n, duration_s)
    out = root / "dataset"
    build_dataset(audio, out, DatasetOptions(trigger_tag=trigger, val_fraction=val_fraction, estimate=False))
    return out


def tiny_config(data: Path, out: Path, **overrides):
    from lora.config import load_config

    values = {"data": str(data), "out": str(out), "preview": False, "tracking": "off", **overrides}
    return load_config("tiny", values)
