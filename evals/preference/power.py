"""How many votes a campaign needs: power of a win-rate test, interval widths, and the rater design effect.

Normal approximations throughout (closed forms that planners can check by hand); the exact binomial needs a few
percent more votes because of discreteness (e.g. 194 by this formula vs about 200-210 exact for 60/40 at 80 %
power, see docs/metrics.md). Ties say nothing about direction, so a planned tie rate t divides by (1 - t).
"""

from __future__ import annotations

import math

from scipy.stats import norm

from workbench.core.errors import InputError


def _check_share(name: str, value: float, *, open_interval: bool = True) -> None:
    ok = (
        isinstance(value, (int, float))
        and math.isfinite(value)
        and (0.0 < value < 1.0 if open_interval else 0.0 <= value < 1.0)
    )
    if not ok:
        raise InputError(
            name, value, "must be a share strictly between 0 and 1" if open_interval else "must be in [0, 1)"
        )


def design_effect(votes_per_rater: float, icc: float) -> float:
    """Kish's 1 + (m - 1) * ICC: how much rater clustering inflates the variance of a win rate."""
    if votes_per_rater < 1 or not 0.0 <= icc <= 1.0:
        raise InputError("icc", icc, "votes_per_rater >= 1 and icc in [0, 1]")
    return 1.0 + (votes_per_rater - 1.0) * icc


def _inflate(n: float, tie_rate: float, deff: float) -> int:
    _check_share("tie_rate", tie_rate, open_interval=False)
    if deff < 1.0:
        raise InputError("design_effect", deff, "must be >= 1 (1 = independent votes)")
    return math.ceil(n * deff / (1.0 - tie_rate) - 1e-9)


def votes_needed(
    p1: float,
    p0: float = 0.5,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    tie_rate: float = 0.0,
    design_effect: float = 1.0,
) -> int:
    """Votes for a test of win rate p0 to reach ``power`` when the true win rate is p1.

    n = ((z_a * sqrt(p0 (1 - p0)) + z_b * sqrt(p1 (1 - p1))) / (p1 - p0))**2, with z_a = z(1 - alpha/2) two-sided.
    """
    for name, value in (("p1", p1), ("p0", p0), ("alpha", alpha), ("power", power)):
        _check_share(name, value)
    if p1 == p0:
        raise InputError("p1", p1, "must differ from p0 (no sample size detects a zero effect)")
    z_a = norm.ppf(1.0 - alpha / 2.0) if two_sided else norm.ppf(1.0 - alpha)
    z_b = norm.ppf(power)
    n = ((z_a * math.sqrt(p0 * (1 - p0)) + z_b * math.sqrt(p1 * (1 - p1))) / (p1 - p0)) ** 2
    return _inflate(n, tie_rate, design_effect)


def achieved_power(
    n: float, p1: float, p0: float = 0.5, *, alpha: float = 0.05, two_sided: bool = True
) -> float:
    """Power of the same normal-approximation test with n decisive votes (the far tail ignored)."""
    if n <= 0:
        raise InputError("n", n, "must be a positive number of votes")
    z_a = norm.ppf(1.0 - alpha / 2.0) if two_sided else norm.ppf(1.0 - alpha)
    shift = abs(p1 - p0) * math.sqrt(n) - z_a * math.sqrt(p0 * (1 - p0))
    return float(norm.cdf(shift / math.sqrt(p1 * (1 - p1))))


def votes_for_half_width(
    half_width: float, p: float = 0.5, *, confidence: float = 0.95, design_effect: float = 1.0
) -> int:
    """Votes for a Wald interval of +/- half_width around a win rate near p."""
    _check_share("half_width", half_width)
    _check_share("p", p)
    z = norm.ppf(0.5 + confidence / 2.0)
    return _inflate(z * z * p * (1 - p) / half_width**2, 0.0, design_effect)


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval; ``successes`` may be fractional (ties counted half)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = norm.ppf(0.5 + confidence / 2.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
