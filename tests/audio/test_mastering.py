"""Mastering: loudness target, true-peak ceiling (4x oversampled), fades, sidecar record, input errors."""

from __future__ import annotations

import json

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from workbench.audio.mastering import MasteringSpec, master
from workbench.core.audio_io import SAMPLE_RATE as SR
from workbench.core.audio_io import Audio
from workbench.core.errors import InputError
from workbench.records import append_mastering, mastering_entry


def _music_like(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Noise with sparse loud transients: high crest factor, so a loud target needs limiting."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * SR)
    x = 0.05 * rng.standard_normal((2, frames)).astype(np.float32)
    for start in range(0, frames - 400, SR // 2):
        x[:, start : start + 200] += 0.9 * np.hanning(200).astype(np.float32)
    return x


def _tp_db(samples: np.ndarray) -> float:
    up = scipy.signal.resample_poly(samples, 8, 1, axis=-1)  # independent 8x reference
    return 20 * np.log10(np.max(np.abs(up)))


def test_loudness_target_reached_and_numbers_match_pyloudnorm(tone) -> None:
    audio = Audio(tone(4.0, level=0.05), SR)
    result = master(audio, MasteringSpec(target_lufs=-18.0, true_peak_dbtp=-1.0))
    measured = pyloudnorm.Meter(SR).integrated_loudness(result.audio.samples.T.astype(np.float64))
    assert measured == pytest.approx(-18.0, abs=0.1)
    assert result.after["integrated_lufs"] == pytest.approx(measured, abs=0.05)
    before = pyloudnorm.Meter(SR).integrated_loudness(audio.samples.T.astype(np.float64))
    assert result.before["integrated_lufs"] == pytest.approx(before, abs=0.05)
    assert result.gain_db == pytest.approx(-18.0 - before, abs=0.05)
    assert result.limiter_reduction_db == 0.0  # a quiet sine at -18 LUFS is far under the ceiling


def test_limiter_holds_true_peak_ceiling_and_keeps_loudness() -> None:
    audio = Audio(_music_like(), SR)
    result = master(audio, MasteringSpec(target_lufs=-14.0, true_peak_dbtp=-1.0))
    assert _tp_db(result.audio.samples) <= -1.0 + 0.05  # 8x reference agrees with the 4x ceiling
    assert result.after["true_peak_dbtp"] <= -1.0
    assert result.limiter_reduction_db > 3.0  # the transients had to come down
    # The limiter only touches the transients, so the loudness stays near the target.
    assert result.after["integrated_lufs"] == pytest.approx(-14.0, abs=1.0)


def test_gain_mode_reduces_level_instead_of_limiting() -> None:
    audio = Audio(_music_like(), SR)
    limited = master(audio, MasteringSpec(target_lufs=-14.0, true_peak_dbtp=-1.0))
    static = master(
        audio, MasteringSpec(target_lufs=-14.0, true_peak_dbtp=-1.0, ceiling_mode="gain", remove_dc=False)
    )
    assert static.after["true_peak_dbtp"] <= -1.0
    assert static.limiter_reduction_db == 0.0
    assert static.after["integrated_lufs"] < limited.after["integrated_lufs"] - 2.0
    assert any("not -14" in n for n in static.notes)
    # Static gain keeps the waveform shape: the output is a scaled copy of the input.
    ratio = static.audio.samples[0, 1000] / audio.samples[0, 1000]
    np.testing.assert_allclose(static.audio.samples, audio.samples * ratio, rtol=1e-4, atol=1e-6)


def test_inter_sample_peak_is_caught() -> None:
    # A sine at fs/4 with a 45 degree phase: samples sit at 0.707 of the true amplitude.
    n = np.arange(SR * 2)
    x = np.sin(2 * np.pi * (SR / 4) * n / SR + np.pi / 4).astype(np.float32)[None, :].repeat(2, 0) * 0.99
    result = master(Audio(x, SR), MasteringSpec(target_lufs=None, true_peak_dbtp=-1.0, ceiling_mode="gain"))
    assert result.before["sample_peak_dbfs"] < -3.0
    assert result.before["true_peak_dbtp"] > -0.2
    assert result.after["true_peak_dbtp"] <= -1.0


def test_fades_shape_the_ends_only() -> None:
    x = np.full((2, SR * 3), 0.25, dtype=np.float32)
    out = master(
        Audio(x, SR),
        MasteringSpec(target_lufs=None, true_peak_dbtp=None, fade_in_s=0.5, fade_out_s=1.0, remove_dc=False),
    )
    s = out.audio.samples
    assert abs(s[0, 0]) < 1e-3 and abs(s[0, -1]) < 1e-3
    np.testing.assert_array_equal(s[:, SR : SR + 100], x[:, SR : SR + 100])
    assert np.all(np.diff(s[0, : SR // 2]) >= 0)  # monotonic rise
    assert out.gain_db == 0.0


def test_dc_offset_is_removed_and_noted(tone) -> None:
    x = tone(3.0) + np.float32(0.3)
    out = master(Audio(x, SR), MasteringSpec(target_lufs=None, true_peak_dbtp=None))
    s = out.audio.samples
    assert np.abs(s[:, SR // 2 : -SR // 2].mean(axis=-1)).max() < 1e-3
    assert any("removed a DC offset of 0.300 FS" in n for n in out.notes)
    # the music itself is untouched: the 220 Hz tone keeps its level
    np.testing.assert_allclose(s[:, SR:-SR].std(axis=-1), tone(3.0)[:, SR:-SR].std(axis=-1), rtol=1e-3)


def test_input_is_not_modified_and_silence_is_reported(tone) -> None:
    silent = Audio(np.zeros((2, SR), dtype=np.float32), SR)
    result = master(silent, MasteringSpec(target_lufs=-18.0))
    assert result.before["integrated_lufs"] is None
    assert any("silent" in n for n in result.notes)
    x = tone(2.0, level=0.1)
    copy = x.copy()
    master(Audio(x, SR), MasteringSpec(target_lufs=-10.0))
    np.testing.assert_array_equal(x, copy)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (MasteringSpec(target_lufs=3.0), "target_lufs"),
        (MasteringSpec(target_lufs=float("nan")), "target_lufs"),
        (MasteringSpec(target_lufs=-18, true_peak_dbtp=2.0), "true_peak_dbtp"),
        (MasteringSpec(target_lufs=-18, fade_in_s=-1.0), "fade_in_s"),
        (MasteringSpec(target_lufs=-18, fade_in_s=1.5, fade_out_s=1.0), "fade_out_s"),
        (MasteringSpec(target_lufs=-18, ceiling_mode="clip"), "ceiling_mode"),
    ],
)
def test_bad_specs_name_the_field(spec: MasteringSpec, field: str, tone) -> None:
    with pytest.raises(InputError) as err:
        master(Audio(tone(2.0), SR), spec)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}=")


def test_append_mastering_to_a_sidecar_appends(tmp_path, tone) -> None:
    sidecar = tmp_path / "take.json"
    sidecar.write_text(json.dumps({"request": {}, "take_index": 0}))
    result = master(Audio(tone(2.0, level=0.05), SR), MasteringSpec(target_lufs=-20.0))
    append_mastering(None, mastering_entry(result, tmp_path / "take_mastered.wav"), sidecar=sidecar)
    append_mastering(None, mastering_entry(result, tmp_path / "take_mastered2.wav"), sidecar=sidecar)
    data = json.loads(sidecar.read_text())
    assert [m["path"] for m in data["mastering"]] == [
        str(tmp_path / "take_mastered.wav"),
        str(tmp_path / "take_mastered2.wav"),
    ]
    assert data["mastering"][0]["spec"]["target_lufs"] == -20.0
    assert data["mastering"][0]["after"]["integrated_lufs"] == pytest.approx(-20.0, abs=0.1)
    with pytest.raises(InputError):
        append_mastering(None, mastering_entry(result, tmp_path / "x.wav"), sidecar=tmp_path / "missing.json")
