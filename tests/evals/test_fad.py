"""Fréchet distance, noise floor, diversity, embedding backends and cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg

from evals.sets.backends import get_backend
from evals.sets.embeddings import EmbeddingBackend, EmbeddingCache, LogMelBackend
from evals.sets.fad import (
    compare_clip_sets,
    compare_sets,
    diversity,
    frechet_distance,
    gaussian_stats,
    split_half_floor,
)
from evals.sets.files import list_audio
from workbench.core.audio_io import SAMPLE_RATE as RATE
from workbench.core.audio_io import Audio, write_audio
from workbench.core.errors import InputError, WeightsMissingError


def test_frechet_distance_closed_form_for_diagonal_covariances() -> None:
    rng = np.random.default_rng(0)
    mu_a, mu_b = rng.normal(size=16), rng.normal(size=16)
    var_a, var_b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    assert frechet_distance(mu_a, np.diag(var_a), mu_b, np.diag(var_b)) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_matches_symmetric_form() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 12)), rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12)) * 0.5
    (mu_a, cov_a), (mu_b, cov_b) = gaussian_stats(a), gaussian_stats(b)
    root_a = scipy.linalg.sqrtm(cov_a)
    symmetric = np.real(scipy.linalg.sqrtm(root_a @ cov_b @ root_a))
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(symmetric)
    assert frechet_distance(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected, rel=1e-6)


def _clips(seed: int, n: int, shift: float = 0.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(shift, 1.0, size=(40, 8)) for _ in range(n)]


def test_set_with_itself_is_zero_and_shift_is_seen() -> None:
    clips = _clips(2, 10)
    same = compare_clip_sets(clips, clips, "test")
    assert same.fad == pytest.approx(0.0, abs=1e-6)
    assert same.n_clips == 10 and same.n_frames_a == same.n_frames_b == 400
    assert same.noise_floor is not None and same.noise_floor > 0
    shifted = compare_clip_sets(_clips(3, 10, shift=1.0), clips, "test")
    # Mean shift of 1 in 8 dimensions: FD ~ 8, far above the split-half floor.
    assert shifted.fad == pytest.approx(8.0, rel=0.25)
    assert shifted.fad > 5 * shifted.noise_floor  # type: ignore[operator]


def test_equal_n_is_enforced() -> None:
    with pytest.raises(InputError, match=r"set size=\(6, 10\): FAD is biased by sample size"):
        compare_clip_sets(_clips(4, 6), _clips(5, 10), "test", equal_n="refuse")
    result = compare_clip_sets(_clips(4, 6), _clips(5, 10), "test", equal_n="subsample", seed=1)
    assert result.n_clips == 6 and result.subsampled_from == (6, 10)
    assert result.n_frames_b == 6 * 40
    with pytest.raises(InputError, match="equal_n='sometimes'"):
        compare_clip_sets(_clips(4, 6), _clips(5, 6), "test", equal_n="sometimes")
    with pytest.raises(InputError, match="each set needs at least 2 clips"):
        compare_clip_sets(_clips(4, 1), _clips(5, 1), "test")


def test_noise_floor_and_diversity() -> None:
    assert split_half_floor(_clips(6, 3)) is None
    copies = [np.ones((5, 4))] * 5
    assert diversity(copies) == 0.0
    spread = [np.full((5, 4), float(i)) for i in range(3)]
    # Centres 0, 1, 2 in 4-d: pairwise distances 2, 4, 2 -> mean 8/3.
    assert diversity(spread) == pytest.approx(8 / 3, rel=1e-9)


@pytest.fixture
def write_set(sine: Any, stereo: Any, white_noise: Any) -> Any:
    """``write_set(folder, kind, n)``: n files of "tones" (sines 40 Hz apart) or of noise at rising levels."""

    def write(folder: Path, kind: str, n: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            if kind == "tones":
                audio = stereo(sine(300 + 40 * i, 3.0, 0.3))
            else:
                audio = Audio(white_noise(3.0, 0.05 + 0.01 * i, seed=i), RATE)
            write_audio(folder / f"{kind}_{i}.wav", audio)
        return folder

    return write


def test_logmel_backend_sets_on_disk(tmp_path: Path, write_set) -> None:
    tones = write_set(tmp_path / "tones", "tones", 6)
    noise = write_set(tmp_path / "noise", "noise", 6)
    backend = get_backend("logmel")
    cache = EmbeddingCache(tmp_path / "cache")
    same = compare_sets(tones, tones, backend, cache=cache)
    assert same.fad == pytest.approx(0.0, abs=1e-6)
    different = compare_sets(tones, noise, backend, cache=cache)
    assert different.fad > 10 * max(different.noise_floor or 0.0, 1e-9)
    assert different.diversity_a > 0 and different.n_clips == 6
    frames = cache.embed_file(backend, tones / "tones_0.wav")
    assert frames.shape == (5, 64)  # 3 s in 1 s windows with 0.5 s hop; 32 mel means + 32 stds


class CountingBackend(LogMelBackend):
    calls = 0

    def embed_mono(self, mono: np.ndarray) -> np.ndarray:
        CountingBackend.calls += 1
        return super().embed_mono(mono)


def test_cache_reuses_and_invalidates(tmp_path: Path, sine, stereo) -> None:
    path = write_audio(tmp_path / "a.wav", stereo(sine(440, 2.0, 0.3)))
    cache = EmbeddingCache(tmp_path / "cache")
    backend = CountingBackend()
    first = cache.embed_file(backend, path)
    second = cache.embed_file(backend, path)
    assert CountingBackend.calls == 1
    np.testing.assert_array_equal(first, second)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1
    write_audio(path, stereo(sine(880, 2.0, 0.3)))  # same name, new content: a miss
    cache.embed_file(backend, path)
    assert CountingBackend.calls == 2


def test_backend_registry_and_set_listing(tmp_path: Path, sine, stereo) -> None:
    with pytest.raises(InputError, match="backend='vggish': choose one of clap, logmel"):
        get_backend("vggish")
    with pytest.raises(InputError, match="not found; give a folder of audio files"):
        list_audio(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no audio files"):
        list_audio(tmp_path / "empty")
    with pytest.raises(InputError, match="too short for the logmel embedding"):
        LogMelBackend().embed(stereo(sine(440, 0.2, 0.3)))


def _tiny_clap(folder: Path) -> Path:
    import torch
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    audio = ClapAudioConfig(
        hidden_size=16,
        patch_embeds_hidden_size=8,
        depths=[1, 1],
        num_attention_heads=[1, 2],
        projection_dim=8,
    )
    text = ClapTextConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        projection_dim=8,
    )
    torch.manual_seed(0)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=8))
    model.save_pretrained(folder)
    ClapFeatureExtractor().save_pretrained(folder)
    return folder


def test_clap_backend_with_tiny_random_model(tmp_path: Path, sine, stereo, write_set) -> None:
    folder = _tiny_clap(tmp_path / "tiny-clap")
    backend = get_backend("clap", model=folder)
    frames = backend.embed(stereo(sine(440, 25.0, 0.3)))
    assert frames.shape == (3, 8)  # 10 s + 10 s + 5 s windows
    np.testing.assert_allclose(
        np.linalg.norm(frames, axis=1), 1.0, rtol=1e-5
    )  # CLAP embeddings are unit length
    clips = write_set(tmp_path / "set", "tones", 4)
    result = compare_sets(clips, clips, backend, cache=EmbeddingCache(tmp_path / "cache"))
    assert result.backend == "clap" and result.fad == pytest.approx(0.0, abs=1e-6)
    assert backend.cache_id.startswith("clap-tiny-clap-")


def test_clap_backend_never_downloads(tmp_path: Path) -> None:
    with pytest.raises(WeightsMissingError, match="never downloaded at run time"):
        get_backend("clap", model=tmp_path / "no-such-model")
    with pytest.raises(WeightsMissingError, match="'laion/not-a-cached-clap' are not on this machine"):
        get_backend("clap", model="laion/not-a-cached-clap")  # a hub id not in the cache: fail fast, no fetch


def test_backend_base_class_contract(sine, stereo) -> None:
    class Broken(EmbeddingBackend):
        name = "broken"
        sample_rate = RATE

        def embed_mono(self, mono: np.ndarray) -> np.ndarray:
            return np.zeros((0, 4))

    with pytest.raises(InputError, match="too short for the broken embedding"):
        Broken().embed(stereo(sine(440, 1.0)))


def _structured(seed: int, n: int, shift: float) -> list[np.ndarray]:
    """Clip-structured embeddings: a clip mean (SD 1) plus frame noise (SD 0.5), 16-d, 19 frames per clip."""
    rng = np.random.default_rng(seed)
    return [rng.normal(shift + rng.normal(0, 1, 16), 0.5, size=(19, 16)) for _ in range(n)]


def test_permutation_test_sees_a_shift_the_split_half_floor_calls_not_distinguishable() -> None:
    from evals.sets.fad import fad_verdict

    ref = _structured(10, 30, 0.0)
    shifted = compare_clip_sets(_structured(11, 30, 0.6), ref, "test", permutations=200)
    # the old bar: FAD at or below the reference's split-half FD (bias at n/2) read as "not distinguishable"
    assert shifted.noise_floor is not None and shifted.fad <= 1.6 * shifted.noise_floor
    assert shifted.permutation_p is not None and shifted.permutation_p < 0.05
    assert "further from B" in fad_verdict(shifted)
    same = compare_clip_sets(_structured(12, 30, 0.0), ref, "test", permutations=200)
    assert same.permutation_p is not None and same.permutation_p > 0.05
    assert "not distinguishable" in fad_verdict(same) and "not proof of equality" in fad_verdict(same)
    assert compare_clip_sets(ref, ref, "test", permutations=0).permutation_p is None


def test_permutation_p_holds_its_level_on_same_distribution_sets() -> None:
    ps = [
        compare_clip_sets(
            _structured(100 + i, 12, 0.0), _structured(200 + i, 12, 0.0), "t", permutations=40
        ).permutation_p
        for i in range(40)
    ]
    assert sum(p < 0.05 for p in ps if p is not None) <= 6  # 5 % of 40 is 2; binomial 99.9 % bound


def test_logmel_embedding_ignores_playback_gain() -> None:
    from evals.sets.embeddings import LogMelBackend
    from workbench.core.audio_io import Audio

    rng = np.random.default_rng(7)
    t = np.arange(16_000 * 3) / 16_000
    tone = (0.2 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.normal(size=t.size)).astype(np.float32)
    backend = LogMelBackend()
    loud = backend.embed(Audio(tone[None, :], 16_000))
    quiet = backend.embed(Audio((tone * 10 ** (-6 / 20))[None, :].astype(np.float32), 16_000))
    assert np.allclose(
        loud, quiet, atol=0.05
    )  # -6 dB moves nothing (0.05 dB) once each clip is level-normalised
    assert "rms" in backend.cache_id  # cached embeddings from before the change are not reused
