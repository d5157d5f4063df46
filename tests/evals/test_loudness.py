"""Loudness and true peak against ffmpeg's ebur128 filter, pyloudnorm, resample_poly and analytic values."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest

from evals.audio.loudness import measure_loudness
from evals.audio.peak import full_true_peak, resample_poly_true_peak, to_db, true_peak
from workbench.core.audio_io import SAMPLE_RATE as RATE
from workbench.core.audio_io import Audio, write_audio

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def ffmpeg_filter(path: Path, audio_filter: str) -> subprocess.CompletedProcess[str]:
    """ffmpeg reading ``path`` through ``audio_filter`` into the null muxer; the filters report on stderr."""
    cmd = ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", audio_filter, "-f", "null", "-"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def ffmpeg_ebur128(path: Path) -> dict[str, float]:
    """Integrated loudness, LRA and true peak from ffmpeg's ebur128 summary (one decimal place)."""
    out = ffmpeg_filter(path, "ebur128=peak=true")
    # ffmpeg prints a bogus summary when the filter fails, so the return code matters.
    assert out.returncode == 0, out.stderr[-2000:]
    summary = out.stderr[out.stderr.rindex("Summary:") :]

    def number(label: str) -> float:
        match = re.search(rf"{label}\s+(-?inf|-?[0-9.]+)", summary)
        assert match, summary
        return float(match.group(1))

    return {"I": number("I:"), "LRA": number("LRA:"), "TP": number("Peak:")}


@pytest.fixture
def two_level(sine: Any, stereo: Any, db_to_amp: Any) -> Any:
    """``two_level(duration_each_s=20.0)``: a 1 kHz sine at -20 dBFS, then at -30 dBFS."""

    def make(duration_each_s: float = 20.0) -> Audio:
        loud = sine(1000, duration_each_s, db_to_amp(-20))
        quiet = sine(1000, duration_each_s, db_to_amp(-30))
        return stereo(np.concatenate([loud, quiet]))

    return make


SIGNALS = (
    "sine_1k_-23",
    "sine_1k_-9",
    "noise_-30rms",
    "three_sines",
    "level_bursts",
    "two_level",
    "mono_sine_44k1",
)


@pytest.fixture
def signals(sine: Any, stereo: Any, white_noise: Any, db_to_amp: Any, two_level: Any) -> dict[str, Audio]:
    """The reference signals, by the names in SIGNALS."""
    noise = white_noise(20.0, rms=db_to_amp(-30), seed=1)
    mixed = sine(100, 20.0, 0.3) + sine(5000, 20.0, 0.2) + sine(12000, 20.0, 0.05)
    rng = np.random.default_rng(3)
    bursts = np.repeat(rng.uniform(0.02, 0.5, 40), RATE // 2) * rng.standard_normal(40 * (RATE // 2))
    return {
        "sine_1k_-23": stereo(sine(1000, 20.0, db_to_amp(-23))),
        "sine_1k_-9": stereo(sine(1000, 20.0, db_to_amp(-9))),
        "noise_-30rms": Audio(noise, RATE),
        "three_sines": stereo(mixed.astype(np.float32), (0.7 * mixed).astype(np.float32)),
        "level_bursts": Audio(np.stack([bursts, bursts[::-1]]).astype(np.float32), RATE),
        "two_level": two_level(),
        "mono_sine_44k1": Audio(sine(440, 20.0, 0.4, rate=44_100)[None, :], 44_100),
    }


@needs_ffmpeg
@pytest.mark.parametrize("name", SIGNALS)
def test_loudness_and_true_peak_match_ffmpeg(name: str, tmp_path: Path, signals) -> None:
    audio = signals[name]
    path = write_audio(tmp_path / f"{name}.wav", audio)
    ref = ffmpeg_ebur128(path)
    ours = measure_loudness(audio.samples, audio.sample_rate)
    # ffmpeg prints one decimal place; the 0.1 LU bound holds even against the rounded figure (seen: <= 0.04).
    assert ours.integrated_lufs == pytest.approx(ref["I"], abs=0.1)
    assert to_db(true_peak(audio.samples)) == pytest.approx(ref["TP"], abs=0.3)
    if audio.duration_s >= 30:  # LRA is only meaningful on clips >= 30 s (see docs/metrics.md)
        assert ours.loudness_range_lu == pytest.approx(ref["LRA"], abs=0.2)


@pytest.mark.parametrize("name", SIGNALS)
def test_integrated_loudness_matches_pyloudnorm(name: str, signals) -> None:
    audio = signals[name]
    reference = pyloudnorm.Meter(audio.sample_rate).integrated_loudness(audio.samples.T.astype(np.float64))
    ours = measure_loudness(audio.samples, audio.sample_rate).integrated_lufs
    # Same filter design and gating; float32 filtering and whole-hop blocks differ by well under 0.01 LU.
    assert ours == pytest.approx(reference, abs=0.01)


def test_sine_reads_its_level_and_loudness_range_follows_tech_3342(
    db_to_amp, sine, stereo, two_level
) -> None:
    steady = measure_loudness(stereo(sine(997, 10.0, db_to_amp(-23))).samples, RATE)
    assert steady.integrated_lufs == pytest.approx(-23.0, abs=0.05)
    assert steady.max_momentary_lufs == pytest.approx(-23.0, abs=0.05)
    assert steady.max_short_term_lufs == pytest.approx(-23.0, abs=0.05)
    # pyloudnorm reads ~1 LU here because it appends silence; Tech 3342 on the signal itself gives 0.
    assert steady.loudness_range_lu is not None and steady.loudness_range_lu < 0.05
    assert steady.mono_loudness_drop_lu == pytest.approx(0.0, abs=1e-6)

    stepped = measure_loudness(two_level().samples, RATE)
    assert stepped.loudness_range_lu == pytest.approx(10.0, abs=0.1)
    assert stepped.max_short_term_lufs == pytest.approx(-20.0, abs=0.05)


def test_short_and_silent_signals(sine, stereo) -> None:
    short = measure_loudness(stereo(sine(1000, 1.0, 0.5)).samples, RATE)
    assert short.loudness_range_lu is None and short.max_short_term_lufs is None
    assert np.isfinite(short.integrated_lufs)
    tiny = measure_loudness(stereo(sine(1000, 0.2, 0.5)).samples, RATE)
    assert tiny.integrated_lufs == float("-inf")  # shorter than one 400 ms gating block
    silent = measure_loudness(np.zeros((2, RATE * 5), dtype=np.float32), RATE)
    assert silent.integrated_lufs == float("-inf")
    assert silent.loudness_range_lu == 0.0


def test_mono_fold_down_drop(white_noise) -> None:
    noise = white_noise(10.0, rms=0.1, seed=4)
    uncorrelated = measure_loudness(noise, RATE).mono_loudness_drop_lu
    assert uncorrelated == pytest.approx(3.01, abs=0.1)  # half the power survives a mono sum
    inverted = measure_loudness(np.stack([noise[0], -noise[0]]), RATE).mono_loudness_drop_lu
    assert inverted == float("inf")


def test_true_peak_inter_sample_case() -> None:
    # fs/4 sine at 45 degrees: every sample sits at A/sqrt(2); the waveform peaks at A between samples.
    amplitude = 0.9
    n = np.arange(RATE * 2)
    x = (amplitude * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    samples = np.stack([x, x])
    assert to_db(float(np.abs(samples).max())) == pytest.approx(to_db(amplitude) - 3.01, abs=0.01)
    # A 4x-oversampling meter may under-read by up to ~0.7 dB on this worst case (BS.1770 Annex 2);
    # resample_poly's filter reads -0.80 for a true -0.915 dBTP.
    assert to_db(true_peak(samples)) == pytest.approx(to_db(amplitude), abs=0.2)


def test_pruned_true_peak_equals_full_oversampling(white_noise) -> None:
    rng = np.random.default_rng(5)
    # Music-like: quiet bed, a few loud transients with high-frequency content.
    bed = 0.05 * rng.standard_normal((2, RATE * 6))
    for start in rng.integers(0, RATE * 6 - 500, 12):
        bed[:, start : start + 400] += rng.uniform(0.3, 0.8) * np.sin(np.arange(400) * rng.uniform(1.5, 3.0))
    cases = [bed.astype(np.float32), white_noise(3.0, 0.2, seed=6), np.zeros((2, 1000), np.float32)]
    for samples in cases:
        reference = resample_poly_true_peak(samples)
        assert true_peak(samples) == pytest.approx(reference, rel=1e-3, abs=1e-9)
        assert full_true_peak(samples) == pytest.approx(reference, rel=1e-3, abs=1e-9)


@needs_ffmpeg
def test_dc_offset_and_silence_match_ffmpeg(tmp_path: Path, sine) -> None:
    from evals.audio.levels import measure_levels

    tone = sine(440, 2.0, 0.3)
    x = np.concatenate([tone, np.zeros(3 * RATE, np.float32), tone])
    samples = np.stack([x + np.float32(0.004), x + np.float32(0.012)])
    samples[:, 2 * RATE : 5 * RATE] = 0.0  # the gap stays digital silence
    path = write_audio(tmp_path / "defects.wav", Audio(samples, RATE))
    run = ffmpeg_filter(path, "astats,silencedetect=n=-60dB:d=1")
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stderr
    channel_dc = [float(v) for v in re.findall(r"DC offset: (-?[0-9.]+)", out)[:2]]
    silence = float(re.search(r"silence_duration: ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    ours = measure_levels(samples, RATE)
    assert ours.dc_offset == pytest.approx(max(channel_dc, key=abs), abs=1e-5)
    assert ours.longest_silence_s == pytest.approx(silence, abs=0.011)
