"""Synthetic clips of known tempo for calibrating and checking the tempo confidence (``rhythm.tempo_confidence``).

Three kinds a background-music tool meets: a drum loop (kick, snare, eighth-note hats, a quiet pad), a drumless
ambient piece (slow swelling chords with soft bell-like notes on some beats: the "spa" case), and a soft piano-like
piece with a note on every beat but no drums. Each is deterministic for its (bpm, seed).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 22_050
KINDS = ("drums", "ambient", "soft_keys")
_ROOTS = (57, 53, 60, 55, 50, 52)  # MIDI roots of the chord cycle


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _chords(bpm: float, seconds: float, seed: int, beats_per_chord: int, attack_s: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n)
    length = beats_per_chord * 60.0 / bpm
    for index, start in enumerate(np.arange(0.0, seconds, length)):
        i0, i1 = int(start * SAMPLE_RATE), min(n, int((start + length) * SAMPLE_RATE))
        t = np.arange(i1 - i0) / SAMPLE_RATE
        env = np.minimum(1.0, t / attack_s) * np.minimum(1.0, (length - t) / attack_s)
        root = _ROOTS[(index + seed) % len(_ROOTS)]
        for interval in (0, 4, 7):
            out[i0:i1] += 0.2 * env * np.sin(2 * np.pi * _hz(root + interval) * t + rng.uniform(0, 2 * np.pi))
    return out


def _note(out: np.ndarray, start_s: float, midi: float, level: float, decay_s: float) -> None:
    i = int(start_s * SAMPLE_RATE)
    if i >= out.size:
        return
    t = np.arange(min(int(4 * decay_s * SAMPLE_RATE), out.size - i)) / SAMPLE_RATE
    out[i : i + t.size] += (
        level * np.minimum(1.0, t / 0.01) * np.exp(-t / decay_s) * np.sin(2 * np.pi * _hz(midi) * t)
    )


def drums(bpm: float, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = 0.1 * _chords(bpm, seconds, seed, 8, 0.5)
    beat = 60.0 / bpm
    for k, start in enumerate(np.arange(0.0, seconds, beat)):
        i = int(start * SAMPLE_RATE)
        t = np.arange(min(int(0.08 * SAMPLE_RATE), out.size - i)) / SAMPLE_RATE
        env = np.exp(-t / 0.015)
        hit = np.sin(2 * np.pi * 60 * t) * 0.8 if k % 2 == 0 else rng.standard_normal(t.size) * 0.4
        out[i : i + t.size] += env * hit
        j = int((start + beat / 2) * SAMPLE_RATE)
        if j < out.size:
            h = np.arange(min(int(0.02 * SAMPLE_RATE), out.size - j)) / SAMPLE_RATE
            out[j : j + h.size] += 0.15 * np.exp(-h / 0.004) * rng.standard_normal(h.size)
    return _normalise(out)


def ambient(bpm: float, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = _chords(bpm, seconds, seed, 8, 1.0)
    for start in np.arange(0.0, seconds, 60.0 / bpm):
        if rng.random() < 0.6:
            _note(out, start, float(rng.choice([69, 72, 74, 76, 79])), 0.12, 0.5)
    out += 0.01 * rng.standard_normal(out.size)
    return _normalise(out)


def soft_keys(bpm: float, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = 0.5 * _chords(bpm, seconds, seed, 4, 0.8)
    for k, start in enumerate(np.arange(0.0, seconds, 60.0 / bpm)):
        _note(out, start, float(rng.choice([60, 64, 67, 72])), 0.25 if k % 4 == 0 else 0.15, 0.35)
    return _normalise(out)


def render(kind: str, bpm: float, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """Mono float32 at ``SAMPLE_RATE``."""
    makers = {"drums": drums, "ambient": ambient, "soft_keys": soft_keys}
    if kind not in makers:
        raise ValueError(f"kind={kind!r}: choose one of {', '.join(KINDS)}")
    return makers[kind](bpm, seconds, seed).astype(np.float32)


def _normalise(out: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(out)))
    return out / peak * 0.5 if peak > 0 else out
