"""Everything a campaign report shows, computed once from a vote list: screening, standings, matrices,
agreement, position bias, per-genre decisions and a votes-needed table. Rendering lives in evals.report.report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evals.preference.agreement import Agreement, agreement
from evals.preference.bradley_terry import DEFAULT_PRIOR_SD
from evals.preference.decision import Decision, decide_genre
from evals.preference.decision_rule import DecisionRule
from evals.preference.plan import PlanInputs, PlanRow, plan_table
from evals.preference.preference import (
    Outcome,
    Standings,
    Vote,
    WinMatrix,
    group_by,
    preference_votes,
    standings,
    standings_by_rater,
    systems_of,
    validate_votes,
    win_matrix,
)
from evals.preference.rater_quality import PositionBias, RaterQuality, apply_exclusion, position_bias
from evals.preference.track_results import TrackResult, delivery_summary
from workbench.core.errors import InputError

MAX_EXCLUDED_SHARE = 0.15  # more raters excluded than this and the screening itself needs a look


@dataclass
class FitRating:
    genre: str
    system: str
    mean: float  # mean 1-5 "fit for this venue" rating
    n: int


def fit_ratings(votes: Iterable[Vote]) -> list[FitRating]:
    """Mean optional per-clip fit ratings per genre and system (gold trials left out)."""
    values: dict[tuple[str, str], list[int]] = {}
    for v in preference_votes(votes):
        for system, rating in ((v.system_left, v.fit_left), (v.system_right, v.fit_right)):
            if rating is not None:
                values.setdefault((v.genre, system), []).append(rating)
    return [FitRating(g, s, sum(r) / len(r), len(r)) for (g, s), r in sorted(values.items())]


@dataclass
class CampaignAnalysis:
    campaign: str
    rule: DecisionRule
    baseline: str | None
    candidates: list[str]
    systems: list[str]
    genres: list[str]
    votes_total: int
    votes_used: int  # preference votes of kept raters
    gold_total: int
    repeats_total: int
    quality: dict[str, RaterQuality]
    overall: Standings
    by_genre: dict[str, Standings]
    by_rater: dict[str, Standings]
    win_overall: WinMatrix
    win_by_genre: dict[str, WinMatrix]
    agreement_overall: Agreement
    agreement_by_genre: dict[str, Agreement]
    position: PositionBias
    both_bad_by_genre: dict[str, float]
    decisions: list[Decision]
    power: list[PlanRow]  # votes needed for the rule, with this campaign's ties, ICCs, raters and prompts
    plan_inputs: PlanInputs | None
    fit: list[FitRating]
    tracks: list[TrackResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def excluded_raters(self) -> list[str]:
        return [r for r, q in self.quality.items() if q.excluded]


def _plan_rows(decisions: Sequence[Decision], rule: DecisionRule) -> tuple[list[PlanRow], PlanInputs | None]:
    """The votes-needed table for the rule, fed with what this campaign measured (largest ICCs, fewest clusters)."""
    hs = [d.head_to_head for d in decisions if d.head_to_head.votes > 1 and d.head_to_head.raters >= 2]
    hs = [h for h in hs if h.prompts >= 2]
    if not hs:
        return [], None
    inputs = PlanInputs(
        margin=rule.min_win_rate,
        confidence=rule.confidence,
        tie_rate=min(0.9, max(h.tie_rate for h in hs)),
        rater_icc=min(0.49, max((h.rater_icc for h in hs if math.isfinite(h.rater_icc)), default=0.0)),
        prompt_icc=min(0.49, max((h.prompt_icc for h in hs if math.isfinite(h.prompt_icc)), default=0.0)),
        raters=min(h.raters for h in hs),
        prompts=min(h.prompts for h in hs),
        looks=rule.looks if rule.interval == "sequential" else 1,
        excluded_share=0.0,  # raters and votes here are those kept after screening: nothing more to discount
    )
    return plan_table(inputs, max(rule.planned_votes, max(h.votes for h in hs))), inputs


def analyze_campaign(
    votes: Iterable[Vote],
    *,
    campaign: str | None = None,
    baseline: str | None = None,
    candidates: Sequence[str] | None = None,
    rule: DecisionRule | None = None,
    tracks: Sequence[TrackResult] = (),
    prior_sd: float | None = DEFAULT_PRIOR_SD,
) -> CampaignAnalysis:
    """Screen raters, then score. ``baseline`` names the system to replace; without it no decisions are made."""
    rule = rule or DecisionRule()
    rule.validate()
    votes = validate_votes(votes)
    if not votes:
        raise InputError("votes", 0, "no votes to analyze")
    campaign = campaign or votes[0].campaign
    kept, quality = apply_exclusion(votes, rule.exclusion)
    prefs = preference_votes(kept)
    notes: list[str] = []
    if not prefs:
        raise InputError(
            "votes",
            len(votes),
            "no preference votes left after rater screening; loosen the exclusion rule or collect more",
        )
    systems = systems_of(votes)
    genres = sorted({v.genre for v in prefs})
    if baseline is not None and baseline not in systems:
        raise InputError("baseline", baseline, f"not a system in these votes; systems: {', '.join(systems)}")
    chosen = [s for s in systems if s != baseline] if candidates is None else list(candidates)
    for c in chosen:
        if c not in systems or c == baseline:
            raise InputError(
                "candidate", c, f"use a system other than the baseline; systems: {', '.join(systems)}"
            )

    def fit(vs: list[Vote], on: list[str] | None = None) -> Standings:
        return standings(
            vs,
            systems=on,
            prior_sd=prior_sd,
            both_bad=rule.both_bad,
            rounds=rule.bootstrap_rounds,
            seed=rule.seed,
        )

    overall = fit(prefs, systems)
    by_genre_votes = group_by(prefs, lambda v: v.genre)
    by_genre = {g: fit(vs) for g, vs in by_genre_votes.items()}
    decisions: list[Decision] = []
    if baseline is None:
        notes.append(
            "no baseline named, so no PASS / FAIL decisions (name the system to replace with --baseline)"
        )
    else:
        everyone = preference_votes(votes)
        for g in genres:
            delivery = {c: delivery_summary(tracks, c, g) for c in chosen}
            screened = decide_genre(
                prefs, candidates=chosen, baseline=baseline, genre=g, rule=rule, delivery=delivery
            )
            unscreened = decide_genre(
                everyone, candidates=chosen, baseline=baseline, genre=g, rule=rule, delivery=delivery
            )
            for d, u in zip(screened, unscreened, strict=True):
                d.verdict_without_screening = u.verdict
                decisions.append(d)
    excluded = [r for r, q in quality.items() if q.excluded]
    if excluded:
        share = len(excluded) / len(quality)
        flag = (
            f" - more than {MAX_EXCLUDED_SHARE:.0%}: check the gold trials, the instructions and the playback "
            "before trusting the verdict"
            if share > MAX_EXCLUDED_SHARE
            else ""
        )
        notes.append(
            f"{len(excluded)} of {len(quality)} raters ({share:.0%}) excluded by the screening rule: "
            f"{', '.join(excluded)}{flag}"
        )
    unjudged = [r for r, q in quality.items() if not q.judged(rule.exclusion)]
    if unjudged and rule.exclusion.enabled:
        notes.append(
            f"screening could not judge {len(unjudged)} of {len(quality)} raters (fewer than "
            f"{rule.exclusion.min_gold_trials} gold trials, so random clicking goes unnoticed): {', '.join(unjudged)}"
        )
    changed = [d for d in decisions if d.verdict_without_screening not in (None, d.verdict)]
    for d in changed:
        notes.append(
            f"{d.genre} / {d.candidate}: {d.verdict} with screening, {d.verdict_without_screening} without it"
        )
    power, plan_inputs = _plan_rows(decisions, rule)
    return CampaignAnalysis(
        campaign=campaign,
        rule=rule,
        baseline=baseline,
        candidates=chosen,
        systems=systems,
        genres=genres,
        votes_total=len(votes),
        votes_used=len(prefs),
        gold_total=sum(1 for v in votes if v.is_gold),
        repeats_total=sum(1 for v in votes if v.repeat_of),
        quality=quality,
        overall=overall,
        by_genre=by_genre,
        by_rater=standings_by_rater(prefs, prior_sd=prior_sd if prior_sd is not None else DEFAULT_PRIOR_SD),
        win_overall=win_matrix(prefs, systems, rule.both_bad),
        win_by_genre={g: win_matrix(vs, systems, rule.both_bad) for g, vs in by_genre_votes.items()},
        agreement_overall=agreement(prefs),
        agreement_by_genre={g: agreement(vs) for g, vs in by_genre_votes.items()},
        position=position_bias(prefs),
        both_bad_by_genre={
            g: sum(1 for v in vs if v.outcome == Outcome.BOTH_BAD) / len(vs) if vs else math.nan
            for g, vs in by_genre_votes.items()
        },
        decisions=decisions,
        power=power,
        plan_inputs=plan_inputs,
        fit=fit_ratings(prefs),
        tracks=list(tracks),
        notes=notes,
    )
