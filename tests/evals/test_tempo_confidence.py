"""Tempo with a confidence: clear pulses are confident, soft drumless material is marked uncertain, and an
uncertain reading is shown but never judged by delivery checks or recipe adherence. Clips are rendered here."""

from __future__ import annotations

import numpy as np
import pytest

from evals.audio import rhythm_probes
from evals.audio.rhythm import TEMPO_CONFIDENCE_THRESHOLD, measure_rhythm, pulse_contrast, tempo_confidence


def _reading(kind: str, bpm: float, seed: int = 0):
    return measure_rhythm(rhythm_probes.render(kind, bpm, 12.0, seed), rhythm_probes.SAMPLE_RATE)


@pytest.mark.parametrize("bpm", [96, 124])
def test_a_drum_loop_is_read_confidently_and_right(bpm: float) -> None:
    r = _reading("drums", bpm)
    assert r.tempo_confidence >= TEMPO_CONFIDENCE_THRESHOLD
    assert r.tempo_bpm is not None
    assert (
        min(abs(r.tempo_bpm * f - bpm) for f in (1, 0.5)) <= 0.04 * bpm
    )  # the beat or its eighth-note level


@pytest.mark.parametrize(("bpm", "seed"), [(60, 0), (68, 2), (72, 4)])
def test_drumless_ambient_is_uncertain(bpm: float, seed: int) -> None:
    r = _reading("ambient", bpm, seed)
    assert r.tempo_confidence < TEMPO_CONFIDENCE_THRESHOLD, r


def test_confidence_needs_both_regularity_and_contrast() -> None:
    assert tempo_confidence(0.9, 0.9) == pytest.approx(0.9)
    assert tempo_confidence(0.9, 0.01) < TEMPO_CONFIDENCE_THRESHOLD  # a flat, swelling envelope
    assert tempo_confidence(0.02, 0.9) < TEMPO_CONFIDENCE_THRESHOLD  # a weak pulse
    flat = np.linspace(1.0, 0.8, 200)  # autocorrelation with no dip before the period
    assert pulse_contrast(flat, 40.0) == pytest.approx(0.0, abs=1e-9)
    dipped = np.cos(np.arange(200) * 2 * np.pi / 40) * 0.5 + 0.5
    assert pulse_contrast(dipped, 40.0) == pytest.approx(1.0, abs=1e-6)


def test_uncertain_tempo_is_shown_but_not_judged() -> None:
    from dataclasses import replace

    from evals.audio.analysis import analyze_audio
    from evals.audio.delivery import check_delivery
    from evals.audio.recipe import Recipe, check_adherence
    from workbench.core.audio_io import Audio

    mono = rhythm_probes.render("ambient", 70, 12.0, 1)
    a = analyze_audio(Audio(np.stack([mono, mono]), rhythm_probes.SAMPLE_RATE))
    if a.tempo_bpm is None:
        a = replace(a, tempo_bpm=104.0)  # the reading the soft clip would give
    a = replace(a, tempo_confidence=0.05)
    assert a.tempo_uncertain
    tempo = next(c for c in check_delivery(a, "spa").checks if c.name == "tempo_bpm")
    assert tempo.passed and tempo.skipped and "uncertain" in tempo.reason
    adherence = check_adherence(Recipe(bpm=70), 104.0, None, None, 12.0, tempo_uncertain=True)
    assert adherence.tempo_ok is None and adherence.passed
    judged = check_adherence(Recipe(bpm=70), 104.0, None, None, 12.0)
    assert judged.tempo_ok is False
    sure = replace(a, tempo_bpm=100.0, tempo_confidence=0.9)  # out of 55-80 at every metrical level
    assert not sure.tempo_uncertain
    assert not next(c for c in check_delivery(sure, "spa").checks if c.name == "tempo_bpm").passed
