"""Sequential stopping for a win rate, so a campaign can be looked at after every vote without inflating errors.

Looking at a fixed-n test after every vote from 20 to 1000 gives about 43 % false positives at a nominal 5 %
(docs/metrics.md). Two valid alternatives:

- Wald's SPRT of H0: p = p0 against H1: p = p1 (the planned effect). Stop at the first crossing of
  log((1 - beta) / alpha) (accept H1) or log(beta / (1 - alpha)) (accept H0). Small average sample sizes, but it
  answers only "p0 or p1".
- An anytime-valid confidence sequence: the beta-binomial mixture martingale
  E_n(p0) = B(a + S, b + n - S) / B(a, b) / (p0**S * (1 - p0)**(n - S)), which under p = p0 has expectation 1 at
  every n, so by Ville's inequality P(sup_n E_n >= 1/alpha) <= alpha. The set {p0 : E_n(p0) < 1/alpha} is a
  confidence interval valid at all n at once.

A tie scores 0.5. Both constructions stay valid with scores in [0, 1]: x -> c**x * d**(1 - x) is convex, so the
expected likelihood-ratio factor of a score with mean p0 is at most its value for a 0/1 vote, which is 1.
Written here because the only packaged anytime-valid test that installs (``savvi``) pulls in cvxpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.special import betaln

from workbench.core.errors import InputError


@dataclass(frozen=True)
class SPRTResult:
    decision: str  # "H1" (p1 accepted), "H0" (p0 accepted) or "continue"
    n: int  # votes used: up to and including the crossing, or all of them
    llr: float  # log-likelihood ratio at that point
    upper: float
    lower: float
    p0: float
    p1: float


def sprt_bounds(alpha: float = 0.05, beta: float = 0.2) -> tuple[float, float]:
    """(lower, upper) log-likelihood-ratio bounds of Wald's SPRT."""
    if not (0 < alpha < 1 and 0 < beta < 1 and alpha + beta < 1):
        raise InputError("alpha/beta", (alpha, beta), "use error rates in (0, 1) with alpha + beta < 1")
    return math.log(beta / (1 - alpha)), math.log((1 - beta) / alpha)


def _check_scores(scores: Sequence[float]) -> None:
    for i, s in enumerate(scores):
        if not 0.0 <= s <= 1.0:
            raise InputError(f"scores[{i}]", s, "a vote scores 1 (win), 0.5 (tie) or 0 (loss)")


def sprt(
    scores: Sequence[float], *, p0: float = 0.5, p1: float = 0.6, alpha: float = 0.05, beta: float = 0.2
) -> SPRTResult:
    """Run the SPRT over votes in the order they arrived (1 = candidate won, 0.5 tie, 0 lost)."""
    if not (0 < p0 < 1 and 0 < p1 < 1 and p0 != p1):
        raise InputError("p0/p1", (p0, p1), "two different win rates strictly between 0 and 1")
    _check_scores(scores)
    lower, upper = sprt_bounds(alpha, beta)
    win, loss = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    llr = 0.0
    for i, s in enumerate(scores, start=1):
        llr += s * win + (1 - s) * loss
        if llr >= upper:
            return SPRTResult("H1", i, llr, upper, lower, p0, p1)
        if llr <= lower:
            return SPRTResult("H0", i, llr, upper, lower, p0, p1)
    return SPRTResult("continue", len(scores), llr, upper, lower, p0, p1)


def log_e_value(successes: float, n: float, p0: float, a: float = 1.0, b: float = 1.0) -> float:
    """log E_n(p0) of the beta-binomial mixture martingale (Beta(a, b) mixing over the alternative)."""
    if not 0 < p0 < 1:
        raise InputError("p0", p0, "must be strictly between 0 and 1")
    f = n - successes
    return float(betaln(a + successes, b + f) - betaln(a, b) - successes * math.log(p0) - f * math.log1p(-p0))


def confidence_sequence(
    successes: float, n: float, *, alpha: float = 0.05, a: float = 1.0, b: float = 1.0
) -> tuple[float, float]:
    """Anytime-valid (1 - alpha) interval for the win rate after n votes with ``successes`` (ties half)."""
    if n < 0 or not 0 <= successes <= n:
        raise InputError("successes", successes, f"must be between 0 and n={n}")
    if n == 0:
        return (0.0, 1.0)
    limit = math.log(1.0 / alpha)
    eps = 1e-12
    # E_n(p0) is smallest near the observed rate and grows towards 0 and 1, so each side has at most one root.
    centre = min(max(successes / n, eps), 1 - eps)

    def g(p: float) -> float:
        return log_e_value(successes, n, p, a, b) - limit

    if g(centre) >= 0:  # cannot happen for sensible alpha, but keep the interval well-defined
        return (centre, centre)
    low = 0.0 if g(eps) < 0 else brentq(g, eps, centre, xtol=1e-12)
    high = 1.0 if g(1 - eps) < 0 else brentq(g, centre, 1 - eps, xtol=1e-12)
    return (float(low), float(high))
