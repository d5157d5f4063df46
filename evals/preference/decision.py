"""Per-genre decision: is the candidate good enough to replace the baseline? PASS / FAIL / NEED MORE VOTES.

The question is one of non-inferiority: background music may replace the catalogue when listeners do not clearly
prefer the catalogue. The rule (``DecisionRule``, defaults below) asks for
- the lower end of the candidate's head-to-head win rate against the baseline (ties half) at or above
  ``min_win_rate`` (45 %), and
- the candidate's delivery pass rate in that genre at or above ``min_delivery_pass_rate`` (95 %).
FAIL when the upper end of the win-rate interval is below ``min_win_rate`` or delivery falls short; PASS when
both criteria are met; otherwise NEED MORE VOTES (the reasons say what is missing).

The standard error counts raters and prompts as clusters (evals.preference.clustered, t(G - 1) quantiles), and no
verdict is given before ``min_raters`` raters and ``min_prompts`` prompts have voted on the pair. Three ways to read
the interval (``interval``):
- ``sequential`` (default): the pre-registered group-sequential design of evals.preference.group_sequential,
  analysed only at ``looks`` planned points of ``planned_votes``; each look uses the first n_k votes in arrival
  order, so re-running the report between looks changes nothing. A non-binding futility check says when further
  votes are unlikely to reach PASS.
- ``fixed``: one analysis, valid only when read once at a vote count fixed in advance.
- ``anytime``: the beta-binomial confidence sequence with the vote count divided by the two-way design effect; it
  may be re-read after every vote but needs about three times the votes (docs/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from scipy.stats import t as student_t

from evals.preference.clustered import ClusteredMean, clustered_mean
from evals.preference.decision_rule import FAIL, NEED_MORE_VOTES, PASS, DecisionRule
from evals.preference.group_sequential import (
    LookResult,
    conditional_power,
    efficacy_bounds,
    overrun_final_bound,
    planned_fractions,
    t_scale,
)
from evals.preference.preference import BothBad, Outcome, Vote, preference_votes
from evals.preference.sequential import confidence_sequence
from evals.preference.stagewise import StageLook, stagewise_interval
from evals.preference.track_results import DeliverySummary
from workbench.core.errors import InputError

FUTILITY_TEXT = "further votes are unlikely to reach PASS"


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
    design_effect: float  # variance of the win rate relative to independent votes (two-way clustered)
    prompts: int = 0
    ties: int = 0
    decisive_share: float = math.nan  # candidate's share of the decisive (non-tie) votes
    score_sd: float = math.nan  # actual SD of the vote scores
    se: float = math.nan  # two-way cluster-robust standard error of the win rate
    df: int = 0
    rater_icc: float = math.nan
    prompt_icc: float = math.nan
    looks: list[LookResult] = field(default_factory=list)  # sequential design: the looks analysed so far
    stopped_at: int | None = None  # 1-based look at which a boundary was crossed
    next_look_votes: int | None = None
    futile: bool = False  # an interim look found PASS unlikely
    # sequential design: the repeated interval of the last look (holds at every look at once; conservative when
    # read only where the campaign stopped). ci_low/ci_high hold the stage-wise interval once the design stopped.
    repeated_low: float = math.nan
    repeated_high: float = math.nan
    median_unbiased: float = math.nan  # stage-wise median-unbiased win rate after a stop

    @property
    def tie_rate(self) -> float:
        return self.ties / self.votes if self.votes else math.nan


@dataclass
class Decision:
    genre: str
    candidate: str
    baseline: str
    verdict: str
    reasons: list[str]
    head_to_head: HeadToHead
    delivery: DeliverySummary | None
    more_votes: int | None  # votes to the next planned look (sequential) or to a verdict if the rate holds
    verdict_without_screening: str | None = None  # sensitivity: the same rule on every rater's votes
    alpha: float = 0.025  # one-sided level this verdict was tested at (after multiplicity adjustment)


@dataclass(frozen=True)
class _Scored:
    rater: str
    prompt: str
    score: float


def _scores(votes: Sequence[Vote], candidate: str, both_bad: BothBad) -> list[_Scored]:
    out = []
    for v in sorted(votes, key=lambda v: v.created_at):
        if v.outcome == Outcome.BOTH_BAD and both_bad == "exclude":
            continue
        if v.outcome in (Outcome.TIE, Outcome.BOTH_BAD):
            s = 0.5
        else:
            s = 1.0 if v.winner == candidate else 0.0
        out.append(_Scored(v.rater, v.prompt_id, s))
    return out


def _stats(scored: Sequence[_Scored]) -> ClusteredMean:
    return clustered_mean([x.score for x in scored], [x.rater for x in scored], [x.prompt for x in scored])


def _t_interval(cm: ClusteredMean, alpha: float) -> tuple[float, float]:
    if not math.isfinite(cm.se):
        return 0.0, 1.0
    q = float(student_t.isf(alpha, cm.df))
    return max(0.0, cm.mean - q * cm.se), min(1.0, cm.mean + q * cm.se)


def _anytime(cm: ClusteredMean, alpha: float) -> tuple[float, float]:
    deff = max(1.0, cm.design_effect)
    return confidence_sequence(cm.mean * cm.n / deff, cm.n / deff, alpha=2 * alpha)


def _look_sizes(rule: DecisionRule) -> list[int]:
    return [max(1, math.ceil(rule.planned_votes * f - 1e-9)) for f in planned_fractions(rule.looks)]


def _enough(cm: ClusteredMean, rule: DecisionRule) -> bool:
    return (
        cm.n >= rule.min_votes
        and cm.raters >= rule.min_raters
        and cm.prompts >= rule.min_prompts
        and math.isfinite(cm.se)
        and cm.se > 0
    )


def _design(n: int, rule: DecisionRule) -> tuple[list[int], tuple[float, ...]]:
    """Look sizes and information fractions; a closed campaign short of its plan ends at the votes it has, and
    that last look spends whatever error is left (Lan-DeMets allows a look at any fraction)."""
    sizes = _look_sizes(rule)
    fractions = planned_fractions(rule.looks)
    if not rule.final or n >= sizes[-1]:
        return sizes, fractions
    done = sum(1 for s in sizes if s <= n)
    if done and sizes[done - 1] == n:
        return sizes[:done], fractions[:done]
    return [*sizes[:done], n], (*fractions[:done], n / rule.planned_votes)


def _sequential(scored: Sequence[_Scored], rule: DecisionRule) -> list[LookResult]:
    """Every completed look in order, stopping at the first that crosses a boundary."""
    sizes, fractions = _design(len(scored), rule)
    bounds = list(efficacy_bounds(fractions, rule.alpha))
    if len(sizes) == rule.looks and len(scored) > sizes[-1]:
        # the last look takes every vote collected: more than planned means more information than the design
        # assumed, and its boundary must spend only what is left at that information
        bounds[-1] = overrun_final_bound(fractions, len(scored) / rule.planned_votes, rule.alpha)
    out: list[LookResult] = []
    for k, size in enumerate(sizes):
        last = k == len(sizes) - 1
        if len(scored) < size:
            break
        data = scored if last else scored[:size]  # the last look takes every vote collected
        cm = _stats(data)
        if not _enough(cm, rule):
            out.append(
                LookResult(
                    k + 1,
                    cm.n,
                    fractions[k],
                    cm.mean,
                    cm.se,
                    cm.df,
                    math.nan,
                    math.inf,
                    False,
                    False,
                    0.0,
                    1.0,
                    math.nan,
                )
            )
            continue
        c = t_scale(bounds[k], cm.df)
        z = (cm.mean - rule.min_win_rate) / cm.se
        lo, hi = max(0.0, cm.mean - c * cm.se), min(1.0, cm.mean + c * cm.se)
        # conditional power under the current trend (drift z / sqrt(t)): "if listeners go on as so far"; under
        # the planning effect it stays high even for a candidate far below the margin
        drift = z / math.sqrt(fractions[k])
        cp = math.nan if last else conditional_power(z, fractions[k], t_scale(bounds[-1], cm.df), drift)
        up, down = lo >= rule.min_win_rate, hi < rule.min_win_rate
        # a last look past the plan carries the information of all its votes (what its boundary was spent for)
        frac = cm.n / rule.planned_votes if last and cm.n > size else fractions[k]
        out.append(LookResult(k + 1, cm.n, frac, cm.mean, cm.se, cm.df, z, c, up, down, lo, hi, cp))
        if up or down:
            break
    return out


def head_to_head(
    votes: Iterable[Vote], candidate: str, baseline: str, genre: str, rule: DecisionRule
) -> HeadToHead:
    pair = {candidate, baseline}
    direct = [
        v for v in preference_votes(votes) if v.genre == genre and {v.system_left, v.system_right} == pair
    ]
    scored = _scores(direct, candidate, rule.both_bad)
    n = len(scored)
    bad = sum(1 for v in direct if v.outcome == Outcome.BOTH_BAD)
    if n == 0:
        return HeadToHead(candidate, baseline, genre, 0, bad, 0, 0.0, math.nan, 0.0, 1.0, "no votes", 1.0)
    cm = _stats(scored)
    score = sum(x.score for x in scored)
    ties = sum(1 for x in scored if x.score == 0.5)
    wins = sum(1 for x in scored if x.score == 1.0)
    h = HeadToHead(
        candidate,
        baseline,
        genre,
        n,
        bad,
        cm.raters,
        score,
        cm.mean,
        0.0,
        1.0,
        "",
        cm.design_effect,
        prompts=cm.prompts,
        ties=ties,
        decisive_share=wins / (n - ties) if n > ties else math.nan,
        score_sd=math.sqrt(cm.se_iid**2 * n) if math.isfinite(cm.se_iid) else math.nan,
        se=cm.se,
        df=cm.df,
        rater_icc=cm.rater_icc,
        prompt_icc=cm.prompt_icc,
    )
    level = f"{1 - 2 * rule.alpha:.1%}".replace(".0%", "%")
    clusters = f"rater x prompt clustered, t({cm.df})"
    if rule.interval == "sequential" and rule.planned_votes > 0:
        h.looks = _sequential(scored, rule)
        done = [x for x in h.looks if math.isfinite(x.z)]
        sizes = _look_sizes(rule)
        stage = "repeated interval"
        if done:
            last = done[-1]
            h.ci_low, h.ci_high = last.ci_low, last.ci_high
            h.repeated_low, h.repeated_high = last.ci_low, last.ci_high
            h.stopped_at = last.look if (last.crossed_up or last.crossed_down) else None
            ended = h.stopped_at is not None or last.look == rule.looks or (rule.final and last.votes == n)
            if ended:
                # a look that could not be judged (too few raters or prompts yet) could not stop the campaign:
                # its stopping probability is 0, so it drops out of the ordering
                lo, hi, mid = stagewise_interval(
                    [StageLook(x.estimate, x.se, x.df, x.bound, x.fraction) for x in done],
                    rule.min_win_rate,
                    rule.alpha,
                )
                h.ci_low, h.ci_high, h.median_unbiased = lo, hi, mid
                stage = "stage-wise-ordered interval after the stop"
            h.futile = (
                h.stopped_at is None
                and math.isfinite(last.conditional_power)
                and last.conditional_power < rule.futility_power
            )
        h.next_look_votes = next((s for s in sizes if s > n), None) if h.stopped_at is None else None
        h.interval = (
            f"group-sequential {level} {stage} at look {done[-1].look} of {rule.looks} "
            f"(O'Brien-Fleming spending, {clusters})"
            if done
            else f"group-sequential design, first of {rule.looks} looks at {sizes[0]} votes"
        )
    elif rule.interval == "anytime":
        h.ci_low, h.ci_high = _anytime(cm, rule.alpha)
        h.interval = f"anytime-valid {level} confidence sequence, votes divided by design effect {max(1.0, cm.design_effect):.2f}"
    else:
        h.ci_low, h.ci_high = _t_interval(cm, rule.alpha)
        h.interval = f"fixed-n {level} interval ({clusters})"
    return h


def _more_votes(h: HeadToHead, rule: DecisionRule) -> int | None:
    """Votes to the next planned look, or (single analysis) until the interval clears the margin if the observed
    rate and design effect hold."""
    if h.votes < rule.min_votes:
        return rule.min_votes - h.votes
    if h.next_look_votes is not None:
        return h.next_look_votes - h.votes
    if rule.planned_votes > h.votes:
        return rule.planned_votes - h.votes
    gap = h.win_rate - rule.min_win_rate
    if h.votes == 0 or not math.isfinite(h.se) or h.se <= 0 or gap == 0 or h.df < 1:
        return None
    q = float(student_t.isf(rule.alpha, h.df)) * (1.8 if rule.interval == "anytime" else 1.0)
    total = h.votes * (q * h.se / abs(gap)) ** 2
    return max(0, math.ceil(total) - h.votes) if math.isfinite(total) else None


def _shortfall(h: HeadToHead, rule: DecisionRule, baseline: str) -> str | None:
    missing = []
    if h.votes < rule.min_votes:
        missing.append(f"{h.votes} head-to-head votes against {baseline} (the rule needs {rule.min_votes})")
    if h.raters < rule.min_raters:
        missing.append(f"{h.raters} raters (needs {rule.min_raters})")
    if h.prompts < rule.min_prompts:
        missing.append(f"{h.prompts} prompts (needs {rule.min_prompts})")
    return "only " + ", ".join(missing) + ": no verdict either way" if missing else None


def _vote_state(h: HeadToHead, rule: DecisionRule, baseline: str) -> tuple[str, list[str]]:
    thr = rule.min_win_rate
    est = f"win rate {h.win_rate:.1%} [{h.ci_low:.1%}, {h.ci_high:.1%}] over {h.votes} votes"
    short = _shortfall(h, rule, baseline)
    if rule.interval == "sequential" and rule.planned_votes > 0:
        done = [x for x in h.looks if math.isfinite(x.z)]
        if not done:
            first = _look_sizes(rule)[0]
            why = short or f"the first planned look is at {first} head-to-head votes ({h.votes} so far)"
            if short and len(h.looks):
                why += f" (look {h.looks[-1].look} of {rule.looks} could not be judged)"
            return "need", [why]
        last = done[-1]
        at = f"look {last.look} of {rule.looks} ({last.votes} votes): win rate {last.estimate:.1%} [{last.ci_low:.1%}, {last.ci_high:.1%}]"
        if last.crossed_up:
            return "pass", [f"{at}: lower bound >= {thr:.0%}"]
        if last.crossed_down:
            return "fail", [f"{at}: upper bound < {thr:.0%}"]
        if last.look == rule.looks or (rule.final and last.votes == h.votes):
            return "need", [
                f"{at}: all planned votes are in and the lower bound stays below {thr:.0%}; PASS is not shown at "
                "the planned n (a further campaign needs its own plan)"
            ]
        reasons = [f"{at} straddles {thr:.0%}; next planned look at {h.next_look_votes} votes"]
        if h.futile:
            reasons.append(
                f"conditional power {last.conditional_power:.0%} if the votes go on as so far: {FUTILITY_TEXT} "
                "(non-binding: collecting the planned votes keeps every error rate)"
            )
        return "need", reasons
    if short:
        return "need", [short]
    if h.ci_low >= thr:
        return "pass", [f"{est}: lower bound >= {thr:.0%}"]
    if h.ci_high < thr:
        return "fail", [f"{est}: upper bound < {thr:.0%}"]
    return "need", [f"{est} straddles {thr:.0%}"]


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
    vote_state, reasons = _vote_state(h, rule, baseline)
    more = None
    short_of_clusters = h.raters < rule.min_raters or h.prompts < rule.min_prompts
    if vote_state == "need" and not (short_of_clusters and h.votes >= rule.min_votes):
        # more votes from the same raters on the same prompts cannot make up for missing raters or prompts
        more = _more_votes(h, rule)
        sequential = rule.interval == "sequential" and rule.planned_votes > 0
        if more is not None and more > 0 and not sequential and not short_of_clusters:
            reasons[-1] += f"; about {more} more votes if the rate holds"
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
    return Decision(genre, candidate, baseline, verdict, reasons, h, delivery, more, alpha=rule.alpha)


def decide_genre(
    votes: Sequence[Vote],
    *,
    candidates: Sequence[str],
    baseline: str,
    genre: str,
    rule: DecisionRule,
    delivery: dict[str, DeliverySummary | None] | None = None,
) -> list[Decision]:
    """Verdicts for every candidate of one genre with the family-wise false-PASS rate held at the rule's level.

    Holm's step-down: test every candidate at alpha / m; each PASS frees its share for the rest, which are
    re-tested at alpha / (m - 1), and so on. With a group-sequential design this is the graphical procedure of
    Maurer & Bretz (2013): a candidate re-tested at a larger level keeps the same spending function, which stays
    valid because each look's boundary only depends on the level and the information fractions. A pre-declared
    ``primary`` is tested alone at the full level; the others are then reported at alpha / m each.
    """
    delivery = delivery or {}
    cands = list(candidates)
    m = len(cands)

    def one(c: str, share: float) -> Decision:
        return decide(
            votes,
            candidate=c,
            baseline=baseline,
            genre=genre,
            rule=replace(rule, alpha_share=share),
            delivery=delivery.get(c),
        )

    if m <= 1 or rule.multiplicity == "none":
        return [one(c, 1.0) for c in cands]
    if rule.primary is not None and rule.primary in cands:
        return [one(c, 1.0 if c == rule.primary else 1.0 / m) for c in cands]
    out = {c: one(c, 1.0 / m) for c in cands}
    open_ = [c for c in cands if out[c].verdict != PASS]
    tested_at = m
    while open_ and len(open_) < tested_at:
        tested_at = len(open_)
        out.update({c: one(c, 1.0 / tested_at) for c in open_})
        open_ = [c for c in open_ if out[c].verdict != PASS]
    return [out[c] for c in cands]
