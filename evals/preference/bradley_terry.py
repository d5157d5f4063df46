"""Bradley–Terry maximum likelihood (optionally with a Gaussian prior) from a matrix of pairwise scores.

``scores[i, j]`` is how often system i beat system j, where a tie adds 0.5 to both ``scores[i, j]`` and
``scores[j, i]`` (FastChat and Music Arena count ties the same way). The model is
P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j))) and the fit maximises

    sum_ij scores[i, j] * log P(i beats j)  -  sum_i theta_i**2 / (2 * prior_sd**2)

With a prior the optimum has mean zero by itself (the data terms of the gradient cancel in the sum). Without a
prior the log-likelihood is invariant to a common shift, so theta is centred; the MLE then exists only if the
"beat at least partly" graph is strongly connected, which we check instead of letting it drift to infinity.

Written here rather than calling ``choix``: the bootstrap refits the model a thousand times from weighted count
matrices, which Newton's method on a K x K matrix does in microseconds, while choix wants one list entry per
comparison (ties need the data duplicated) and is therefore used only as the test oracle.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse.csgraph import connected_components

from workbench.core.errors import InputError

# Readable scale used by Chatbot Arena and Music Arena: P(A beats B) = 1 / (1 + 10 ** (-(rA - rB) / 400)).
RATING_SCALE = 400.0 / math.log(10.0)
RATING_CENTRE = 1000.0
DEFAULT_PRIOR_SD = 1.0  # natural-log units; the same strength as Music Arena's L2 penalty with C = 1

_MAX_ITER = 100
_GRAD_TOL = 1e-12


def to_rating(theta: np.ndarray) -> np.ndarray:
    """Log-strengths (natural log) to the Elo-like scale centred on 1000."""
    theta = np.asarray(theta, dtype=float)
    return RATING_CENTRE + RATING_SCALE * (theta - theta.mean())


def win_probability(rating_a: float, rating_b: float) -> float:
    """P(A beats B) implied by two ratings on the 400-point scale."""
    return 1.0 / (1.0 + 10.0 ** (-(rating_a - rating_b) / 400.0))


def _objective(theta: np.ndarray, scores: np.ndarray, precision: float) -> float:
    diff = theta[:, None] - theta[None, :]
    # log sigmoid(d) = -log1p(exp(-d)), computed stably with logaddexp
    return float(-(scores * np.logaddexp(0.0, -diff)).sum() - 0.5 * precision * (theta**2).sum())


def _check_identifiable(scores: np.ndarray) -> None:
    n_comp, _ = connected_components(scores > 0, directed=True, connection="strong")
    if n_comp > 1:
        raise InputError(
            "prior_sd",
            None,
            "without a prior the Bradley-Terry MLE does not exist for these votes (some system never beat, or "
            "was never beaten by, the rest); give prior_sd (e.g. 1.0)",
        )


def fit_bradley_terry(scores: np.ndarray, prior_sd: float | None = DEFAULT_PRIOR_SD) -> np.ndarray:
    """Log-strengths (natural log, mean zero) maximising the (penalised) Bradley–Terry likelihood."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise InputError("scores", scores.shape, "must be a square K x K matrix of pairwise scores")
    if not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise InputError("scores", "negative or non-finite entries", "scores must be finite and >= 0")
    if prior_sd is not None and not (math.isfinite(prior_sd) and prior_sd > 0):
        raise InputError("prior_sd", prior_sd, "must be a positive number, or None for the plain MLE")
    k = scores.shape[0]
    scores = scores.copy()
    np.fill_diagonal(scores, 0.0)
    if k == 1:
        return np.zeros(1)
    if prior_sd is None:
        _check_identifiable(scores)
    precision = 0.0 if prior_sd is None else 1.0 / prior_sd**2
    totals = scores + scores.T
    theta = np.zeros(k)
    value = _objective(theta, scores, precision)
    for _ in range(_MAX_ITER):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        grad = (scores - totals * p).sum(axis=1) - precision * theta
        if np.max(np.abs(grad)) < _GRAD_TOL * max(1.0, totals.sum()):
            break
        w = totals * p * (1.0 - p)
        hess = w.copy()
        np.fill_diagonal(hess, -w.sum(axis=1) - precision)
        if precision == 0.0:
            # Fix theta[-1] = 0 to remove the shift invariance, solve in the reduced space.
            step = np.zeros(k)
            step[:-1] = np.linalg.solve(hess[:-1, :-1], -grad[:-1])
        else:
            step = np.linalg.solve(hess, -grad)
        # Newton on a concave objective; halve the step if it ever overshoots (far from the optimum).
        t = 1.0
        while t > 1e-8:
            candidate = theta + t * step
            cand_value = _objective(candidate, scores, precision)
            if cand_value >= value - 1e-12 * abs(value):
                break
            t *= 0.5
        theta, value = candidate, cand_value
    return theta - theta.mean()
