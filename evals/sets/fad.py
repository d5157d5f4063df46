"""Set metrics: Fréchet (audio) distance between two sets, its split-half noise floor, and diversity within a set.

FAD is biased upward by small samples (measured here: about 3 at n=1000 for 128-d Gaussians that are identical),
so the rules below are enforced rather than documented only:
- sets are compared at equal n (clips): unequal sets are refused or randomly subsampled to the smaller n, and
  the n used is reported;
- every comparison carries a permutation test at the same n: the clips of both sets are pooled and re-split at
  random into two n-clip sets ``permutations`` times; p is the share of re-splits at least as far apart as the
  real split. It answers "could sampling alone give this distance at this n?" without a bias model. (The
  reference's split-half FD is still reported, but it estimates the bias at n/2, about 1.4-1.6 times the
  same-distribution FAD at n, so "below the floor" was a lenient equivalence claim.) A large p says no difference
  was *detected* at this n, not that the sets are the same.
The distance formula follows fadtk / pytorch-fid (scipy ``sqrtm`` with a small diagonal offset when the product
is singular); it is re-implemented because importing those packages pulls in torch and pins numpy < 2.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg

from evals.sets.embeddings import EmbeddingBackend, EmbeddingCache
from evals.sets.files import list_audio
from workbench.core.errors import InputError

EQUAL_N_MODES = ("subsample", "refuse")
NOISE_FLOOR_SPLITS = 5
PERMUTATIONS = 200
PERMUTATION_ALPHA = 0.05


@dataclass(frozen=True)
class FadResult:
    backend: str
    fad: float
    n_clips: int  # per set, after equalising
    n_frames_a: int
    n_frames_b: int
    subsampled_from: tuple[int, int] | None  # original clip counts when a set was subsampled
    noise_floor: float | None  # mean split-half FD of set B (None below 4 clips)
    diversity_a: float
    diversity_b: float
    seed: int
    permutation_p: float | None = (
        None  # share of random re-splits of the pooled clips at least this far apart
    )
    permutations: int = 0


def fad_verdict(result: FadResult, alpha: float = PERMUTATION_ALPHA) -> str:
    """One sentence on what the permutation test says (empty when it was not run)."""
    if result.permutation_p is None:
        return ""
    if result.permutation_p < alpha:
        return (
            f"A is **further from B** than random splits of the pooled clips "
            f"(permutation p = {result.permutation_p:.3f}, {result.permutations} re-splits)."
        )
    return (
        f"A is **not distinguishable** from B at this n (permutation p = {result.permutation_p:.2f}, "
        f"{result.permutations} re-splits): no difference detected, which is not proof of equality."
    )


def permutation_p_value(
    clips_a: Sequence[np.ndarray],
    clips_b: Sequence[np.ndarray],
    observed: float,
    permutations: int,
    seed: int,
) -> float:
    """(1 + #re-splits with FD >= observed) / (1 + permutations), clips of both sets pooled and re-split at equal n."""
    pooled = list(clips_a) + list(clips_b)
    n = len(clips_a)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(permutations):
        order = rng.permutation(len(pooled))
        first = np.concatenate([pooled[i] for i in order[:n]])
        second = np.concatenate([pooled[i] for i in order[n : 2 * n]])
        hits += set_distance(first, second) >= observed - 1e-12
    return (1 + hits) / (1 + permutations)


def gaussian_stats(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (n, dim) embeddings."""
    if frames.ndim != 2 or frames.shape[0] < 2:
        raise InputError("embeddings", getattr(frames, "shape", None), "need at least 2 embedding frames")
    data = frames.astype(np.float64)
    return data.mean(axis=0), np.cov(data, rowvar=False)


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """d^2 = |mu_a - mu_b|^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^1/2)."""
    diff = mu_a - mu_b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # singular products are handled below
        covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        # Singular product (fewer frames than dimensions): offset the diagonals, as pytorch-fid does.
        offset = np.eye(cov_a.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)  # tiny imaginary parts are numerical noise
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def set_distance(frames_a: np.ndarray, frames_b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(frames_a), *gaussian_stats(frames_b))


def diversity(clips: Sequence[np.ndarray]) -> float:
    """Mean pairwise Euclidean distance between clip embeddings (each clip's mean frame). 0 for copies."""
    if len(clips) < 2:
        return 0.0
    centres = np.stack([clip.mean(axis=0) for clip in clips]).astype(np.float64)
    squared = (centres**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * centres @ centres.T, 0.0))
    upper = np.triu_indices(len(clips), k=1)
    return float(distances[upper].mean())


def split_half_floor(
    clips: Sequence[np.ndarray], seed: int = 0, splits: int = NOISE_FLOOR_SPLITS
) -> float | None:
    """Mean FD between random halves of one set: the distance expected from sampling alone at n/2 clips.

    It over-states the floor at n (bias shrinks roughly as 1/n), so it is a conservative bar to clear.
    """
    if len(clips) < 4:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(splits):
        order = rng.permutation(len(clips))
        half = len(clips) // 2
        first = np.concatenate([clips[i] for i in order[:half]])
        second = np.concatenate([clips[i] for i in order[half : 2 * half]])
        values.append(set_distance(first, second))
    return float(np.mean(values))


def compare_clip_sets(
    clips_a: Sequence[np.ndarray],
    clips_b: Sequence[np.ndarray],
    backend_name: str,
    equal_n: str = "subsample",
    seed: int = 0,
    permutations: int = PERMUTATIONS,
) -> FadResult:
    """FAD between two sets of per-clip embeddings, with a permutation test at equal n (0 permutations: none)."""
    if equal_n not in EQUAL_N_MODES:
        raise InputError("equal_n", equal_n, f"choose one of {', '.join(EQUAL_N_MODES)}")
    if len(clips_a) < 2 or len(clips_b) < 2:
        raise InputError("set size", (len(clips_a), len(clips_b)), "each set needs at least 2 clips")
    subsampled = None
    if len(clips_a) != len(clips_b):
        if equal_n == "refuse":
            raise InputError(
                "set size",
                (len(clips_a), len(clips_b)),
                "FAD is biased by sample size, so sets are compared at equal n; give equal sets or use "
                "--equal-n subsample",
            )
        rng = np.random.default_rng(seed)
        n = min(len(clips_a), len(clips_b))
        subsampled = (len(clips_a), len(clips_b))
        clips_a = [clips_a[i] for i in sorted(rng.choice(len(clips_a), n, replace=False))]
        clips_b = [clips_b[i] for i in sorted(rng.choice(len(clips_b), n, replace=False))]
    frames_a, frames_b = np.concatenate(clips_a), np.concatenate(clips_b)
    fad = set_distance(frames_a, frames_b)
    p_value = permutation_p_value(clips_a, clips_b, fad, permutations, seed) if permutations > 0 else None
    return FadResult(
        backend=backend_name,
        fad=fad,
        n_clips=len(clips_a),
        n_frames_a=int(frames_a.shape[0]),
        n_frames_b=int(frames_b.shape[0]),
        subsampled_from=subsampled,
        noise_floor=split_half_floor(clips_b, seed),
        diversity_a=diversity(clips_a),
        diversity_b=diversity(clips_b),
        seed=seed,
        permutation_p=p_value,
        permutations=permutations if p_value is not None else 0,
    )


def embed_set(
    files: Sequence[str | os.PathLike[str]], backend: EmbeddingBackend, cache: EmbeddingCache | None = None
) -> list[np.ndarray]:
    cache = cache or EmbeddingCache()
    return [cache.embed_file(backend, Path(f)) for f in files]


def compare_sets(
    set_a: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    set_b: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    backend: EmbeddingBackend,
    equal_n: str = "subsample",
    seed: int = 0,
    cache: EmbeddingCache | None = None,
    permutations: int = PERMUTATIONS,
) -> FadResult:
    """FAD of set A against reference set B. Each set is a folder of audio files or a list of files."""
    files_a = list_audio(set_a) if isinstance(set_a, str | os.PathLike) else [Path(f) for f in set_a]
    files_b = list_audio(set_b) if isinstance(set_b, str | os.PathLike) else [Path(f) for f in set_b]
    return compare_clip_sets(
        embed_set(files_a, backend, cache),
        embed_set(files_b, backend, cache),
        backend.name,
        equal_n,
        seed,
        permutations,
    )
