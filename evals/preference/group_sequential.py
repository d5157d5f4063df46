"""A pre-registered group-sequential design: a few planned looks, O'Brien-Fleming-type alpha spending.

Why not look after every vote: with a fixed prompt set the prompt-sampling error never shrinks, so an interval that
is re-read continuously and treats votes as exchangeable becomes overconfident. A group-sequential design analyses
the campaign only at K looks fixed in advance (by default after 1/4, 1/2, 3/4 and all of the planned head-to-head
votes) on the cluster-robust statistic Z_k = (mean_k - margin) / se_k, and spends the one-sided error alpha over
the looks with the Lan-DeMets O'Brien-Fleming-type function

    alpha(t) = 2 - 2 * Phi(z_{1 - alpha/2} / sqrt(t)),   t = information fraction (votes so far / planned votes),

so early looks need overwhelming evidence and the last one is close to the fixed-n test (its maximum sample size is
a few percent above fixed n, ``inflation_factor``). Boundaries come from the joint law of (Z_1, ..., Z_K), a Brownian
motion observed at t_1 < ... < t_K, integrated numerically on a grid (Armitage-McPherson-Rowe recursion): exact up
to the grid, no Monte-Carlo noise. Z_k is compared with the boundary carried to the t(G - 1) scale (same tail
probability), because the clustered standard error rests on G = min(raters, prompts) clusters.

Futility is non-binding: at an interim look, when the conditional power to cross the final boundary under the
current trend is below ``futility_power``, the report says further votes are unlikely to reach PASS. Ignoring
that advice never raises the false-PASS rate, because the efficacy boundaries were computed without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr
from scipy.stats import norm
from scipy.stats import t as student_t

from workbench.core.errors import InputError

_GRID_STEP = 0.01  # on the Brownian-motion scale; boundaries agree with published tables to ~1e-3
_GRID_SD = 8.0


def obf_spending(t: float, alpha: float) -> float:
    """Cumulative one-sided error spent by information fraction t (Lan-DeMets O'Brien-Fleming type)."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    return float(2.0 - 2.0 * norm.cdf(norm.ppf(1.0 - alpha / 2.0) / math.sqrt(t)))


def _check(fractions: Sequence[float], alpha: float) -> tuple[float, ...]:
    ts = tuple(float(x) for x in fractions)
    if not ts or any(not 0 < x <= 1 for x in ts) or any(b <= a for a, b in zip(ts, ts[1:], strict=False)):
        raise InputError("looks", ts, "information fractions must increase within (0, 1]")
    if not 0 < alpha < 0.5:
        raise InputError("alpha", alpha, "a one-sided error rate in (0, 0.5)")
    return ts


def _grid(t: float, upper: float) -> np.ndarray:
    lo = -_GRID_SD * math.sqrt(t)
    n = max(2, int(math.ceil((upper - lo) / _GRID_STEP)) + 1)
    return np.linspace(lo, upper, n)


def _weights(w: np.ndarray) -> np.ndarray:
    """Trapezoid weights: the density is cut sharply at the boundary, where a plain Riemann sum errs most."""
    h = np.full(w.size, w[1] - w[0])
    h[0] = h[-1] = h[0] / 2.0
    return h


def normal_pdf(x: np.ndarray, loc: np.ndarray | float, scale: float) -> np.ndarray:
    """The normal density, written out: scipy's ``norm.pdf`` checks and broadcasts its arguments on every call,
    which was two thirds of the time of these integrals (they run on grids of 10^5 points, many times per report)."""
    u = (x - loc) / scale
    return np.exp(-0.5 * u * u) / (scale * math.sqrt(2.0 * math.pi))


def _continue_mass(
    fractions: Sequence[float], bounds: Sequence[float], drift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Grid and (sub-)density of W(t_k) on {never crossed so far}, W a Brownian motion with mean drift * t."""
    t0 = fractions[0]
    w = _grid(t0, bounds[0] * math.sqrt(t0))
    dens = normal_pdf(w, drift * t0, math.sqrt(t0))
    for k in range(1, len(bounds)):
        dt = fractions[k] - fractions[k - 1]
        x = _grid(fractions[k], bounds[k] * math.sqrt(fractions[k]))
        kern = normal_pdf(x[:, None], w[None, :] + drift * dt, math.sqrt(dt))
        dens, w = kern @ (dens * _weights(w)), x
    return w, dens


def _crossing(fractions: Sequence[float], bounds: Sequence[float], drift: float) -> Callable[[float], float]:
    """c -> P(no crossing at looks < k, Z_k >= c) where k = len(bounds) (bounds holds the earlier looks).

    The density of "not crossed yet" does not depend on c, so it is integrated once here and a root search over c
    (a boundary) only redoes the last, cheap step."""
    tk = fractions[len(bounds)]
    if not bounds:
        return lambda c: float(norm.sf(c - drift * math.sqrt(tk)))
    w, dens = _continue_mass(fractions, bounds, drift)
    mass = dens * _weights(w)
    dt = tk - fractions[len(bounds) - 1]

    def prob(c: float) -> float:
        return float(np.sum(mass * ndtr((w + drift * dt - c * math.sqrt(tk)) / math.sqrt(dt))))  # = norm.sf

    return prob


def _cross_prob(fractions: Sequence[float], bounds: Sequence[float], c: float, drift: float) -> float:
    """P(no crossing at looks < k, Z_k >= c) where k = len(bounds) (bounds holds the earlier looks)."""
    return _crossing(fractions, bounds, drift)(c)


@lru_cache(maxsize=256)
def _bounds_cached(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    bounds: list[float] = []
    spent = 0.0
    for k, t in enumerate(fractions):
        target = obf_spending(t, alpha) - spent
        if k == len(fractions) - 1:
            target = alpha - spent  # the last look spends what is left, whatever its fraction
        if target <= 1e-12:
            bounds.append(math.inf)
            continue

        crossing = _crossing(fractions[: k + 1], bounds, 0.0)
        c = brentq(lambda c, crossing=crossing, target=target: crossing(c) - target, 0.0, 12.0, xtol=1e-6)
        bounds.append(float(c))
        spent += target
    return tuple(bounds)


def efficacy_bounds(fractions: Sequence[float], alpha: float = 0.025) -> tuple[float, ...]:
    """Z boundaries (one-sided, level ``alpha``) at the given information fractions."""
    return _bounds_cached(_check(fractions, alpha), float(alpha))


def overrun_final_bound(fractions: Sequence[float], final_fraction: float, alpha: float = 0.025) -> float:
    """Z boundary of a last look that has more information than planned (``final_fraction`` > 1).

    The earlier looks keep the boundaries they were read against; the last one spends exactly what is left, with
    the correlation the looks really have (sqrt(t_j / final_fraction) instead of sqrt(t_j)). Keeping the planned
    last boundary instead would spend too much: a last look far past the plan is less correlated with the earlier
    looks than the design assumed, so "no crossing so far" leaves it more room to cross."""
    ts = _check(fractions, alpha)
    if final_fraction <= 1.0 or len(ts) == 1:
        return efficacy_bounds(ts, alpha)[-1] if final_fraction <= 1.0 else float(norm.isf(alpha))
    earlier = list(efficacy_bounds(ts, alpha)[:-1])
    spent = sum(_cross_prob(ts[: j + 1], earlier[:j], earlier[j], 0.0) for j in range(len(earlier)))
    target = alpha - spent
    if target <= 1e-12:
        return math.inf
    scaled = (*(t / final_fraction for t in ts[:-1]), 1.0)
    crossing = _crossing(scaled, earlier, 0.0)
    return float(brentq(lambda c: crossing(c) - target, 0.0, 12.0, xtol=1e-6))


def planned_fractions(looks: int) -> tuple[float, ...]:
    """Equally spaced looks: 1/K, 2/K, ..., 1."""
    if not isinstance(looks, int) or not 1 <= looks <= 10:
        raise InputError("looks", looks, "use 1 to 10 planned looks (1 = a single fixed-n analysis)")
    return tuple((k + 1) / looks for k in range(looks))


def rejection_probability(fractions: Sequence[float], alpha: float, drift: float) -> float:
    """P(crossing some efficacy boundary) when E[Z at t = 1] = drift."""
    ts = _check(fractions, alpha)
    bounds = efficacy_bounds(ts, alpha)
    total = 0.0
    for k in range(len(ts)):
        total += _cross_prob(ts[: k + 1], list(bounds[:k]), bounds[k], drift)
    return total


@lru_cache(maxsize=64)
def inflation_factor(looks: int, alpha: float = 0.025, power: float = 0.8) -> float:
    """Maximum votes of the design relative to the fixed-n test with the same power (about 1.02 for 4 looks)."""
    ts = planned_fractions(looks)
    fixed = norm.ppf(1 - alpha) + norm.ppf(power)
    drift = brentq(lambda d: rejection_probability(ts, alpha, d) - power, 0.1, 10.0, xtol=1e-6)
    return float((drift / fixed) ** 2)


def t_scale(z_bound: float, df: int) -> float:
    """The t(df) critical value with the same one-sided tail probability as ``z_bound``."""
    if not math.isfinite(z_bound):
        return z_bound
    return float(student_t.isf(norm.sf(z_bound), df))


@dataclass(frozen=True)
class LookResult:
    look: int  # 1-based
    votes: int
    fraction: float
    estimate: float
    se: float
    df: int
    z: float
    bound: float  # on the t(df) scale
    crossed_up: bool  # lower end of the repeated interval >= margin
    crossed_down: bool  # upper end < margin
    ci_low: float  # repeated confidence interval at this look
    ci_high: float
    conditional_power: float  # under the planning effect (nan at the last look)


def conditional_power(z: float, fraction: float, final_bound: float, drift: float) -> float:
    """P(Z_final >= final_bound | Z at ``fraction`` = z) when E[Z at t = 1] = drift (B-value form)."""
    if fraction >= 1.0:
        return 1.0 if z >= final_bound else 0.0
    b = z * math.sqrt(fraction)
    rest = 1.0 - fraction
    return float(norm.sf((final_bound - b - drift * rest) / math.sqrt(rest)))
