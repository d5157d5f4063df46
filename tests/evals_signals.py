"""Test signals with known properties for the evals tests (numpy only, deterministic)."""

from __future__ import annotations

import numpy as np

from workbench.core.audio_io import Audio

RATE = 48_000


def db_to_amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def sine(
    freq_hz: float, duration_s: float, amplitude: float = 0.5, phase: float = 0.0, rate: int = RATE
) -> np.ndarray:
    t = np.arange(int(round(duration_s * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def stereo(left: np.ndarray, right: np.ndarray | None = None, rate: int = RATE) -> Audio:
    right = left if right is None else right
    return Audio(np.stack([left, right]).astype(np.float32), rate)


def white_noise(
    duration_s: float, rms: float = 0.1, seed: int = 0, channels: int = 2, rate: int = RATE
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rms * rng.standard_normal((channels, int(duration_s * rate)))).astype(np.float32)


def click_track(bpm: float, duration_s: float, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    """A decaying 1 kHz blip on every beat."""
    out = np.zeros(int(duration_s * rate), dtype=np.float32)
    blip_t = np.arange(int(0.03 * rate)) / rate
    blip = (amplitude * np.sin(2 * np.pi * 1000 * blip_t) * np.exp(-blip_t / 0.008)).astype(np.float32)
    period = 60.0 / bpm
    for beat in np.arange(0.0, duration_s - 0.05, period):
        start = int(round(beat * rate))
        out[start : start + blip.size] += blip[: out.size - start]
    return out


_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: the V chord has a leading tone


def chord_progression(tonic_midi: int, mode: str, duration_s: float = 16.0, rate: int = RATE) -> np.ndarray:
    """I-IV-V-I (or i-iv-V-i) repeated, triads of harmonic-rich tones with a bass note on the chord root (C2 and up)."""
    steps = _MAJOR_STEPS if mode == "major" else _MINOR_STEPS
    degrees = (0, 3, 4, 0)  # I IV V I
    chord_s = 1.0
    n_chord = int(chord_s * rate)
    t = np.arange(n_chord) / rate
    envelope = np.minimum(1.0, t / 0.02) * np.exp(-t / 1.5)
    out = []
    for index in range(int(duration_s / chord_s)):
        degree = degrees[index % len(degrees)]
        notes = [tonic_midi + steps[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        notes.append(tonic_midi + steps[degree] - 12)  # bass
        chord = np.zeros(n_chord)
        for note in notes:
            freq = 440.0 * 2 ** ((note - 69) / 12)
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                chord += weight * np.sin(2 * np.pi * freq * harmonic * t)
        out.append(chord * envelope)
    signal = np.concatenate(out)
    return (0.2 * signal / np.abs(signal).max()).astype(np.float32)
