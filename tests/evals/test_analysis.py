"""Golden values for every per-track metric on generated audio with known properties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals import Recipe, analyze_audio, analyze_file
from evals.audio.levels import measure_levels
from evals.audio.rhythm import estimate_tempo
from evals.audio.spectral import measure_spectrum
from evals.audio.tonal import key_from_chroma
from workbench.core.audio_io import SAMPLE_RATE as RATE
from workbench.core.audio_io import Audio, write_audio
from workbench.core.errors import AudioInputError, InputError
from workbench.core.keyscale import parse_keyscale, pitch_class


def test_sine_levels(sine, stereo) -> None:
    a = analyze_audio(stereo(sine(1000, 5.0, 0.5)))
    assert a.duration_s == pytest.approx(5.0, abs=1e-9)
    assert a.sample_rate_hz == RATE and a.channels == 2
    assert a.sample_peak_dbfs == pytest.approx(-6.02, abs=0.01)
    assert a.rms_dbfs == pytest.approx(-6.02 - 3.01, abs=0.01)
    assert a.crest_factor_db == pytest.approx(3.01, abs=0.01)
    assert a.dc_offset == pytest.approx(0.0, abs=1e-4)
    assert a.clipped_samples == 0 and a.dropouts == 0
    assert a.silence_ratio == 0.0 and a.leading_silence_s == 0.0 and a.trailing_silence_s == 0.0
    assert a.stereo_correlation == pytest.approx(1.0, abs=1e-5)
    assert a.stereo_width == pytest.approx(0.0, abs=1e-5)
    assert a.true_peak_dbtp == pytest.approx(-6.02, abs=0.02)
    assert a.tempo_bpm is None  # a steady tone has no pulse


def test_dc_offset(sine) -> None:
    x = sine(200, 3.0, 0.3) + np.float32(0.01)
    a = measure_levels(np.stack([x, x - np.float32(0.005)]), RATE)
    assert a.dc_offset == pytest.approx(0.01, abs=1e-4)  # the larger of the channel means, signed


def test_clipping_counts_runs_only(sine) -> None:
    clipped = np.clip(sine(100, 2.0, 1.5), -1.0, 1.0)
    a = measure_levels(np.stack([clipped, clipped]), RATE)
    # |1.5 sin| >= 0.999 for 1 - 2 asin(0.999/1.5)/pi = 53.6 % of the time, in long runs (480-sample periods,
    # so the count is exact to about two samples per run).
    expected = 1 - 2 * np.arcsin(0.999 / 1.5) / np.pi
    assert a.clipped_samples / (2 * clipped.size) == pytest.approx(expected, abs=0.005)
    spikes = sine(100, 2.0, 0.5)
    spikes[[1000, 5000, 5001]] = 1.0  # a single sample and a pair: transients, not clipping
    assert measure_levels(np.stack([spikes, spikes]), RATE).clipped_samples == 0


def test_silence_gaps(sine) -> None:
    tone = sine(440, 2.0, 0.3)
    gap = np.zeros(int(3.0 * RATE), np.float32)
    lead = np.zeros(int(1.0 * RATE), np.float32)
    x = np.concatenate([lead, tone, gap, tone, np.zeros(int(0.5 * RATE), np.float32)])
    a = measure_levels(np.stack([x, x]), RATE)
    assert a.leading_silence_s == pytest.approx(1.0, abs=0.011)
    assert a.longest_silence_s == pytest.approx(3.0, abs=0.011)
    assert a.trailing_silence_s == pytest.approx(0.5, abs=0.011)
    assert a.silence_ratio == pytest.approx(4.5 / 8.5, abs=0.005)


def test_dropouts(sine) -> None:
    x = sine(300, 4.0, 0.4)
    assert measure_levels(np.stack([x, x]), RATE).dropouts == 0
    y = x.copy()
    y[RATE : RATE + int(0.02 * RATE)] = 0.0  # 20 ms of digital silence
    y[3 * RATE : 3 * RATE + int(0.005 * RATE)] = 0.0  # 5 ms
    assert measure_levels(np.stack([y, y]), RATE).dropouts == 2
    z = x.copy()
    z[RATE : 2 * RATE] = 0.0  # a one-second gap is silence, not a dropout
    assert measure_levels(np.stack([z, z]), RATE).dropouts == 0


def test_stereo_image(white_noise) -> None:
    noise = white_noise(5.0, 0.1, seed=2)
    independent = measure_levels(noise, RATE)
    assert independent.stereo_correlation == pytest.approx(0.0, abs=0.01)
    assert independent.stereo_width == pytest.approx(0.5, abs=0.01)
    inverted = measure_levels(np.stack([noise[0], -noise[0]]), RATE)
    assert inverted.stereo_correlation == pytest.approx(-1.0, abs=1e-5)
    assert inverted.stereo_width == pytest.approx(1.0, abs=1e-5)
    a = analyze_audio(Audio(np.stack([noise[0], -noise[0]]), RATE))
    assert a.mono_loudness_drop_lu == float("inf")
    assert a.to_dict()["mono_loudness_drop_lu"] is None  # JSON has no infinity


def test_spectral_shape_of_white_noise_and_sines(sine, stereo, white_noise) -> None:
    noise = measure_spectrum(white_noise(5.0, 0.1, seed=3), RATE)
    nyquist = RATE / 2
    assert noise.centroid_hz == pytest.approx(nyquist / 2, rel=0.02)
    assert noise.rolloff_hz == pytest.approx(0.85 * nyquist, rel=0.02)
    assert noise.bandwidth_hz == pytest.approx(nyquist / np.sqrt(12), rel=0.03)  # std of a uniform spectrum
    assert noise.flatness == pytest.approx(np.exp(-np.euler_gamma), abs=0.03)  # white noise power: e^-gamma
    assert noise.harshness_ratio == pytest.approx(4000 / nyquist, abs=0.01)

    low = measure_spectrum(stereo(sine(1000, 3.0, 0.5)).samples, RATE)
    assert low.centroid_hz == pytest.approx(1000, rel=0.05)
    assert low.flatness is not None and low.flatness < 0.01
    assert low.harshness_ratio is not None and low.harshness_ratio < 0.01
    harsh = measure_spectrum(stereo(sine(3000, 3.0, 0.5)).samples, RATE)
    assert harsh.harshness_ratio is not None and harsh.harshness_ratio > 0.99

    silent = measure_spectrum(np.zeros((2, RATE), np.float32), RATE)
    assert silent.centroid_hz is None and silent.harshness_ratio is None


@pytest.mark.parametrize("bpm", [72.0, 100.0, 128.0])
def test_tempo_of_click_track(bpm: float, click_track, stereo) -> None:
    a = analyze_audio(stereo(click_track(bpm, 20.0)))
    assert a.tempo_bpm == pytest.approx(bpm, abs=1.0)
    assert a.beat_regularity > 0.8
    assert a.onset_density_per_s == pytest.approx(bpm / 60, rel=0.1)


def test_tempo_of_noise_is_irregular(white_noise) -> None:
    a = analyze_audio(Audio(white_noise(10.0, 0.1, seed=8), RATE))
    assert a.beat_regularity < 0.2


def test_tempo_refinement_below_frame_grid() -> None:
    # An impulse train whose period is not a whole number of envelope frames.
    frame_rate = 12_000 / 256
    period = 60.0 / 97.3 * frame_rate
    envelope = np.zeros(int(frame_rate * 60))
    envelope[np.round(np.arange(0, envelope.size - 1, period)).astype(int)] = 1.0
    tempo, regularity = estimate_tempo(envelope, frame_rate)
    assert tempo == pytest.approx(97.3, abs=0.3)
    assert regularity > 0.5


@pytest.mark.parametrize(
    ("tonic_midi", "mode", "name"),
    [(62, "major", "D"), (57, "minor", "A"), (63, "major", "Eb"), (66, "minor", "F#")],
)
def test_key_of_chord_progression(tonic_midi: int, mode: str, name: str, chord_progression, stereo) -> None:
    a = analyze_audio(stereo(chord_progression(tonic_midi, mode)))
    assert (a.key, a.mode) == (name, mode)
    assert a.key_confidence > 0.6
    assert a.key_margin > 0.0


def test_key_helpers() -> None:
    assert parse_keyscale("Bb major") == (10, "major")
    assert parse_keyscale("F# minor") == (6, "minor")
    assert parse_keyscale("C♯ minor") == (1, "minor")
    assert pitch_class("A#") == pitch_class("Bb")
    with pytest.raises(ValueError):
        parse_keyscale("H major")
    empty = key_from_chroma(np.zeros(12))
    assert empty.key is None and empty.mode is None


def test_recipe_adherence_with_octave_handling(click_track, stereo) -> None:
    audio = stereo(click_track(100.0, 12.0))
    half = analyze_audio(audio, recipe=Recipe(bpm=50, duration_s=12.0))
    assert half.adherence is not None and half.adherence.passed
    assert half.adherence.tempo_ok and half.adherence.tempo_octave_error
    exact = analyze_audio(audio, recipe=Recipe(bpm=101))
    assert exact.adherence is not None and exact.adherence.tempo_ok and not exact.adherence.tempo_octave_error
    wrong = analyze_audio(audio, recipe=Recipe(bpm=120, duration_s=20.0))
    assert wrong.adherence is not None and not wrong.adherence.passed
    assert wrong.adherence.reasons == (
        f"tempo: asked 120 BPM, measured {wrong.tempo_bpm:.1f} BPM (outside ±4 %, also at half/double tempo)",
        "duration: asked 20 s, got 12.0 s (tolerance ±1 s)",
    )


def test_recipe_key_adherence_and_relative_key(chord_progression, stereo) -> None:
    audio = stereo(chord_progression(60, "major", duration_s=12.0))
    right = analyze_audio(audio, recipe=Recipe(keyscale="C major"))
    assert right.adherence is not None and right.adherence.key_ok
    relative = analyze_audio(audio, recipe=Recipe(keyscale="A minor"))
    assert relative.adherence is not None and relative.adherence.key_relative
    assert relative.adherence.reasons == ("key: asked A minor, measured C major (its relative key)",)


def test_recipe_validation() -> None:
    with pytest.raises(InputError, match="recipe.keyscale='H major'"):
        Recipe(keyscale="H major")
    with pytest.raises(InputError, match="recipe.bpm=1000"):
        Recipe(bpm=1000)

    class Request:
        bpm = 90
        keyscale = "F major"
        duration_s = 30.0

    assert Recipe.from_request(Request()) == Recipe(bpm=90.0, keyscale="F major", duration_s=30.0)


def test_analyze_file_mono_other_rate_and_json(tmp_path: Path, sine) -> None:
    path = write_audio(tmp_path / "mono.wav", Audio(sine(997, 4.0, 0.25, rate=22_050)[None, :], 22_050))
    a = analyze_file(path)
    assert a.sample_rate_hz == 22_050 and a.channels == 1 and a.path == str(path)
    assert a.stereo_correlation == 1.0 and a.mono_loudness_drop_lu == 0.0
    # A 997 Hz sine of amplitude 0.25 in one channel: 20 log10(0.25) - 3.01 LUFS (BS.1770's calibration).
    assert a.integrated_loudness_lufs == pytest.approx(20 * np.log10(0.25) - 3.01, abs=0.1)
    data = json.loads(json.dumps(a.to_dict()))
    assert data["sample_rate_hz"] == 22_050 and data["delivery"] is None


def test_multichannel_is_folded_to_stereo(sine) -> None:
    six = np.tile(sine(440, 2.0, 0.2), (6, 1))
    a = analyze_audio(Audio(six, RATE))
    assert a.channels == 2
    assert any("down-mixed 6 channels" in note for note in a.notes)


def test_bad_input(sine, stereo) -> None:
    with pytest.raises(AudioInputError, match="NaN"):
        analyze_audio(Audio(np.full((2, 1000), np.nan, np.float32), RATE))
    with pytest.raises(AudioInputError, match="no samples"):
        analyze_audio(Audio(np.zeros((2, 0), np.float32), RATE))
    with pytest.raises(AudioInputError, match="file not found"):
        analyze_file("/nonexistent/file.wav")
    with pytest.raises(InputError, match="unknown genre; known genres: hotel_lobby, qsr, retail, spa"):
        analyze_audio(stereo(sine(440, 1.0)), genre="disco")


def test_silent_and_very_short_tracks(sine, stereo) -> None:
    silent = analyze_audio(Audio(np.zeros((2, RATE * 4), np.float32), RATE))
    assert silent.integrated_loudness_lufs == float("-inf")
    assert silent.true_peak_dbtp == float("-inf")
    assert silent.silence_ratio == 1.0 and silent.key is None and silent.tempo_bpm is None
    assert silent.spectral_centroid_hz is None
    short = analyze_audio(stereo(sine(440, 0.05, 0.3)))
    assert short.duration_s == pytest.approx(0.05) and short.tempo_bpm is None
    assert short.loudness_range_lu is None


def test_one_sided_stereo_is_not_flat(sine) -> None:
    tone = sine(1000, 3.0, 0.5)
    left_only = measure_spectrum(np.stack([tone, np.zeros_like(tone)]), RATE)
    assert left_only.flatness is not None and left_only.flatness < 0.01
    assert left_only.centroid_hz == pytest.approx(1000, rel=0.05)


@pytest.mark.parametrize("cents", [-45, 45])
def test_key_survives_detuning(cents: int, chord_progression, stereo) -> None:
    import soxr

    # Resampling and then reading at the original rate shifts every pitch by `cents`.
    x = chord_progression(57, "minor", duration_s=12.0)
    shifted = soxr.resample(x, RATE, RATE * 2 ** (-cents / 1200)).astype(np.float32)
    a = analyze_audio(stereo(shifted))
    assert (a.key, a.mode) == ("A", "minor")
