"""Votes needed for the decision rule as configured: non-inferiority at the margin, ties, raters and prompts.

The rule PASSes when the lower end of the candidate's win-rate interval (ties half) clears ``margin``, so the plan
asks: how many head-to-head votes n give the one-sided level-alpha test of p <= margin the wanted power when the
true win rate is p? With tie rate t, a vote scores 1, 1/2 or 0 and its variance is v(p) = p - p^2 - t/4 (ties
*lower* the variance of a half-scored vote). With R raters and P prompts whose score ICCs are rho_r and rho_p, the
variance of the mean of n balanced votes is

    v(p) * k(n),   k(n) = (1 - rho_r - rho_p) / n + rho_r / R + rho_p / P,

the rater and prompt parts shrinking only with more raters and prompts, never with more votes. Power 1 - beta needs
(t_a sqrt(v(margin)) + t_b sqrt(v(p))) * sqrt(k(n) * IF) <= p - margin, t quantiles with min(R, P) - 1 degrees of
freedom (what the report uses) and IF the group-sequential inflation factor (1 for a single fixed look). Solved for
n in closed form; ``None`` when no number of votes suffices with these raters and prompts. The design effect shown
is k(n) * n, the variance relative to n independent votes.

Screening removes raters, and with them their votes: R and n above are what remains. The plan takes an expected
excluded share s (default 10 %), plans on round(R * (1 - s)) raters, and asks for n / (1 - s) votes to be collected,
so the power holds when that share of raters is screened out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy.stats import norm
from scipy.stats import t as student_t

from evals.preference.group_sequential import inflation_factor
from workbench.core.errors import InputError

PLAN_WIN_RATES = (0.50, 0.55, 0.60)


@dataclass(frozen=True)
class PlanInputs:
    margin: float = 0.45
    confidence: float = (
        0.95  # two-sided level of the interval; the PASS test is one-sided at (1 - confidence) / 2
    )
    power: float = 0.8
    tie_rate: float = 0.1
    rater_icc: float = 0.03  # share of score variance between raters
    prompt_icc: float = 0.02  # share between prompts
    raters: int = 12
    prompts: int = 12
    looks: int = 4  # 1: one fixed-n analysis; more: the group-sequential design
    # share of raters the screening is expected to exclude (careless, random, a lapse too many): their votes are
    # collected but not counted, and fewer raters remain to spread the rater variance over
    excluded_share: float = 0.10

    def validate(self) -> None:
        for name in ("margin", "power"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise InputError(f"plan.{name}", value, "a share strictly between 0 and 1")
        if not 0.5 < self.confidence < 1.0:
            raise InputError("plan.confidence", self.confidence, "a level between 0.5 and 1, e.g. 0.95")
        if not 0.0 <= self.tie_rate < 1.0:
            raise InputError("plan.tie_rate", self.tie_rate, "a share in [0, 1)")
        for name in ("rater_icc", "prompt_icc"):
            value = getattr(self, name)
            if not 0.0 <= value < 0.5:
                raise InputError(f"plan.{name}", value, "a share in [0, 0.5)")
        if not 0.0 <= self.excluded_share < 0.8:
            raise InputError("plan.excluded_share", self.excluded_share, "a share in [0, 0.8), e.g. 0.1")
        for name in ("raters", "prompts"):
            if getattr(self, name) < 2:
                raise InputError(f"plan.{name}", getattr(self, name), "at least 2 to estimate a variance")


@dataclass(frozen=True)
class PlanRow:
    win_rate: float
    votes: int | None  # head-to-head votes needed (None: unreachable with these raters and prompts)
    design_effect: float  # at that n (nan when unreachable)
    power_at_target: float  # power with the campaign's planned head-to-head votes (nan when none given)


def kept_raters(inputs: PlanInputs) -> int:
    """Raters expected to remain after screening (at least 2)."""
    return max(2, round(inputs.raters * (1.0 - inputs.excluded_share)))


def _kept(inputs: PlanInputs) -> PlanInputs:
    return replace(inputs, raters=kept_raters(inputs), excluded_share=0.0)


def score_variance(p: float, tie_rate: float) -> float:
    """Variance of one vote scored 1 / 0.5 / 0 with win rate p (ties half) and tie rate t."""
    return max(p - p * p - tie_rate / 4.0, 1e-9)


def _quantiles(inputs: PlanInputs) -> tuple[float, float]:
    alpha = (1.0 - inputs.confidence) / 2.0
    df = min(inputs.raters, inputs.prompts) - 1
    return float(student_t.isf(alpha, df)), float(student_t.ppf(inputs.power, df))


def _k_terms(inputs: PlanInputs) -> tuple[float, float]:
    """(per-vote share, floor that no number of votes removes)."""
    return (
        1.0 - inputs.rater_icc - inputs.prompt_icc,
        inputs.rater_icc / inputs.raters + inputs.prompt_icc / inputs.prompts,
    )


def _inflation(inputs: PlanInputs) -> float:
    if inputs.looks <= 1:
        return 1.0
    return inflation_factor(inputs.looks, (1.0 - inputs.confidence) / 2.0, inputs.power)


def votes_for_rule(p: float, inputs: PlanInputs) -> int | None:
    """Head-to-head votes to collect for the rule to PASS with the planned power at true win rate p (None:
    unreachable): the votes the kept raters must give, divided by the share of votes expected to survive screening."""
    inputs.validate()
    share = inputs.excluded_share
    kept = _counted_votes(p, _kept(inputs))
    return None if kept is None else math.ceil(kept / (1.0 - share) - 1e-9)


def _counted_votes(p: float, inputs: PlanInputs) -> int | None:
    if p <= inputs.margin:
        return None
    t_a, t_b = _quantiles(inputs)
    need = (t_a * math.sqrt(score_variance(inputs.margin, inputs.tie_rate))) + t_b * math.sqrt(
        score_variance(p, inputs.tie_rate)
    )
    k_max = ((p - inputs.margin) / need) ** 2 / _inflation(inputs)
    per_vote, floor = _k_terms(inputs)
    if k_max <= floor:
        return None
    return math.ceil(per_vote / (k_max - floor))


def design_effect_at(n: int, inputs: PlanInputs) -> float:
    """Design effect of the counted votes when n are collected."""
    n = max(1, int(n * (1.0 - inputs.excluded_share)))
    inputs = _kept(inputs)
    per_vote, floor = _k_terms(inputs)
    return (per_vote / n + floor) * n


def power_at(n: int, p: float, inputs: PlanInputs) -> float:
    """Approximate power of the rule with n head-to-head votes at true win rate p."""
    inputs.validate()
    n = int(n * (1.0 - inputs.excluded_share))
    inputs = _kept(inputs)
    if n <= 0:
        return 0.0
    df = min(inputs.raters, inputs.prompts) - 1
    t_a = float(student_t.isf((1.0 - inputs.confidence) / 2.0, df))
    per_vote, floor = _k_terms(inputs)
    se_scale = math.sqrt((per_vote / n + floor) * _inflation(inputs))
    shift = (p - inputs.margin) / se_scale - t_a * math.sqrt(score_variance(inputs.margin, inputs.tie_rate))
    return float(student_t.cdf(shift / math.sqrt(score_variance(p, inputs.tie_rate)), df))


def plan_table(inputs: PlanInputs, planned_votes: int | None = None) -> list[PlanRow]:
    rows = []
    for p in PLAN_WIN_RATES:
        n = votes_for_rule(p, inputs)
        rows.append(
            PlanRow(
                p,
                n,
                design_effect_at(n, inputs) if n else math.nan,
                power_at(planned_votes, p, inputs) if planned_votes else math.nan,
            )
        )
    return rows


def normal_votes(p: float, inputs: PlanInputs) -> float:
    """The textbook independent-votes count (no clustering, z quantiles, one look), for comparison in the docs."""
    z_a, z_b = norm.isf((1.0 - inputs.confidence) / 2.0), norm.ppf(inputs.power)
    need = z_a * math.sqrt(score_variance(inputs.margin, inputs.tie_rate)) + z_b * math.sqrt(
        score_variance(p, inputs.tie_rate)
    )
    return (need / (p - inputs.margin)) ** 2
