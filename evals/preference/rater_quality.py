"""Rater screening: position (left/right) bias, gold-trial pass rate, swapped-repeat consistency, exclusion.

Gold trials pair a clip with a degraded copy of itself (low-pass, clipping or a gap); the expected answer is the
undegraded side, and a tie or "both bad" counts as a miss because the rater did not hear the damage. The default
exclusion threshold mirrors ITU-R BS.1534's post-screening: drop a listener who misses more than 15 % of the
hidden-reference checks. A swapped repeat shows the same pair again with sides exchanged; a consistent rater gives
the same answer by system (same system, or tie again, or both bad again). A rater who always clicks one side fails
both checks, which is what they are for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from scipy.stats import binomtest

from evals.preference.agreement import recode
from evals.preference.preference import SIDES, Outcome, Vote, preference_votes
from workbench.core.errors import InputError


@dataclass(frozen=True)
class ExclusionRule:
    """When a rater's votes are dropped before scoring. Checks with too few trials are not judged."""

    max_gold_miss_rate: float = 0.15  # BS.1534: more than 15 % misses on the hidden reference -> excluded
    min_gold_trials: int = 5  # fewer trials make the share too coarse to judge (at 5, one miss is 20 %)
    min_repeat_consistency: float = 0.5  # chance level for a random clicker is about 1/3 to 1/2
    min_repeats: int = 3
    enabled: bool = True

    def validate(self) -> None:
        for name in ("max_gold_miss_rate", "min_repeat_consistency"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise InputError(f"exclusion.{name}", value, "must be a share between 0 and 1")
        for name in ("min_gold_trials", "min_repeats"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InputError(f"exclusion.{name}", value, "must be a whole number >= 1")


@dataclass
class PositionBias:
    left: int  # decisive votes for the left clip
    decisive: int
    left_rate: float
    p_value: float  # two-sided exact binomial test of left_rate = 0.5
    ci_low: float  # Wilson interval of left_rate
    ci_high: float

    def biased(self, alpha: float = 0.05) -> bool:
        return self.decisive > 0 and self.p_value < alpha


def position_bias(votes: Iterable[Vote], confidence: float = 0.95) -> PositionBias:
    """Share of decisive (left/right) preference votes that went to the left clip, tested against 50 %.

    Sides are randomised by the schedule, so any departure from 50 % is about the screen, not the systems.
    """
    decisive = [v for v in preference_votes(votes) if v.outcome in SIDES]
    left = sum(1 for v in decisive if v.outcome == Outcome.LEFT)
    if not decisive:
        return PositionBias(0, 0, math.nan, 1.0, math.nan, math.nan)
    test = binomtest(left, len(decisive), 0.5)
    ci = test.proportion_ci(confidence_level=confidence, method="wilson")
    return PositionBias(
        left, len(decisive), left / len(decisive), float(test.pvalue), float(ci.low), float(ci.high)
    )


@dataclass
class RaterQuality:
    rater: str
    votes: int  # preference votes (gold excluded)
    gold_trials: int
    gold_passed: int
    repeats: int  # swapped repeats whose original this rater also answered
    repeats_consistent: int
    position: PositionBias
    tie_rate: float
    excluded: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def gold_pass_rate(self) -> float:
        return self.gold_passed / self.gold_trials if self.gold_trials else math.nan

    @property
    def repeat_consistency(self) -> float:
        return self.repeats_consistent / self.repeats if self.repeats else math.nan


def _repeat_pairs(votes: list[Vote]) -> list[tuple[Vote, Vote]]:
    by_id = {v.pair_id: v for v in votes if v.pair_id}
    pairs = []
    for v in votes:
        original = by_id.get(v.repeat_of or "")
        if original is not None and original.rater == v.rater and not v.is_gold:
            pairs.append((original, v))
    return pairs


def rater_quality(votes: Iterable[Vote], rule: ExclusionRule | None = None) -> dict[str, RaterQuality]:
    rule = rule or ExclusionRule()
    rule.validate()
    votes = list(votes)
    raters = sorted({v.rater for v in votes})
    repeats = _repeat_pairs(votes)
    out: dict[str, RaterQuality] = {}
    for r in raters:
        mine = [v for v in votes if v.rater == r]
        prefs = preference_votes(mine)
        gold = [v for v in mine if v.is_gold]
        my_repeats = [(a, b) for a, b in repeats if a.rater == r]
        q = RaterQuality(
            rater=r,
            votes=len(prefs),
            gold_trials=len(gold),
            gold_passed=sum(1 for v in gold if v.outcome == v.gold_expected),
            repeats=len(my_repeats),
            repeats_consistent=sum(1 for a, b in my_repeats if recode(a)[1] == recode(b)[1]),
            position=position_bias(mine),
            tie_rate=sum(1 for v in prefs if v.outcome == Outcome.TIE) / len(prefs) if prefs else math.nan,
        )
        if rule.enabled:
            if q.gold_trials >= rule.min_gold_trials and 1.0 - q.gold_pass_rate > rule.max_gold_miss_rate:
                q.reasons.append(
                    f"missed {q.gold_trials - q.gold_passed}/{q.gold_trials} gold trials "
                    f"({1.0 - q.gold_pass_rate:.0%} > {rule.max_gold_miss_rate:.0%})"
                )
            if q.repeats >= rule.min_repeats and q.repeat_consistency < rule.min_repeat_consistency:
                q.reasons.append(
                    f"consistent on {q.repeats_consistent}/{q.repeats} swapped repeats "
                    f"({q.repeat_consistency:.0%} < {rule.min_repeat_consistency:.0%})"
                )
            q.excluded = bool(q.reasons)
        out[r] = q
    return out


def apply_exclusion(
    votes: Iterable[Vote], rule: ExclusionRule | None = None
) -> tuple[list[Vote], dict[str, RaterQuality]]:
    """(votes of the raters kept, quality of every rater)."""
    votes = list(votes)
    quality = rater_quality(votes, rule)
    kept = [v for v in votes if not quality[v.rater].excluded]
    return kept, quality
