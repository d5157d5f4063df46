"""Rater screening: gold trials judged by a binomial tail, screen-side checks, exclusion.

Gold trials pair a clip with a degraded copy of itself (low-pass, clipping or a gap); the expected answer is the
undegraded side, and a tie or "both bad" counts as a miss because the rater did not hear the damage. A raw miss
share (BS.1534's "more than 15 %") needs many hidden-reference items per listener; with the 8-12 a campaign can
afford, one honest lapse would exclude. So a rater is excluded only when their misses are improbable for an honest
listener with the stated lapse rate: P(X >= misses | trials, lapse_rate) < gold_alpha. With lapse 10 % and alpha
5 %, at most 5 % of honest raters who lapse that often (and far fewer who lapse less) are excluded, while a random
clicker (about 55 % misses) is caught 90 % of the time with 8 trials.

Swapped repeats are NOT scored for system consistency: under the Bradley-Terry model the report fits, an honest
rater re-judging a close pair agrees with their first answer only 40-55 % of the time, so a consistency bar removes
honest raters. What repeats and decisive votes do show is the screen side: sides are randomised, so a rater whose
two answers to a swapped repeat sit on the same side far more than half the time (one-sided binomial), or whose
decisive votes go to one side far more than half the time (two-sided binomial), is answering the screen, not the
music. An always-left rater fails both.

A shill who always picks one system passes all of these. The panel check compares, per system pair, a rater's
decisive choices with the share the other raters gave the same pair (two-sided binomial, ``panel_alpha`` 1e-4):
honest taste moves a rater's share by some tens of points, which that level tolerates, while "always the same
system" over 15+ votes where the panel splits does not. A rater whose every decisive vote in a pair (12 or more)
goes to one system the panel picks at most 80 % of the time is excluded outright: the binomial test must tolerate
honest taste and so needs many votes to reject a shill, while unanimity is what honest taste almost never gives
(a rater two taste-SDs out, choosing a system 75 % of the time, is unanimous over 12 votes 3 % of the time, over
20 votes 0.3 %). It judges the votes, not the person: the report shows every verdict without screening too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from scipy.stats import binom, binomtest

from evals.preference.agreement import recode
from evals.preference.preference import SIDES, Outcome, Vote, preference_votes
from workbench.core.errors import InputError


@dataclass(frozen=True)
class ExclusionRule:
    """When a rater's votes are dropped before scoring. Checks with too few trials are not judged."""

    lapse_rate: float = 0.10  # an honest listener may miss this share of gold trials
    gold_alpha: float = 0.05  # exclude when the misses are this improbable for such a listener
    min_gold_trials: int = 8  # the schedule gives every rater at least this many
    side_alpha: float = 0.001  # two-sided binomial test of the left share of decisive votes
    min_side_votes: int = 10
    repeat_alpha: float = 0.02  # one-sided test that swapped repeats land on the same screen side
    min_repeats: int = 6  # decisive repeat pairs (6 on one side: p = 1/64); the schedule gives 7 repeats
    panel_alpha: float = (
        1e-4  # exclude a rater whose choices in a system pair are this improbable for the panel
    )
    min_panel_votes: int = 15  # decisive votes in that pair before the panel check judges
    # one system in every decisive vote of a pair (at least this many) where the panel picks it at most
    # ``unanimous_panel_max`` of the time: what a shill does, and what honest taste almost never produces
    unanimous_votes: int = 12
    unanimous_panel_max: float = 0.8
    enabled: bool = True

    def validate(self) -> None:
        for name in (
            "lapse_rate",
            "gold_alpha",
            "side_alpha",
            "repeat_alpha",
            "panel_alpha",
            "unanimous_panel_max",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                raise InputError(f"exclusion.{name}", value, "must be a share strictly between 0 and 1")
        for name in (
            "min_gold_trials",
            "min_repeats",
            "min_side_votes",
            "min_panel_votes",
            "unanimous_votes",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InputError(f"exclusion.{name}", value, "must be a whole number >= 1")

    def gold_misses_to_exclude(self, trials: int) -> int | None:
        """The fewest misses of ``trials`` that exclude (None: no count can, too few trials)."""
        for misses in range(trials + 1):
            if binom.sf(misses - 1, trials, self.lapse_rate) < self.gold_alpha:
                return misses
        return None


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
    repeats_consistent: int  # same answer by system (reported, not used to exclude: see the module text)
    repeats_same_side: int  # decisive repeat pairs whose two answers sit on the same screen side
    repeats_decisive: int
    position: PositionBias
    tie_rate: float
    excluded: bool = False
    reasons: list[str] = field(default_factory=list)

    def judged(self, rule: ExclusionRule) -> bool:
        """Whether the gold check, the one that catches random clicking, had enough trials to judge this rater."""
        return self.gold_trials >= rule.min_gold_trials

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


def _judge(q: RaterQuality, rule: ExclusionRule) -> None:
    misses = q.gold_trials - q.gold_passed
    if q.gold_trials >= rule.min_gold_trials:
        tail = float(binom.sf(misses - 1, q.gold_trials, rule.lapse_rate))
        if tail < rule.gold_alpha:
            q.reasons.append(
                f"missed {misses}/{q.gold_trials} gold trials (P = {tail:.2g} for a listener lapsing "
                f"{rule.lapse_rate:.0%} of the time; excluded below {rule.gold_alpha:g})"
            )
    p = q.position
    if p.decisive >= rule.min_side_votes and p.p_value < rule.side_alpha:
        q.reasons.append(
            f"chose the left clip in {p.left}/{p.decisive} decisive votes (binomial p = {p.p_value:.2g} "
            f"< {rule.side_alpha:g})"
        )
    if q.repeats_decisive >= rule.min_repeats:
        side = float(binomtest(q.repeats_same_side, q.repeats_decisive, 0.5, alternative="greater").pvalue)
        if side < rule.repeat_alpha:
            q.reasons.append(
                f"answered the same screen side on {q.repeats_same_side}/{q.repeats_decisive} swapped repeats "
                f"(binomial p = {side:.2g} < {rule.repeat_alpha:g})"
            )


def _panel_check(prefs: dict[str, list[Vote]], rule: ExclusionRule) -> dict[str, list[str]]:
    """Reasons per rater whose decisive choices in some system pair are improbable given the other raters."""
    # (rater, pair) -> [decisive votes, votes for pair[0]]
    counts: dict[tuple[str, tuple[str, str]], list[int]] = {}
    for rater, vs in prefs.items():
        for v in vs:
            if v.outcome not in SIDES:
                continue
            key = (
                (v.system_left, v.system_right)
                if v.system_left <= v.system_right
                else (v.system_right, v.system_left)
            )
            c = counts.setdefault((rater, key), [0, 0])
            c[0] += 1
            c[1] += v.winner == key[0]
    totals: dict[tuple[str, str], list[int]] = {}
    for (_, key), (n, k) in counts.items():
        t = totals.setdefault(key, [0, 0])
        t[0] += n
        t[1] += k
    out: dict[str, list[str]] = {}
    for (rater, key), (n, k) in counts.items():
        rest_n, rest_k = totals[key][0] - n, totals[key][1] - k
        if rest_n < rule.min_panel_votes:
            continue
        share = min(max(rest_k / rest_n, 0.5 / rest_n), 1 - 0.5 / rest_n)
        if n >= rule.unanimous_votes and k in (0, n):
            chosen, panel_share = (key[0], share) if k == n else (key[1], 1.0 - share)
            if panel_share <= rule.unanimous_panel_max:
                out.setdefault(rater, []).append(
                    f"chose {chosen} in all {n} decisive votes of {key[0]} against {key[1]} where the other "
                    f"raters chose it in {panel_share:.0%}"
                )
                continue
        if n < rule.min_panel_votes:
            continue
        p = float(binomtest(k, n, share).pvalue)
        if p < rule.panel_alpha:
            out.setdefault(rater, []).append(
                f"chose {key[0]} in {k}/{n} decisive votes against {key[1]} where the other raters chose it in "
                f"{share:.0%} (binomial p = {p:.2g} < {rule.panel_alpha:g})"
            )
    return out


def rater_quality(votes: Iterable[Vote], rule: ExclusionRule | None = None) -> dict[str, RaterQuality]:
    rule = rule or ExclusionRule()
    rule.validate()
    votes = list(votes)
    by_rater: dict[str, list[Vote]] = {}
    for v in votes:
        by_rater.setdefault(v.rater, []).append(v)
    repeats: dict[str, list[tuple[Vote, Vote]]] = {}
    for a, b in _repeat_pairs(votes):
        repeats.setdefault(a.rater, []).append((a, b))
    panel = (
        _panel_check({r: preference_votes(vs) for r, vs in by_rater.items()}, rule) if rule.enabled else {}
    )
    out: dict[str, RaterQuality] = {}
    for r in sorted(by_rater):
        mine = by_rater[r]
        prefs = preference_votes(mine)
        gold = [v for v in mine if v.is_gold]
        my_repeats = repeats.get(r, [])
        decisive = [(a, b) for a, b in my_repeats if a.outcome in SIDES and b.outcome in SIDES]
        q = RaterQuality(
            rater=r,
            votes=len(prefs),
            gold_trials=len(gold),
            gold_passed=sum(1 for v in gold if v.outcome == v.gold_expected),
            repeats=len(my_repeats),
            repeats_consistent=sum(1 for a, b in my_repeats if recode(a)[1] == recode(b)[1]),
            repeats_same_side=sum(1 for a, b in decisive if a.outcome == b.outcome),
            repeats_decisive=len(decisive),
            position=position_bias(mine),
            tie_rate=sum(1 for v in prefs if v.outcome == Outcome.TIE) / len(prefs) if prefs else math.nan,
        )
        if rule.enabled:
            _judge(q, rule)
            q.reasons += panel.get(r, [])
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
