"""Embedding backends for set metrics (Fréchet distance, diversity), with an on-disk cache.

A backend turns one clip into a (frames, dim) array: one vector per analysis window. New backends subclass
``EmbeddingBackend`` and register in ``evals.sets.backends.BACKENDS``; the cache keys on the backend's ``cache_id`` and the file's
content hash, so a changed file or a changed model never reuses a stale embedding.

``logmel`` is the weight-free backend that always works: per 1 s window (0.5 s hop) of 16 kHz mono, the mean and
standard deviation of 32 log-mel bands (64 numbers). It measures spectral-envelope statistics (timbre, balance,
dynamics of the spectrum), not musical semantics; FAD on it is a distribution-shift detector, not a quality
score. ``clap`` (evals/sets/clap.py) uses a CLAP audio encoder through transformers when its weights are on disk.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from workbench.core import paths
from workbench.core.audio_io import Audio, read_audio
from workbench.core.errors import InputError


class EmbeddingBackend(ABC):
    """One way of embedding audio. Subclasses set ``name`` and ``sample_rate`` and implement ``embed_mono``."""

    name: ClassVar[str]
    sample_rate: int
    level_normalised: ClassVar[bool] = False  # scale every clip to NORM_RMS_DBFS before embedding

    @property
    def cache_id(self) -> str:
        """Identifies the embedding function: change it whenever outputs would change."""
        return self.name

    @abstractmethod
    def embed_mono(self, mono: np.ndarray) -> np.ndarray:
        """(frames, dim) float32 embeddings of a mono signal at ``self.sample_rate``."""

    def embed(self, audio: Audio) -> np.ndarray:
        import soxr

        mono = audio.samples.mean(axis=0).astype(np.float32)
        if audio.sample_rate != self.sample_rate:
            mono = soxr.resample(mono, audio.sample_rate, self.sample_rate, quality="HQ").astype(np.float32)
        if self.level_normalised:
            mono = level_normalise(mono)
        frames = self.embed_mono(mono)
        if frames.ndim != 2 or frames.shape[0] == 0:
            raise InputError("audio", f"{audio.duration_s:.2f} s", f"too short for the {self.name} embedding")
        return frames.astype(np.float32)


NORM_RMS_DBFS = -23.0


def level_normalise(mono: np.ndarray, target_dbfs: float = NORM_RMS_DBFS) -> np.ndarray:
    """The clip scaled so its RMS over the non-silent part sits at ``target_dbfs``.

    Why: absolute-dB features move with playback level (-6 dB tripled the log-mel FAD on the same music), so a
    catalogue mastered at another loudness would "drift" for a trivial reason; level is a delivery check, not a set
    metric. RMS over the samples above -60 dBFS rather than LUFS, because evals.sets may not import the loudness
    meter in evals.audio (rooms on one floor stay independent); for the 10-30 s clips compared here the two differ by
    a near-constant spectral weighting that the distance does not care about.
    """
    active = np.abs(mono) > 10 ** (-60 / 20)
    if not active.any():
        return mono
    rms = float(np.sqrt(np.mean(np.square(mono[active], dtype=np.float64))))
    if rms <= 0:
        return mono
    return (mono * (10 ** (target_dbfs / 20) / rms)).astype(np.float32)


class LogMelBackend(EmbeddingBackend):
    """Weight-free: mean and std of 32 log-mel bands over 1 s windows with a 0.5 s hop (64-d), each clip first
    level-normalised (``level_normalise``), so the distance sees spectral balance and dynamics, not gain."""

    name = "logmel"
    level_normalised = True
    sample_rate = 16_000
    n_mels = 32
    n_fft = 1024
    hop = 256  # 16 ms
    window_s = 1.0
    window_hop_s = 0.5

    @property
    def cache_id(self) -> str:
        return f"logmel-v2-rms{NORM_RMS_DBFS:g}-{self.n_mels}x{self.n_fft}x{self.hop}-{self.window_s}-{self.window_hop_s}"

    def embed_mono(self, mono: np.ndarray) -> np.ndarray:
        import librosa

        mel = librosa.feature.melspectrogram(
            y=mono, sr=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop, n_mels=self.n_mels
        )
        log_mel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T  # (frames, mels), absolute dB
        per_window = int(round(self.window_s * self.sample_rate / self.hop))
        step = int(round(self.window_hop_s * self.sample_rate / self.hop))
        if log_mel.shape[0] < per_window:
            return np.zeros((0, 2 * self.n_mels), np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(log_mel, per_window, axis=0)[::step]
        return np.concatenate([windows.mean(axis=-1), windows.std(axis=-1)], axis=1)


class EmbeddingCache:
    """``root/<backend cache_id>/<content hash>.npy``. Content-addressed, so renames are free and edits miss."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else paths.embeddings_cache_dir()

    @staticmethod
    def content_hash(path: Path) -> str:
        digest = hashlib.blake2b(digest_size=20)
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def location(self, backend: EmbeddingBackend, path: Path) -> Path:
        safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in backend.cache_id)
        return self.root / safe_id / f"{self.content_hash(path)}.npy"

    def embed_file(self, backend: EmbeddingBackend, path: str | os.PathLike[str]) -> np.ndarray:
        source = Path(path)
        target = self.location(backend, source)
        if target.exists():
            try:  # allow_pickle stays False: a cache entry holding objects is refused, never unpickled
                return np.load(target, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                target.unlink(missing_ok=True)  # a cut or foreign cache entry is recomputed, not trusted
        frames = backend.embed(read_audio(source))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, frames)
        os.replace(tmp, target)  # atomic: a concurrent reader never sees half a file
        return frames
