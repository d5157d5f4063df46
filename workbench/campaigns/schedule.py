"""Which pair a rater hears next: balanced, never repeated by accident, with gold trials and swapped repeats.

Rules (see docs/ab-campaigns.md):
- a regular trial pits two different systems on the same prompt; the (system pair, prompt) cell served least so
  far goes next, then the least-served system pair, so both pairs and prompts stay balanced across raters;
- a rater never hears the same clip pair twice (except a deliberate swapped repeat);
- the left/right side goes to whichever system of the pair has been on the left less often (a coin decides ties),
  so position bias cancels out within every pair;
- gold trials (a clip against its degraded copy) and swapped repeats sit at positions drawn once per rater from a
  seeded RNG: the counts are ``round(quota * rate)`` but never fewer than the screening rule needs to judge a rater
  (``min_gold_trials``, ``min_repeats``; a rate of 0 turns that check off), and the positions are unpredictable to
  the rater but the same after a server restart;
- adaptive mode, after every system pair has ``adaptive_warmup_votes`` votes, picks the pair whose outcome is
  least certain (the smallest |wins - losses| / sqrt(n)), which spends votes where the ranking is still open.

The planner holds only counts; the store is the truth and the planner is rebuilt from it at start-up.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

from evals.preference.preference import Outcome
from workbench.campaigns.config import CampaignConfig

REPEAT_MIN_SEQ = 3  # a repeat needs earlier answers to repeat


@dataclass(frozen=True)
class ClipRef:
    id: str
    system: str
    prompt_id: str
    take: int


@dataclass(frozen=True)
class PairChoice:
    prompt_id: str
    clip_left: str
    clip_right: str
    system_left: str
    system_right: str
    is_gold: bool = False
    gold_expected: str | None = None
    repeat_of: str | None = None


@dataclass
class _Rater:
    seen: set[frozenset[str]] = field(default_factory=set)  # clip pairs heard (regular trials)
    gold_seen: set[str] = field(default_factory=set)  # clips used in this rater's gold trials
    repeatable: list[tuple[str, PairChoice]] = field(default_factory=list)  # answered, not yet repeated
    repeated: set[str] = field(default_factory=set)


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def trial_plan(config: CampaignConfig, rater: str) -> list[str]:
    """'regular' / 'gold' / 'repeat' for each position of the rater's quota (deterministic per rater)."""
    quota = config.votes_per_rater
    digest = hashlib.sha256(f"{config.seed}:{config.name}:{rater}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    kinds = ["regular"] * quota
    n_gold, n_repeat = config.check_trials
    for i in rng.sample(range(quota), n_gold):
        kinds[i] = "gold"
    free = [i for i in range(min(REPEAT_MIN_SEQ, quota), quota) if kinds[i] == "regular"]
    for i in rng.sample(free, min(n_repeat, len(free))):
        kinds[i] = "repeat"
    return kinds


class Planner:
    def __init__(self, config: CampaignConfig, clips: list[ClipRef], degraded: dict[str, str]) -> None:
        self.config = config
        self.degraded = degraded  # clip id -> id of its degraded copy
        self.system_names = [s.name for s in config.systems]
        self.system_pairs = [_pair_key(a, b) for a, b in combinations(self.system_names, 2)]
        self.by_cell: dict[tuple[str, str], list[str]] = defaultdict(list)  # (system, prompt) -> clip ids
        self.clips = {c.id: c for c in clips}
        for c in clips:
            self.by_cell[(c.system, c.prompt_id)].append(c.id)
        self.prompts = [p.id for p in config.prompts]
        self.cell_counts: Counter[tuple[tuple[str, str], str]] = Counter()
        self.pair_counts: Counter[tuple[str, str]] = Counter()
        self.clip_pair_counts: Counter[frozenset[str]] = Counter()
        self.left_counts: Counter[tuple[tuple[str, str], str]] = (
            Counter()
        )  # (system pair, system on the left)
        self.gold_counts: Counter[str] = Counter()
        self.results: dict[tuple[str, str], list[float]] = defaultdict(
            lambda: [0.0, 0.0, 0.0]
        )  # a wins, b wins, n
        self.raters: dict[str, _Rater] = defaultdict(_Rater)
        self._plans: dict[str, list[str]] = {}

    # --- state -----------------------------------------------------------------------------------------------
    def observe_served(self, pair_id: str, rater: str, choice: PairChoice) -> None:
        state = self.raters[rater]
        if choice.is_gold:
            source = choice.clip_left if choice.gold_expected == Outcome.LEFT else choice.clip_right
            state.gold_seen.add(source)
            self.gold_counts[source] += 1
            return
        key = _pair_key(choice.system_left, choice.system_right)
        self.left_counts[(key, choice.system_left)] += 1
        if choice.repeat_of is not None:
            state.repeated.add(choice.repeat_of)
            state.repeatable = [(p, c) for p, c in state.repeatable if p != choice.repeat_of]
            return
        state.seen.add(frozenset((choice.clip_left, choice.clip_right)))
        self.cell_counts[(key, choice.prompt_id)] += 1
        self.pair_counts[key] += 1
        self.clip_pair_counts[frozenset((choice.clip_left, choice.clip_right))] += 1

    def observe_answer(self, pair_id: str, rater: str, choice: PairChoice, outcome: str) -> None:
        if choice.is_gold:
            return
        key = _pair_key(choice.system_left, choice.system_right)
        tally = self.results[key]
        winner = (
            choice.system_left
            if outcome == Outcome.LEFT
            else choice.system_right
            if outcome == Outcome.RIGHT
            else None
        )
        if winner is not None:
            tally[0 if winner == key[0] else 1] += 1.0
        tally[2] += 1.0
        state = self.raters[rater]
        if choice.repeat_of is None and pair_id not in state.repeated:
            state.repeatable.append((pair_id, choice))

    # --- choice ----------------------------------------------------------------------------------------------
    def plan(self, rater: str) -> list[str]:
        if rater not in self._plans:
            self._plans[rater] = trial_plan(self.config, rater)
        return self._plans[rater]

    def next_pair(self, rater: str, seq: int, rng: random.Random) -> PairChoice | None:
        """The pair for position ``seq`` of the rater's session, or None when nothing unheard is left."""
        plan = self.plan(rater)
        kind = plan[seq] if seq < len(plan) else "regular"
        if kind == "gold":
            choice = self._gold(rater, rng)
            if choice is not None:
                return choice
        if kind == "repeat":
            choice = self._repeat(rater, rng)
            if choice is not None:
                return choice
        return self._regular(rater, rng)

    def _gold(self, rater: str, rng: random.Random) -> PairChoice | None:
        state = self.raters[rater]
        options = [c for c in self.degraded if c not in state.gold_seen]
        if not options:
            return None
        least = min(self.gold_counts[c] for c in options)
        source = rng.choice(sorted(c for c in options if self.gold_counts[c] == least))
        clip = self.clips[source]
        if rng.random() < 0.5:
            return PairChoice(
                clip.prompt_id, source, self.degraded[source], clip.system, clip.system, True, "left"
            )
        return PairChoice(
            clip.prompt_id, self.degraded[source], source, clip.system, clip.system, True, "right"
        )

    def _repeat(self, rater: str, rng: random.Random) -> PairChoice | None:
        state = self.raters[rater]
        if not state.repeatable:
            return None
        pair_id, c = state.repeatable[rng.randrange(len(state.repeatable))]
        return PairChoice(
            c.prompt_id, c.clip_right, c.clip_left, c.system_right, c.system_left, repeat_of=pair_id
        )

    def _unheard(self, rater: str, key: tuple[str, str], prompt: str) -> list[frozenset[str]]:
        seen = self.raters[rater].seen
        return [
            frozenset((a, b))
            for a in self.by_cell[(key[0], prompt)]
            for b in self.by_cell[(key[1], prompt)]
            if frozenset((a, b)) not in seen
        ]

    def _certainty(self, key: tuple[str, str]) -> float:
        a, b, n = self.results[key]
        return abs(a - b) / math.sqrt(n + 1.0)

    def _regular(self, rater: str, rng: random.Random) -> PairChoice | None:
        cells = [(key, p) for key in self.system_pairs for p in self.prompts if self._unheard(rater, key, p)]
        if not cells:
            return None
        adaptive = self.config.adaptive and all(
            self.results[k][2] >= self.config.adaptive_warmup_votes for k in self.system_pairs
        )

        def rank(cell: tuple[tuple[str, str], str]) -> tuple[float, ...]:
            key, prompt = cell
            balance = (float(self.cell_counts[cell]), float(self.pair_counts[key]), rng.random())
            return (self._certainty(key), *balance) if adaptive else balance

        key, prompt = min(cells, key=rank)
        options = self._unheard(rater, key, prompt)
        least = min(self.clip_pair_counts[o] for o in options)
        pick = rng.choice(sorted((o for o in options if self.clip_pair_counts[o] == least), key=sorted))
        clip_a, clip_b = sorted(
            pick, key=lambda c: self.clips[c].system != key[0]
        )  # clip_a belongs to key[0]
        left_a, left_b = self.left_counts[(key, key[0])], self.left_counts[(key, key[1])]
        a_left = left_a < left_b or (left_a == left_b and rng.random() < 0.5)
        if a_left:
            return PairChoice(prompt, clip_a, clip_b, key[0], key[1])
        return PairChoice(prompt, clip_b, clip_a, key[1], key[0])
