"""Repaint/extend: outside the window (beyond the crossfade) the output equals the conformed source exactly."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.audio_io import load_conformed
from workbench.engine.requests import Extend, Repaint
from workbench.engine.splice import equal_power_ramps, splice_window

SR = 48_000


@pytest.mark.parametrize("crossfade_ms", [0.0, 50.0, 200.0])
def test_repaint_preserves_outside_window(engine, tmp_path, crossfade_ms, write_tone):
    # 44.1 kHz mono source: preservation is against the *conformed* (48 kHz stereo) source.
    src = write_tone(tmp_path / "src.wav", duration_s=4.0, sample_rate=44_100, channels=1)
    conformed = load_conformed(src).samples
    result = engine.run(
        Repaint(src=str(src), start_s=1.2, end_s=2.7, crossfade_ms=crossfade_ms, steps=2, seed=3)
    )
    out = result.audio.samples
    xf = int(round(crossfade_ms / 1000 * SR))
    start, end = int(1.2 * SR), int(2.7 * SR)
    assert out.shape == conformed.shape
    np.testing.assert_array_equal(out[:, : start - xf], conformed[:, : start - xf])
    np.testing.assert_array_equal(out[:, end + xf :], conformed[:, end + xf :])
    # inside the window it is new audio
    assert not np.allclose(out[:, start:end], conformed[:, start:end], atol=1e-3)


@pytest.mark.parametrize("side", ["left", "right"])
def test_extend_preserves_source(engine, tmp_path, side, write_tone):
    src = write_tone(tmp_path / "src.wav", duration_s=3.0)
    conformed = load_conformed(src).samples
    result = engine.run(Extend(src=str(src), side=side, extend_s=2.0, crossfade_ms=50, steps=2, seed=4))
    out = result.audio.samples
    xf, new, n = int(0.05 * SR), 2 * SR, conformed.shape[1]
    assert out.shape == (2, n + new)
    if side == "right":
        np.testing.assert_array_equal(out[:, : n - xf], conformed[:, : n - xf])
        assert np.abs(out[:, n:]).max() > 0
    else:
        np.testing.assert_array_equal(out[:, new + xf :], conformed[:, xf:])
        assert np.abs(out[:, :new]).max() > 0


def test_equal_power_crossfade_keeps_power():
    fade_out, fade_in = equal_power_ramps(480)
    np.testing.assert_allclose(fade_out**2 + fade_in**2, 1.0, atol=1e-6)
    assert fade_out[0] > 0.99 and fade_in[-1] > 0.99


def test_splice_crossfade_sits_outside_the_window():
    source = np.ones((2, 1000), dtype=np.float32)
    generated = np.full((2, 1000), 2.0, dtype=np.float32)
    out = splice_window(source, generated, 400, 600, 100)
    np.testing.assert_array_equal(out[:, :300], 1.0)
    np.testing.assert_array_equal(out[:, 400:600], 2.0)
    np.testing.assert_array_equal(out[:, 700:], 1.0)
    fade_out, fade_in = equal_power_ramps(100)
    np.testing.assert_allclose(out[0, 300:400], fade_out * 1.0 + fade_in * 2.0, rtol=1e-6)
    np.testing.assert_allclose(out[0, 600:700], fade_out * 2.0 + fade_in * 1.0, rtol=1e-6)
