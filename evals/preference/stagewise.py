"""The interval to report once a group-sequential campaign has stopped: stage-wise ordering.

Why not the repeated confidence interval: it holds at every look at once, so read at the one look where the
campaign stopped it covers more often than its level says (about 98 % for a 95 % interval with four O'Brien-Fleming
looks). After a stop the question is narrower: which win rates would have made an outcome at least this extreme
likely, counting the way the design could have stopped? Stage-wise ordering (Armitage; Tsiatis, Rosner & Mehta
1984; Jennison & Turnbull, "Group Sequential Methods", 2000, section 8.4) ranks outcomes first by the look at
which the campaign stopped, then by the statistic there: an upward crossing at an earlier look is more extreme than
anything later, a downward crossing at an earlier look less extreme. For a true margin gap theta,

    P_theta(outcome >= observed) = sum_{j < k} P_theta(reach j, Z_j >= c_j) + P_theta(reach k, Z_k >= z_k),

with "reach j" = |Z_i| < c_i at every earlier look. It depends only on looks 1..k, so looks that never happened
need no assumption. The 95 % interval is the set of theta where this lies in [alpha, 1 - alpha]; its ends are found
by root search, and at a single look it is the ordinary t interval.

The statistics enter on the scale the design was computed on: each look's t statistic (and its t(df) boundary) is
carried to the normal scale with the same tail probability; the information of look j relative to the stopping look
is the design's, n_j / n_k, as for the boundaries. The ends, found on the normal scale, are widened by
t_{alpha}(df_k) / z_{alpha} so that a one-look design gives exactly the fixed t interval the report would otherwise
print.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr
from scipy.stats import norm
from scipy.stats import t as student_t

from evals.preference.group_sequential import normal_pdf
from workbench.core.errors import InputError

_STEP = 0.02  # grid step on the Brownian-motion scale: tail probabilities to ~1e-4, 4x cheaper than 0.01


@dataclass(frozen=True)
class StageLook:
    """One analysed look as the stage-wise computation needs it."""

    estimate: float
    se: float
    df: int
    bound: float  # the stopping boundary on the t(df) scale (|t| >= bound stops)
    fraction: float  # the design's information fraction of this look (votes / planned), as the bounds used


def _to_normal(t_value: float, df: int) -> float:
    if not math.isfinite(t_value):
        return t_value
    return float(norm.isf(student_t.sf(t_value, df)))


def _trap(x: np.ndarray) -> np.ndarray:
    h = np.full(x.size, x[1] - x[0])
    h[0] = h[-1] = h[0] / 2.0
    return h


def upper_tail(
    zs: Sequence[float], bounds: Sequence[float], fractions: Sequence[float], drift: float
) -> float:
    """P(outcome at least as extreme as (look k, z_k) in stage-wise order), W(s) ~ N(drift * s, s).

    ``zs``, ``bounds`` and ``fractions`` are on the normal scale, one per look up to the stopping look k; the
    fraction of look k is 1 (information relative to it)."""
    k = len(zs)
    if not (k == len(bounds) == len(fractions)) or k == 0:
        raise InputError("looks", k, "one statistic, boundary and information fraction per look")
    total = 0.0
    w: np.ndarray | None = None
    dens: np.ndarray | None = None
    prev = 0.0
    for j in range(k):
        s = fractions[j]
        sd = math.sqrt(s - prev)
        cut = (zs[j] if j == k - 1 else bounds[j]) * math.sqrt(s)  # W at which Z_j reaches the cut
        if w is None or dens is None:
            total += float(norm.sf((cut - drift * s) / sd))
        else:
            # ndtr(-x) is norm.sf(x) without scipy.stats' checks on every call
            tail = ndtr((w + drift * (s - prev) - cut) / sd)
            total += float(np.sum(dens * _trap(w) * tail))
        if j == k - 1:
            break
        c = bounds[j] * math.sqrt(s)
        if not math.isfinite(c):
            c = 10.0 * math.sqrt(s) + abs(drift) * s
        x = np.linspace(-c, c, max(3, int(math.ceil(2 * c / _STEP)) + 1))
        if w is None or dens is None:
            dens = normal_pdf(x, drift * s, sd)
        else:
            kern = normal_pdf(x[:, None], w[None, :] + drift * (s - prev), sd)
            dens = kern @ (dens * _trap(w))
        w, prev = x, s
    return min(1.0, max(0.0, total))


def stagewise_interval(looks: Sequence[StageLook], margin: float, alpha: float) -> tuple[float, float, float]:
    """(lower, upper, median-unbiased estimate) of the win rate after stopping at the last of ``looks``."""
    if not looks:
        raise InputError("looks", 0, "at least one analysed look")
    if not 0 < alpha < 0.5:
        raise InputError("alpha", alpha, "a one-sided error rate in (0, 0.5)")
    last = looks[-1]
    if not (math.isfinite(last.se) and last.se > 0):
        return 0.0, 1.0, last.estimate
    zs = [_to_normal((x.estimate - margin) / x.se, x.df) for x in looks]
    bounds = [_to_normal(x.bound, x.df) for x in looks]
    # The information of each look relative to the stopping look is the design's (votes at look j / votes at the
    # stop), the one its boundaries were computed on. Not (se_k / se_j)^2: a clustered SE from a dozen raters is
    # so noisy that a later look can have the larger SE, which collapsed the increments between looks and moved
    # the interval off its data (the validation study: coverage 76 % with it, benchmarks/decision_validity.py).
    fractions = [x.fraction / last.fraction for x in looks]
    if fractions[0] <= 0 or any(b <= a for a, b in zip(fractions, fractions[1:], strict=False)):
        raise InputError(
            "looks", [x.fraction for x in looks], "information fractions must grow from look to look"
        )

    def drift_at(target: float) -> float | None:
        def gap(d: float) -> float:
            return upper_tail(zs, bounds, fractions, d) - target

        lo, hi = zs[-1] - 12.0, zs[-1] + 12.0
        for _ in range(3):
            if gap(lo) * gap(hi) <= 0:
                return float(brentq(gap, lo, hi, xtol=1e-5))
            lo, hi = lo - 12.0, hi + 12.0
        return None  # the grid's tail probability never crossed the target (degenerate looks)

    z_obs = zs[-1]
    stretch = float(student_t.isf(alpha, last.df) / norm.isf(alpha))
    t_obs = (last.estimate - margin) / last.se

    def theta(d: float) -> float:
        return margin + last.se * (t_obs - (z_obs - d) * stretch)

    ends = [drift_at(alpha), drift_at(1.0 - alpha), drift_at(0.5)]
    if any(d is None for d in ends):
        # No ordering-based bound exists for these looks: report the fixed t interval of all the votes, which is
        # what the design's last look reduces to, rather than failing the whole report.
        half = float(student_t.isf(alpha, last.df)) * last.se
        return max(0.0, last.estimate - half), min(1.0, last.estimate + half), last.estimate
    low, high, mid = (theta(float(d)) for d in ends if d is not None)
    return max(0.0, low), min(1.0, high), min(1.0, max(0.0, mid))
