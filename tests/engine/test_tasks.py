"""Every task runs on the tiny pipeline and returns 48 kHz stereo of the requested length."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from workbench.engine.engine import Progress
from workbench.engine.requests import (
    AudioCodes,
    Complete,
    Extend,
    Extract,
    Lego,
    Repaint,
    StyleTransfer,
    Text2Music,
)

FAST = dict(steps=2, seed=5)


def _frames(seconds: float) -> int:
    return int(round(seconds * 48_000))


@pytest.mark.parametrize(
    ("make", "expected_s"),
    [
        (lambda src: Text2Music(prompt="spa ambient", duration_s=2.5, **FAST), 2.5),
        (lambda src: Repaint(src=src, start_s=1.0, end_s=2.0, **FAST), 3.3),
        (lambda src: Extend(src=src, side="right", extend_s=1.5, **FAST), 4.8),
        (lambda src: Extend(src=src, side="left", extend_s=2.0, **FAST), 5.3),
        (lambda src: StyleTransfer(src=src, strength=0.5, reference=src, **FAST), 3.3),
        (lambda src: Lego(src=src, track="drums", start_s=0.5, end_s=2.5, **FAST), 3.3),
        (lambda src: Extract(src=src, track="bass", **FAST), 3.3),
        (lambda src: Complete(src=src, tracks=("drums", "bass"), **FAST), 3.3),
        (lambda src: AudioCodes(codes="<|audio_code_7|>" * 10, **FAST), 2.0),
        (lambda src: Repaint(src=src, start_s=0.5, end_s=1.0, duration_s=2.0, **FAST), 2.0),
    ],
    ids=[
        "text2music",
        "repaint",
        "extend-right",
        "extend-left",
        "cover",
        "lego",
        "extract",
        "complete",
        "audio-codes",
        "source-cut-to-duration",
    ],
)
def test_task_output_geometry(engine, src_wav, make, expected_s):
    result = engine.run(make(str(src_wav)))
    assert result.ok
    audio = result.audio
    assert audio.sample_rate == 48_000
    assert audio.samples.shape == (2, _frames(expected_s))
    assert audio.samples.dtype == np.float32
    assert np.isfinite(audio.samples).all()


def test_batch_gives_one_take_per_seed(engine):
    result = engine.run(Text2Music(prompt="retail pop", duration_s=1.5, steps=2, seed=100, batch_size=3))
    assert [t.seed for t in result.takes] == [100, 101, 102]
    assert not np.array_equal(result.takes[0].audio.samples, result.takes[1].audio.samples)


def test_defaults_are_resolved_into_the_recipe(engine):
    result = engine.run(Text2Music(prompt="x", duration_s=1.0))
    request = result.request
    assert request.steps == engine.info.steps and request.shift == engine.info.shift
    assert request.guidance_scale == engine.info.guidance_scale
    assert isinstance(request.seed, int)


def test_guidance_path_runs(engine):
    """The tiny model is not guidance-distilled, so guidance > 1 exercises APG with a doubled batch."""
    plain = engine.run(Text2Music(prompt="x", duration_s=1.0, steps=2, seed=1, guidance_scale=1.0))
    guided = engine.run(Text2Music(prompt="x", duration_s=1.0, steps=2, seed=1, guidance_scale=7.0))
    assert not np.array_equal(plain.audio.samples, guided.audio.samples)


def test_progress_reports_every_step(engine):
    seen: list[Progress] = []
    engine.run(Text2Music(prompt="x", duration_s=1.0, steps=4, seed=1), progress=seen.append)
    assert [p.step for p in seen if p.stage == "denoising"] == [1, 2, 3, 4]
    assert seen[0].stage == "preparing" and seen[-1].stage == "done"


def test_cancel_stops_within_one_step_and_skips_decode(engine):
    cancel = threading.Event()
    steps_seen: list[int] = []

    def progress(p: Progress) -> None:
        if p.stage == "denoising":
            steps_seen.append(p.step)
            if p.step == 2:
                cancel.set()

    result = engine.run(
        Text2Music(prompt="x", duration_s=1.0, steps=8, seed=1), progress=progress, cancel=cancel
    )
    assert result.status == "cancelled" and result.takes == []
    assert steps_seen == [1, 2] and result.steps_done == 2
    assert "cancelled after 2 of 8 steps" in result.notes[-1]


def test_cancel_before_start_runs_nothing(engine):
    cancel = threading.Event()
    cancel.set()
    result = engine.run(Text2Music(prompt="x", duration_s=1.0, steps=8), cancel=cancel)
    assert result.status == "cancelled" and result.steps_done == 0


def test_mono_and_off_rate_source_are_conformed_with_a_note(engine, tmp_path, write_tone):
    src = write_tone(tmp_path / "mono8k.wav", duration_s=2.0, sample_rate=8000, channels=1)
    result = engine.run(Extract(src=str(src), track="vocals", steps=1, seed=1))
    assert result.audio.samples.shape == (2, 96_000)
    assert any("mono duplicated" in n for n in result.notes)
    assert any("resampled 8000 Hz" in n for n in result.notes)
