"""Per-track analysis: one call measures loudness, peaks, levels, defects, stereo, spectrum, rhythm and key.

Work is shared and done at the lowest rate each measure allows: loudness, peaks and defects at the file's own
rate (they are defined on the samples); the spectrum on non-overlapping frames at the file's rate; rhythm and
key on one mono downmix resampled to 12 kHz (onsets and pitch classes live well below 6 kHz). This is what
makes a 3-minute track take about a second on one core (benchmarks/analysis_speed.py).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from evals.audio.delivery import check_delivery, delivery_spec
from evals.audio.levels import measure_levels
from evals.audio.loudness import measure_loudness
from evals.audio.peak import to_db, true_peak
from evals.audio.recipe import Recipe, check_adherence
from evals.audio.result import TrackAnalysis
from evals.audio.rhythm import measure_rhythm
from evals.audio.spectral import measure_spectrum
from evals.audio.tonal import estimate_key
from workbench.core.audio_io import Audio, conform, read_audio
from workbench.core.errors import AudioInputError

ANALYSIS_RATE = 12_000  # rhythm and key


def _mono_for_music(samples: np.ndarray) -> np.ndarray:
    """Mid signal for rhythm and key; the left channel when the channels cancel (an inverted-polarity file)."""
    if samples.shape[0] == 1:
        return samples[0]
    mid = samples.mean(axis=0)
    side_energy = float(np.dot(samples[0] - samples[1], samples[0] - samples[1]))
    if float(np.dot(mid, mid)) * 4 < 0.01 * side_energy:
        return samples[0]
    return mid


def _downsample(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    import soxr

    if sample_rate == ANALYSIS_RATE:
        return mono
    # "MQ" is ample for onsets and chroma and about twice as fast as the default "HQ".
    return soxr.resample(mono, sample_rate, ANALYSIS_RATE, quality="MQ")


def analyze_audio(
    audio: Audio,
    genre: str | None = None,
    recipe: Recipe | None = None,
    path: str | os.PathLike[str] | None = None,
) -> TrackAnalysis:
    """Analyze ``audio`` (any rate; mono, stereo, or multichannel which is folded to stereo first).

    With ``genre`` the delivery checks of configs/genres.yaml are attached; with ``recipe`` the adherence to it.
    """
    if genre is not None:
        delivery_spec(genre)  # an unknown genre fails before the work, not after it
    notes = list(audio.notes)
    if audio.channels > 2:
        audio = conform(
            audio
        )  # ITU down-mix to stereo (and 48 kHz); loudness is defined here on L and R only
        notes = list(audio.notes)
    if audio.frames == 0:
        raise AudioInputError("audio", str(path or "<array>"), "contains no samples")
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise AudioInputError("audio", str(path or "<array>"), "contains NaN or infinite samples")
    rate = int(audio.sample_rate)

    loudness = measure_loudness(samples, rate)
    levels = measure_levels(samples, rate)
    spectrum = measure_spectrum(samples, rate)
    music = _downsample(_mono_for_music(samples), rate)
    rhythm = measure_rhythm(music, ANALYSIS_RATE)
    key = estimate_key(music, ANALYSIS_RATE)

    result = TrackAnalysis(
        path=str(path) if path is not None else None,
        sample_rate_hz=rate,
        channels=int(samples.shape[0]),
        duration_s=audio.duration_s,
        integrated_loudness_lufs=loudness.integrated_lufs,
        true_peak_dbtp=to_db(true_peak(samples)),
        sample_peak_dbfs=levels.sample_peak_dbfs,
        loudness_range_lu=loudness.loudness_range_lu,
        max_short_term_lufs=loudness.max_short_term_lufs,
        max_momentary_lufs=loudness.max_momentary_lufs,
        mono_loudness_drop_lu=loudness.mono_loudness_drop_lu,
        rms_dbfs=levels.rms_dbfs,
        crest_factor_db=levels.crest_factor_db,
        dc_offset=levels.dc_offset,
        clipped_samples=levels.clipped_samples,
        silence_ratio=levels.silence_ratio,
        leading_silence_s=levels.leading_silence_s,
        trailing_silence_s=levels.trailing_silence_s,
        longest_silence_s=levels.longest_silence_s,
        dropouts=levels.dropouts,
        stereo_correlation=levels.stereo_correlation,
        stereo_width=levels.stereo_width,
        spectral_centroid_hz=spectrum.centroid_hz,
        spectral_rolloff_hz=spectrum.rolloff_hz,
        spectral_flatness=spectrum.flatness,
        spectral_bandwidth_hz=spectrum.bandwidth_hz,
        harshness_ratio=spectrum.harshness_ratio,
        tempo_bpm=rhythm.tempo_bpm,
        beat_regularity=rhythm.beat_regularity,
        onset_density_per_s=rhythm.onset_density_per_s,
        key=key.key,
        mode=key.mode,
        key_confidence=key.confidence,
        key_margin=key.margin,
        genre=genre,
        notes=tuple(notes),
        tempo_confidence=rhythm.tempo_confidence,
    )
    if recipe is not None:
        adherence = check_adherence(
            recipe,
            result.tempo_bpm,
            result.key,
            result.mode,
            result.duration_s,
            tempo_uncertain=result.tempo_uncertain,
        )
        result = replace(result, adherence=adherence)
    if genre is not None:
        result = replace(result, delivery=check_delivery(result, genre))
    return result


def analyze_file(
    path: str | os.PathLike[str], genre: str | None = None, recipe: Recipe | None = None
) -> TrackAnalysis:
    """Read ``path`` as it is (no resampling: delivery is judged on the file itself) and analyze it."""
    return analyze_audio(read_audio(path), genre=genre, recipe=recipe, path=Path(path))
