"""Synthetic campaigns from known strengths: for planning (how many votes, how many raters) and for tests.

Votes follow the Bradley–Terry model the scorer fits, including its tie convention: with a tie rate t, a pair
with win probability q = P_BT(left beats right) gives left with q - t/2, right with 1 - q - t/2 and a tie with t,
so that the expected score (ties half) is exactly q and the fitted ratings are unbiased. Each rater has a taste
offset per system (``rater_sd`` rating points) so that votes cluster by rater as they do in real campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from evals.preference.preference import SIDES, Outcome, Vote
from workbench.core.errors import InputError

_START = datetime(2026, 11, 21, 9, 0, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class CampaignSimulation:
    ratings: dict[str, float]  # true rating per system on the 400-point scale (differences matter)
    genres: tuple[str, ...] = ("spa",)
    genre_ratings: dict[str, dict[str, float]] = field(default_factory=dict)  # per-genre overrides
    raters: int = 20
    votes_per_rater: int = 30  # preference votes, before gold trials and repeats
    prompts_per_genre: int = 8
    tie_rate: float = 0.1
    both_bad_rate: float = 0.0
    left_bias: float = 0.0  # rating points added to whichever clip is on the left
    rater_sd: float = 0.0  # per-rater taste noise in rating points
    gold_rate: float = 0.0  # extra gold trials per preference vote
    repeat_rate: float = 0.0  # extra swapped repeats per preference vote
    # chance a careful rater copies the original answer rather than judging anew; 0 is what the Bradley-Terry model
    # the report fits implies (every vote an independent draw), and what screening must be fair to
    repeat_memory: float = 0.0
    fit_rate: float = 0.0  # share of clips that also get a 1-5 fit rating (3 + rating gap / 100, noisy)
    careless: dict[str, str] = field(default_factory=dict)  # rater -> "random" | "left"
    campaign: str = "simulated"
    seed: int = 0

    def validate(self) -> None:
        if len(self.ratings) < 2:
            raise InputError("ratings", self.ratings, "give at least two systems")
        for name in ("tie_rate", "both_bad_rate", "gold_rate", "repeat_rate", "repeat_memory", "fit_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(name, value, "must be a share between 0 and 1")
        if self.tie_rate + self.both_bad_rate >= 1.0:
            raise InputError("tie_rate", self.tie_rate, "tie_rate + both_bad_rate must stay below 1")
        for rater, mode in self.careless.items():
            if mode not in ("random", "left"):
                raise InputError(f"careless.{rater}", mode, "use 'random' or 'left'")


def rater_name(i: int) -> str:
    return f"r{i:03d}"


def _answer(rng: np.random.Generator, q: float, spec: CampaignSimulation, mode: str | None) -> Outcome:
    if mode == "left":
        return Outcome.LEFT
    if mode == "random":
        return Outcome(str(rng.choice(["left", "right", "tie"], p=[0.45, 0.45, 0.10])))
    u = rng.random()
    if u < spec.both_bad_rate:
        return Outcome.BOTH_BAD
    u = rng.random()
    t = spec.tie_rate
    p_left = min(max(q - t / 2, 0.0), 1.0 - t)
    if u < p_left:
        return Outcome.LEFT
    if u < p_left + t:
        return Outcome.TIE
    return Outcome.RIGHT


def simulate_votes(spec: CampaignSimulation) -> list[Vote]:
    spec.validate()
    rng = np.random.default_rng(spec.seed)
    systems = sorted(spec.ratings)
    votes: list[Vote] = []
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return f"p{counter:06d}"

    def stamp() -> str:
        # one vote per second from a fixed start keeps created_at ordered and readable
        return (_START + timedelta(seconds=counter)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def cast(
        rater: str, genre: str, prompt: str, left: str, right: str, outcome: Outcome, **extra: Any
    ) -> str:
        """Append one vote with the next pair id and time stamp; returns its pair id."""
        pid = next_id()
        votes.append(
            Vote(
                spec.campaign,
                rater,
                genre,
                prompt,
                left,
                right,
                outcome,
                pair_id=pid,
                created_at=stamp(),
                **extra,
            )
        )
        return pid

    for ri in range(spec.raters):
        rater = rater_name(ri)
        mode = spec.careless.get(rater)
        taste = {s: rng.normal(0.0, spec.rater_sd) if spec.rater_sd > 0 else 0.0 for s in systems}
        for _ in range(spec.votes_per_rater):
            genre = spec.genres[int(rng.integers(len(spec.genres)))]
            table = {**spec.ratings, **spec.genre_ratings.get(genre, {})}
            a, b = rng.choice(systems, size=2, replace=False)
            left, right = (str(a), str(b))
            prompt = f"{genre}-{int(rng.integers(spec.prompts_per_genre)):02d}"
            diff = table[left] + taste[left] - table[right] - taste[right] + spec.left_bias
            q = 1.0 / (1.0 + 10.0 ** (-diff / 400.0))
            outcome = _answer(rng, q, spec, mode)
            fits = [
                int(np.clip(round(3 + (table[s] - 1000.0) / 100.0 + rng.normal(0.0, 0.7)), 1, 5))
                if spec.fit_rate > 0
                and rng.random() < spec.fit_rate  # no draw at 0: keeps seeded streams stable
                else None
                for s in (left, right)
            ]
            pid = cast(rater, genre, prompt, left, right, outcome, fit_left=fits[0], fit_right=fits[1])
            if rng.random() < spec.repeat_rate:
                if mode is None and rng.random() < spec.repeat_memory:
                    again = {Outcome.LEFT: Outcome.RIGHT, Outcome.RIGHT: Outcome.LEFT}.get(outcome, outcome)
                else:
                    diff = table[right] + taste[right] - table[left] - taste[left] + spec.left_bias
                    again = _answer(rng, 1.0 / (1.0 + 10.0 ** (-diff / 400.0)), spec, mode)
                cast(rater, genre, prompt, right, left, again, repeat_of=pid)
            if rng.random() < spec.gold_rate:
                side = Outcome(str(rng.choice([s.value for s in SIDES])))
                if mode is None:
                    got = (
                        side
                        if rng.random() < 0.95
                        else (Outcome.RIGHT if side == Outcome.LEFT else Outcome.LEFT)
                    )
                else:
                    got = _answer(rng, 0.5, spec, mode)
                cast(rater, genre, prompt, left, left, got, is_gold=True, gold_expected=side)
    return votes
