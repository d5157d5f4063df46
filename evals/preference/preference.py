"""Votes from blind A/B campaigns and the Bradley–Terry standings computed from them.

A ``Vote`` is one answer to one served pair. The campaign feature stores votes in the SQLite store (table
``votes``, read by ``workbench.campaigns.db.load_votes``; ``evals.preference.vote_io`` lists the exact columns);
exports and tests build ``Vote`` objects directly.

Scoring rules (see docs/metrics.md, "Preference statistics"):
- a tie counts half a win for each side;
- "both_bad" is its own outcome: excluded from the Bradley–Terry fit by default (as Music Arena does) and reported
  per system and genre as a quality signal; ``both_bad="tie"`` counts it as a tie instead (as FastChat does);
- gold trials (a clip against a degraded copy of itself) never enter the standings; they only screen raters;
- swapped repeats do enter the standings (they are real judgements) and also measure rater consistency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

import numpy as np

from evals.preference.bradley_terry import DEFAULT_PRIOR_SD, fit_bradley_terry, to_rating
from workbench.core.errors import InputError


class Outcome(str, Enum):
    """A rater's answer to a served pair. The values are what the store's ``votes`` table and export files hold."""

    LEFT = "left"
    RIGHT = "right"
    TIE = "tie"
    BOTH_BAD = "both_bad"

    def __str__(self) -> str:  # the stored string, also in f-strings and CSV cells
        return self.value

    @classmethod
    def parse(cls, field: str, value: object) -> Outcome:
        try:
            return cls(value)
        except ValueError:
            raise InputError(field, value, f"use one of {', '.join(o.value for o in cls)}") from None


SIDES = (Outcome.LEFT, Outcome.RIGHT)  # the screen sides, also what a gold trial expects
BothBad = Literal["exclude", "tie"]
DEFAULT_BOOTSTRAP_ROUNDS = 1000


@dataclass(frozen=True)
class Vote:
    """One rater's answer to one served pair (screen sides as the rater saw them)."""

    campaign: str
    rater: str
    genre: str
    prompt_id: str
    system_left: str
    system_right: str
    outcome: str  # an Outcome (stored as its string value)
    pair_id: str = ""  # the served pair this vote answers; unique per vote
    is_gold: bool = False
    gold_expected: str | None = None  # "left" or "right": the side holding the undegraded clip
    repeat_of: str | None = None  # pair_id of the original vote, for a swapped repeat
    created_at: str = ""  # ISO 8601 UTC; orders votes for sequential tests
    fit_left: int | None = None  # optional 1-5 "fit for this venue" rating of each clip
    fit_right: int | None = None

    def validate(self) -> None:
        Outcome.parse("outcome", self.outcome)
        for name in ("campaign", "rater", "genre", "system_left", "system_right"):
            if not str(getattr(self, name)).strip():
                raise InputError(name, getattr(self, name), "must not be empty")
        if self.is_gold:
            if self.gold_expected not in SIDES:
                raise InputError("gold_expected", self.gold_expected, "a gold trial needs 'left' or 'right'")
        elif self.system_left == self.system_right:
            raise InputError(
                "system_right", self.system_right, "a preference vote needs two different systems"
            )
        for name in ("fit_left", "fit_right"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value not in (1, 2, 3, 4, 5)):
                raise InputError(name, value, "a fit rating is an integer from 1 to 5, or empty")

    @property
    def winner(self) -> str | None:
        """The system chosen, or None for a tie / both bad."""
        if self.outcome == Outcome.LEFT:
            return self.system_left
        if self.outcome == Outcome.RIGHT:
            return self.system_right
        return None


def validate_votes(votes: Iterable[Vote]) -> list[Vote]:
    out = list(votes)
    for i, vote in enumerate(out):
        try:
            vote.validate()
        except InputError as exc:
            raise InputError(f"votes[{i}].{exc.field}", exc.value, exc.fix) from None
    return out


def preference_votes(votes: Iterable[Vote]) -> list[Vote]:
    """Votes that compare two systems (gold trials removed)."""
    return [v for v in votes if not v.is_gold]


def systems_of(votes: Iterable[Vote]) -> list[str]:
    return sorted({s for v in preference_votes(votes) for s in (v.system_left, v.system_right)})


def score_matrix(votes: Iterable[Vote], systems: Sequence[str], both_bad: BothBad = "exclude") -> np.ndarray:
    """``m[i, j]`` = wins of i over j, ties counted half to each side."""
    index = {s: i for i, s in enumerate(systems)}
    m = np.zeros((len(systems), len(systems)))
    for v in preference_votes(votes):
        a, b = index[v.system_left], index[v.system_right]
        if v.outcome == Outcome.LEFT:
            m[a, b] += 1.0
        elif v.outcome == Outcome.RIGHT:
            m[b, a] += 1.0
        elif v.outcome == Outcome.TIE or both_bad == "tie":
            m[a, b] += 0.5
            m[b, a] += 0.5
    return m


@dataclass
class WinMatrix:
    systems: list[str]
    win_rate: np.ndarray  # row system's share against the column system (ties half); NaN where no votes
    votes: np.ndarray  # votes counted per pair (symmetric)

    def rows(self) -> list[list[object]]:
        return [
            [a, b, float(self.win_rate[i, j]), int(self.votes[i, j])]
            for i, a in enumerate(self.systems)
            for j, b in enumerate(self.systems)
            if i != j and self.votes[i, j] > 0
        ]


def win_matrix(
    votes: Iterable[Vote], systems: Sequence[str] | None = None, both_bad: BothBad = "exclude"
) -> WinMatrix:
    votes = list(votes)
    systems = list(systems) if systems is not None else systems_of(votes)
    scores = score_matrix(votes, systems, both_bad)
    totals = scores + scores.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(totals > 0, scores / np.where(totals > 0, totals, 1.0), np.nan)
    np.fill_diagonal(rate, np.nan)
    return WinMatrix(systems=systems, win_rate=rate, votes=totals.round().astype(int))


@dataclass
class Standing:
    system: str
    rating: float  # 400-point scale centred on 1000
    ci_low: float  # rater-clustered bootstrap, percentile interval
    ci_high: float
    votes: int  # preference votes involving this system (both-bad excluded unless counted as ties)
    win_rate: float  # share of those votes won (ties half)
    both_bad_rate: float  # share of all its preference votes answered "both bad"
    rank: int  # 1 + number of systems whose lower bound is above this one's upper bound (FastChat's rule)


@dataclass
class Standings:
    standings: list[Standing]
    n_votes: int
    n_raters: int
    prior_sd: float | None
    confidence: float
    bootstrap_rounds: int
    notes: list[str] = field(default_factory=list)

    def by_system(self) -> dict[str, Standing]:
        return {s.system: s for s in self.standings}


def _rater_matrices(
    votes: Sequence[Vote], systems: Sequence[str], both_bad: BothBad
) -> tuple[list[str], np.ndarray]:
    raters = sorted({v.rater for v in votes})
    per = np.stack([score_matrix([v for v in votes if v.rater == r], systems, both_bad) for r in raters])
    return raters, per


def cluster_weights(n_clusters: int, rounds: int, seed: int) -> np.ndarray:
    """Multinomial resampling weights: row b says how often each cluster (rater) is drawn in round b."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=rounds).astype(float)


def standings(
    votes: Iterable[Vote],
    *,
    systems: Sequence[str] | None = None,
    prior_sd: float | None = DEFAULT_PRIOR_SD,
    both_bad: BothBad = "exclude",
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    confidence: float = 0.95,
    seed: int = 0,
) -> Standings:
    """Bradley–Terry ratings with rater-clustered bootstrap percentile intervals.

    Raters, not votes, are resampled: one rater's votes are correlated (taste, headphones, fatigue), and a
    vote-level bootstrap would give intervals that are too narrow.
    """
    votes = preference_votes(votes)
    if not votes:
        raise InputError("votes", 0, "no preference votes to score (gold trials alone cannot rank systems)")
    if not 0.5 < confidence < 1.0:
        raise InputError("confidence", confidence, "use a level between 0.5 and 1, e.g. 0.95")
    systems = list(systems) if systems is not None else systems_of(votes)
    raters, per_rater = _rater_matrices(votes, systems, both_bad)
    scores = per_rater.sum(axis=0)
    theta = fit_bradley_terry(scores, prior_sd)
    ratings = to_rating(theta)
    notes: list[str] = []
    lo = np.full(len(systems), np.nan)
    hi = np.full(len(systems), np.nan)
    if len(raters) >= 2 and rounds > 0:
        # Resampled data can be disconnected, so resamples always carry a prior (the model's own, or the default).
        boot_prior = prior_sd if prior_sd is not None else DEFAULT_PRIOR_SD
        weights = cluster_weights(len(raters), rounds, seed)
        boot = np.array(
            [to_rating(fit_bradley_terry(np.tensordot(w, per_rater, axes=1), boot_prior)) for w in weights]
        )
        tail = (1.0 - confidence) / 2.0 * 100.0
        lo, hi = np.percentile(boot, [tail, 100.0 - tail], axis=0)
        if len(raters) < 10:
            notes.append(f"only {len(raters)} raters: rater-clustered intervals are rough below about 10")
    else:
        notes.append("intervals need at least 2 raters and bootstrap rounds > 0")
    totals = scores + scores.T
    out = []
    for i, s in enumerate(systems):
        n = totals[i].sum()
        involved = [v for v in votes if s in (v.system_left, v.system_right)]
        n_bad = sum(1 for v in involved if v.outcome == Outcome.BOTH_BAD)
        rank = (
            1 + int(np.sum(lo > hi[i])) if np.all(np.isfinite(lo)) else 1 + int(np.sum(ratings > ratings[i]))
        )
        out.append(
            Standing(
                system=s,
                rating=float(ratings[i]),
                ci_low=float(lo[i]),
                ci_high=float(hi[i]),
                votes=int(round(n)),
                win_rate=float(scores[i].sum() / n) if n > 0 else math.nan,
                both_bad_rate=n_bad / len(involved) if involved else math.nan,
                rank=rank,
            )
        )
    out.sort(key=lambda st: -st.rating)
    return Standings(
        standings=out,
        n_votes=len(votes),
        n_raters=len(raters),
        prior_sd=prior_sd,
        confidence=confidence,
        bootstrap_rounds=rounds if len(raters) >= 2 else 0,
        notes=notes,
    )


def group_by(votes: Iterable[Vote], key: Callable[[Vote], str]) -> dict[str, list[Vote]]:
    groups: dict[str, list[Vote]] = {}
    for v in votes:
        groups.setdefault(key(v), []).append(v)
    return dict(sorted(groups.items()))


def standings_by_genre(
    votes: Iterable[Vote],
    *,
    prior_sd: float | None = DEFAULT_PRIOR_SD,
    both_bad: BothBad = "exclude",
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Standings]:
    return {
        g: standings(
            vs, prior_sd=prior_sd, both_bad=both_bad, rounds=rounds, confidence=confidence, seed=seed
        )
        for g, vs in group_by(preference_votes(votes), lambda v: v.genre).items()
    }


def standings_by_rater(
    votes: Iterable[Vote], *, prior_sd: float | None = DEFAULT_PRIOR_SD
) -> dict[str, Standings]:
    """One fit per rater (no intervals: a single rater is one cluster). Shows whose taste differs."""
    return {
        r: standings(vs, prior_sd=prior_sd, rounds=0)
        for r, vs in group_by(preference_votes(votes), lambda v: v.rater).items()
    }
