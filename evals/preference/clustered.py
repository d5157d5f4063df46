"""Standard error of a mean vote score when votes cluster by rater AND by prompt (two-way cluster-robust).

Why this estimator: a campaign's votes are crossed, not nested. Each rater judges many prompts and each prompt is
judged by many raters, so a rater's taste and a prompt's character each make votes that share them alike. A
one-way (rater) bootstrap cannot see the prompt part, and with a fixed prompt set that part never shrinks as votes
accumulate. Cameron, Gelbach & Miller's two-way sandwich adds the rater-clustered and the prompt-clustered
variances and subtracts the (rater, prompt)-cell variance counted twice:

    V = V_rater + V_prompt - V_cell,   V_g = g / (g - 1) * sum_c (sum_{i in c} e_i)^2 / n^2,

with e_i = y_i - mean(y) and the CRV1 small-sample factor g / (g - 1) per dimension (the same formula statsmodels
applies in ``cov_cluster_2groups``; tests/evals check the two agree). It uses the actual spread of the scores, so a
tie (scored 1/2) counts with the smaller variance it really has. When the difference is not positive (possible in
small samples) the larger one-way variance is used, as CGM recommend; and the result is never taken below the
independent-votes variance, because with a dozen clusters a sandwich below it is far more often noise than a
real negative correlation (a conservative floor, as the old rater design effect had). Quantiles are t with G - 1 degrees of
freedom, G = min(raters, prompts): the rarer cluster dimension sets how much the variance itself is known.

A GLMM with crossed random intercepts would model the same structure, but needs a parametric bootstrap per
report to give intervals for the win rate (too slow for a report re-run after every vote) and assumes a logistic
link the decision does not need. The pigeonhole bootstrap is the resampling equivalent of this sandwich and shares
its small-G behaviour, at 1000 times the cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.core.errors import InputError


@dataclass(frozen=True)
class ClusteredMean:
    """The mean score with its two-way cluster-robust standard error and what went into it."""

    n: int
    mean: float
    se: float  # two-way cluster-robust standard error of the mean, floored at se_iid
    se_sandwich: float  # the CGM two-way sandwich itself (what statsmodels' cov_cluster_2groups gives)
    se_iid: float  # what the votes would give if they were independent
    raters: int
    prompts: int
    df: int  # degrees of freedom of the t quantiles: min(raters, prompts) - 1
    rater_icc: float  # share of score variance between raters (one-way ANOVA estimator, >= 0)
    prompt_icc: float  # share of score variance between prompts

    @property
    def design_effect(self) -> float:
        """Variance of the mean relative to independent votes (1 = no clustering)."""
        if self.se_iid <= 0 or not math.isfinite(self.se):
            return 1.0
        return (self.se / self.se_iid) ** 2


def _codes(labels: Sequence[object]) -> np.ndarray:
    _, inverse = np.unique(np.asarray([str(x) for x in labels]), return_inverse=True)
    return inverse.astype(np.int64)


def _one_way(resid: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """CRV1 variance of the mean for one cluster dimension, and the number of clusters."""
    g = int(groups.max()) + 1 if groups.size else 0
    sums = np.bincount(groups, weights=resid, minlength=g)
    used = int(np.count_nonzero(np.bincount(groups, minlength=g)))
    if used < 2:
        return math.nan, used
    n = resid.size
    return float(used / (used - 1) * np.sum(sums**2) / n**2), used


def anova_icc(y: np.ndarray, groups: np.ndarray) -> float:
    """One-way random-effects ICC(1) with unequal group sizes (the n0-weighted ANOVA estimator), floored at 0."""
    g = int(groups.max()) + 1 if groups.size else 0
    counts = np.bincount(groups, minlength=g).astype(float)
    keep = counts > 0
    k, n = int(keep.sum()), y.size
    if k < 2 or n <= k:
        return math.nan
    sums = np.bincount(groups, weights=y, minlength=g)[keep]
    counts = counts[keep]
    means = sums / counts
    grand = y.mean()
    ss_between = float(np.sum(counts * (means - grand) ** 2))
    ss_within = float(np.sum((y - grand) ** 2)) - ss_between
    ms_b, ms_w = ss_between / (k - 1), ss_within / (n - k)
    n0 = (n - float(np.sum(counts**2)) / n) / (k - 1)
    between = (ms_b - ms_w) / n0
    total = between + ms_w
    return float(max(0.0, between / total)) if total > 0 else 0.0


def clustered_mean(
    scores: Sequence[float] | np.ndarray, raters: Sequence[object], prompts: Sequence[object]
) -> ClusteredMean:
    """Mean of ``scores`` (1 win, 1/2 tie, 0 loss) with its rater x prompt cluster-robust standard error."""
    y = np.asarray(scores, dtype=float)
    if not (len(y) == len(raters) == len(prompts)):
        raise InputError("scores", len(y), "scores, raters and prompts must have the same length")
    n = int(y.size)
    if n == 0:
        return ClusteredMean(0, math.nan, math.nan, math.nan, math.nan, 0, 0, 0, math.nan, math.nan)
    r, p = _codes(raters), _codes(prompts)
    mean = float(y.mean())
    resid = y - mean
    v_r, g_r = _one_way(resid, r)
    v_p, g_p = _one_way(resid, p)
    cell = r * (int(p.max()) + 1) + p
    v_rp, _ = _one_way(resid, _codes(cell.tolist()))
    iid = float(np.var(y, ddof=1) / n) if n > 1 else math.nan
    parts = [v for v in (v_r, v_p) if math.isfinite(v)]
    if not parts:
        var = iid
    else:
        var = v_r + v_p - v_rp if len(parts) == 2 and math.isfinite(v_rp) else max(parts)
        if not var > 0:
            var = max(parts)
    floored = max(var, iid) if math.isfinite(iid) else var
    return ClusteredMean(
        n=n,
        mean=mean,
        se=math.sqrt(floored) if floored >= 0 else math.nan,
        se_sandwich=math.sqrt(var) if var >= 0 else math.nan,
        se_iid=math.sqrt(iid) if math.isfinite(iid) else math.nan,
        raters=g_r,
        prompts=g_p,
        df=max(1, min(g_r, g_p) - 1),
        rater_icc=anova_icc(y, r),
        prompt_icc=anova_icc(y, p),
    )
