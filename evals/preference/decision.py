"""Per-genre decision: is the candidate good enough to replace the baseline? PASS / FAIL / NEED MORE VOTES.

The question is one of non-inferiority: background music may replace the catalogue when listeners do not clearly
prefer the catalogue. The rule (``DecisionRule``, defaults below) asks for
- the lower end of the candidate's head-to-head win rate against the baseline (ties half) at or above
  ``min_win_rate`` (45 %), and
- the candidate's delivery pass rate in that genre at or above ``min_delivery_pass_rate`` (95 %).
FAIL when the upper end of the win-rate interval is below ``min_win_rate`` or delivery falls short; PASS when
both criteria are met; otherwise NEED MORE VOTES (the reasons say what is missing, and roughly how many votes).

The interval is by default anytime-valid (evals.preference.sequential), widened for rater clustering by dividing the vote
count by the design effect measured with a rater bootstrap, so the report may be re-run after every vote.
``interval="fixed"`` uses the more cautious of a Wilson and a rater-clustered bootstrap interval instead: tighter,
but valid only when read once at a vote target fixed in advance. An SPRT line is reported as the stop signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from evals.preference.power import wilson_interval
from evals.preference.preference import BothBad, Outcome, Vote, cluster_weights, preference_votes
from evals.preference.rater_quality import ExclusionRule
from evals.preference.sequential import SPRTResult, confidence_sequence, sprt
from evals.preference.track_results import DeliverySummary
from workbench.core.config import from_mapping, whole
from workbench.core.errors import ConfigError, InputError

PASS, FAIL, NEED_MORE_VOTES = "PASS", "FAIL", "NEED MORE VOTES"
IntervalKind = Literal["anytime", "fixed"]


@dataclass(frozen=True)
class DecisionRule:
    """When a candidate may replace the baseline in one genre."""

    min_win_rate: float = 0.45  # lower bound of the candidate's win rate vs the baseline must reach this
    min_delivery_pass_rate: float | None = 0.95  # None: delivery is not part of the rule
    confidence: float = 0.95
    interval: IntervalKind = "anytime"
    min_votes: int = 30  # below this many head-to-head votes, no verdict either way
    both_bad: BothBad = "exclude"
    sprt_p0: float = 0.40  # SPRT "clearly worse" hypothesis ...
    sprt_p1: float = 0.50  # ... against "as good as the baseline"
    sprt_alpha: float = 0.05
    sprt_beta: float = 0.20
    bootstrap_rounds: int = 1000
    seed: int = 0
    exclusion: ExclusionRule = field(default_factory=ExclusionRule)

    def validate(self) -> None:
        for name in ("min_win_rate", "sprt_p0", "sprt_p1", "sprt_alpha", "sprt_beta"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                raise ConfigError(f"rule.{name}", value, "must be a share strictly between 0 and 1")
        if self.min_delivery_pass_rate is not None and not 0.0 <= self.min_delivery_pass_rate <= 1.0:
            raise ConfigError(
                "rule.min_delivery_pass_rate", self.min_delivery_pass_rate, "a share in [0, 1] or null"
            )
        if not 0.5 < self.confidence < 1.0:
            raise ConfigError("rule.confidence", self.confidence, "use a level between 0.5 and 1, e.g. 0.95")
        if self.interval not in ("anytime", "fixed"):
            raise ConfigError("rule.interval", self.interval, "use 'anytime' or 'fixed'")
        if self.both_bad not in ("exclude", "tie"):
            raise ConfigError("rule.both_bad", self.both_bad, "use 'exclude' or 'tie'")
        whole("rule.min_votes", self.min_votes, 1, error=ConfigError)
        whole("rule.bootstrap_rounds", self.bootstrap_rounds, 0, error=ConfigError)
        self.exclusion.validate()


def rule_from_dict(data: dict[str, Any]) -> DecisionRule:
    """Build a rule from YAML / JSON; unknown keys fail loudly so a typo cannot silently keep a default."""
    rule = from_mapping(DecisionRule, data, "rule")
    rule.validate()
    return rule


@dataclass
class HeadToHead:
    candidate: str
    baseline: str
    genre: str
    votes: int  # scored head-to-head votes (both-bad excluded unless counted as ties)
    both_bad: int
    raters: int
    score: float  # candidate wins + half the ties
    win_rate: float
    ci_low: float
    ci_high: float
    interval: str  # how the interval was made, in words
    design_effect: float
    sprt: SPRTResult | None


@dataclass
class Decision:
    genre: str
    candidate: str
    baseline: str
    verdict: str
    reasons: list[str]
    head_to_head: HeadToHead
    delivery: DeliverySummary | None
    more_votes: int | None  # rough extra votes to reach a verdict if the observed rate holds


def _scores(votes: Sequence[Vote], candidate: str, both_bad: BothBad) -> list[tuple[str, float]]:
    out = []
    for v in sorted(votes, key=lambda v: v.created_at):
        if v.outcome == Outcome.BOTH_BAD and both_bad == "exclude":
            continue
        if v.outcome in (Outcome.TIE, Outcome.BOTH_BAD):
            s = 0.5
        else:
            s = 1.0 if v.winner == candidate else 0.0
        out.append((v.rater, s))
    return out


def _bootstrap_rate(scored: list[tuple[str, float]], rule: DecisionRule) -> tuple[float, float, float]:
    """(percentile low, high, variance) of the win rate under a rater-clustered bootstrap."""
    raters = sorted({r for r, _ in scored})
    if len(raters) < 2 or rule.bootstrap_rounds == 0:
        return math.nan, math.nan, math.nan
    idx = {r: i for i, r in enumerate(raters)}
    s = np.zeros(len(raters))
    n = np.zeros(len(raters))
    for r, x in scored:
        s[idx[r]] += x
        n[idx[r]] += 1
    w = cluster_weights(len(raters), rule.bootstrap_rounds, rule.seed)
    tot = w @ n
    rates = (w @ s)[tot > 0] / tot[tot > 0]
    tail = (1 - rule.confidence) / 2 * 100
    lo, hi = np.percentile(rates, [tail, 100 - tail])
    return float(lo), float(hi), float(rates.var(ddof=1))


def _interval(
    score: float, n: int, deff: float, boot: tuple[float, float], rule: DecisionRule
) -> tuple[float, float]:
    n_eff, s_eff = n / deff, score / deff
    if rule.interval == "anytime":
        return confidence_sequence(s_eff, n_eff, alpha=1 - rule.confidence)
    lo, hi = wilson_interval(s_eff, n_eff, rule.confidence)
    if math.isfinite(boot[0]):
        lo, hi = min(lo, boot[0]), max(hi, boot[1])
    return lo, hi


def head_to_head(
    votes: Iterable[Vote], candidate: str, baseline: str, genre: str, rule: DecisionRule
) -> HeadToHead:
    pair = {candidate, baseline}
    direct = [
        v for v in preference_votes(votes) if v.genre == genre and {v.system_left, v.system_right} == pair
    ]
    scored = _scores(direct, candidate, rule.both_bad)
    n = len(scored)
    score = sum(x for _, x in scored)
    bad = sum(1 for v in direct if v.outcome == Outcome.BOTH_BAD)
    raters = len({r for r, _ in scored})
    if n == 0:
        return HeadToHead(
            candidate, baseline, genre, 0, bad, 0, 0.0, math.nan, 0.0, 1.0, "no votes", 1.0, None
        )
    p = score / n
    b_lo, b_hi, b_var = _bootstrap_rate(scored, rule)
    binomial_var = p * (1 - p) / n
    deff = max(1.0, b_var / binomial_var) if math.isfinite(b_var) and binomial_var > 0 else 1.0
    lo, hi = _interval(score, n, deff, (b_lo, b_hi), rule)
    how = (
        f"anytime-valid {rule.confidence:.0%} confidence sequence"
        if rule.interval == "anytime"
        else f"fixed-n {rule.confidence:.0%} (wider of Wilson and rater bootstrap)"
    )
    if deff > 1.0:
        how += f", widened by rater design effect {deff:.2f}"
    test = sprt(
        [x for _, x in scored], p0=rule.sprt_p0, p1=rule.sprt_p1, alpha=rule.sprt_alpha, beta=rule.sprt_beta
    )
    return HeadToHead(candidate, baseline, genre, n, bad, raters, score, p, lo, hi, how, deff, test)


def _more_votes(h: HeadToHead, rule: DecisionRule) -> int | None:
    """Extra votes until the interval clears the threshold (either way) if the observed rate holds."""
    if h.votes == 0 or not 0.0 < h.win_rate < 1.0 or h.win_rate == rule.min_win_rate:
        return None
    above = h.win_rate > rule.min_win_rate

    def decided(n_total: int) -> bool:
        lo, hi = _interval(h.win_rate * n_total, n_total, h.design_effect, (math.nan, math.nan), rule)
        return lo >= rule.min_win_rate if above else hi < rule.min_win_rate

    hi_n = max(h.votes, 1)
    while not decided(hi_n):
        hi_n *= 2
        if hi_n > 10_000_000:
            return None
    lo_n = h.votes
    while hi_n - lo_n > max(1, hi_n // 200):
        mid = (lo_n + hi_n) // 2
        lo_n, hi_n = (lo_n, mid) if decided(mid) else (mid, hi_n)
    return max(0, hi_n - h.votes)


def decide(
    votes: Iterable[Vote],
    *,
    candidate: str,
    baseline: str,
    genre: str,
    rule: DecisionRule | None = None,
    delivery: DeliverySummary | None = None,
) -> Decision:
    """One verdict. ``votes`` should already have excluded raters removed (``apply_exclusion``)."""
    rule = rule or DecisionRule()
    rule.validate()
    if candidate == baseline:
        raise InputError("candidate", candidate, "must differ from the baseline")
    h = head_to_head(votes, candidate, baseline, genre, rule)
    thr = rule.min_win_rate
    reasons: list[str] = []
    more = None
    if h.votes < rule.min_votes:
        vote_state = "need"
        reasons.append(
            f"only {h.votes} head-to-head votes against {baseline} (the rule needs at least {rule.min_votes})"
        )
        more = rule.min_votes - h.votes
    elif h.ci_low >= thr:
        vote_state = "pass"
        reasons.append(
            f"win rate {h.win_rate:.1%} [{h.ci_low:.1%}, {h.ci_high:.1%}] over {h.votes} votes: lower bound >= {thr:.0%}"
        )
    elif h.ci_high < thr:
        vote_state = "fail"
        reasons.append(
            f"win rate {h.win_rate:.1%} [{h.ci_low:.1%}, {h.ci_high:.1%}] over {h.votes} votes: upper bound < {thr:.0%}"
        )
    else:
        vote_state = "need"
        more = _more_votes(h, rule)
        hint = f"; about {more} more votes if the rate holds" if more is not None else ""
        reasons.append(
            f"win rate {h.win_rate:.1%} [{h.ci_low:.1%}, {h.ci_high:.1%}] over {h.votes} votes straddles {thr:.0%}{hint}"
        )
    if rule.min_delivery_pass_rate is None:
        delivery_state = "pass"
    elif delivery is None or delivery.tracks == 0:
        delivery_state = "need"
        reasons.append(
            f"no delivery results for {candidate} in {genre}: run the delivery checks on its clips "
            "(report options --analyze-clips, --clips or --tracks)"
        )
    elif delivery.pass_rate < rule.min_delivery_pass_rate:
        delivery_state = "fail"
        why = f" ({'; '.join(delivery.failures)})" if delivery.failures else ""
        reasons.append(
            f"delivery pass rate {delivery.pass_rate:.0%} ({delivery.passed}/{delivery.tracks}) < {rule.min_delivery_pass_rate:.0%}{why}"
        )
    else:
        delivery_state = "pass"
        reasons.append(
            f"delivery pass rate {delivery.pass_rate:.0%} ({delivery.passed}/{delivery.tracks}) >= {rule.min_delivery_pass_rate:.0%}"
        )
    if "fail" in (vote_state, delivery_state):
        verdict = FAIL
    elif vote_state == delivery_state == "pass":
        verdict = PASS
    else:
        verdict = NEED_MORE_VOTES
    if h.sprt is not None and verdict == NEED_MORE_VOTES and h.sprt.decision != "continue":
        said = "as good as" if h.sprt.decision == "H1" else "clearly worse than"
        reasons.append(
            f"SPRT ({h.sprt.p1:.0%} vs {h.sprt.p0:.0%}) crossed after {h.sprt.n} votes: {candidate} looks {said} {baseline}"
        )
    return Decision(genre, candidate, baseline, verdict, reasons, h, delivery, more)
