"""Schedule: balance across system pairs, prompts and sides; no repeated pairs; gold and repeat rates."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from workbench.campaigns.config import config_from_dict
from workbench.campaigns.schedule import ClipRef, Planner, trial_plan


def make_config(
    systems: int = 3, prompts: int = 5, takes: int = 2, raters: int = 12, quota: int = 40, **extra
):
    data = {
        "name": "sched",
        "genre": "spa",
        "systems": [{"name": f"s{i}", "import_dir": "/x", "mapping_csv": "m.csv"} for i in range(systems)],
        "prompts": [{"id": f"p{i}"} for i in range(prompts)],
        "raters": [f"r{i}" for i in range(raters)],
        "clips_per_prompt": takes,
        "votes_per_rater": quota,
        "gold_rate": 0.1,
        "repeat_rate": 0.1,
    }
    data.update(extra)
    return config_from_dict(data)


def make_planner(config):
    clips = [
        ClipRef(f"{s.name}-{p.id}-{t}", s.name, p.id, t)
        for s in config.systems
        for p in config.prompts
        for t in range(config.clips_per_prompt)
    ]
    degraded = {c.id: c.id + "-bad" for c in clips}
    return Planner(config, clips, degraded)


def simulate(config, planner, seed=0, answer=lambda choice, rng: rng.choice(["left", "right", "tie"])):
    """Raters take turns (as concurrent raters interleave); returns {rater: [choices]}."""
    rng = random.Random(seed)
    served = {r.id: [] for r in config.raters}
    for seq in range(config.votes_per_rater):
        order = [r.id for r in config.raters]
        rng.shuffle(order)
        for rater in order:
            choice = planner.next_pair(rater, seq, rng)
            assert choice is not None
            pair_id = f"{rater}-{seq}"
            planner.observe_served(pair_id, rater, choice)
            planner.observe_answer(pair_id, rater, choice, answer(choice, rng))
            served[rater].append((pair_id, choice))
    return served


def test_regular_pairs_compare_different_systems_on_one_prompt_and_never_repeat_per_rater():
    config = make_config()
    planner = make_planner(config)
    served = simulate(config, planner)
    for rater, items in served.items():
        seen = set()
        for _, c in items:
            if c.is_gold or c.repeat_of:
                continue
            assert c.system_left != c.system_right
            assert c.clip_left.split("-")[1] == c.clip_right.split("-")[1] == c.prompt_id
            key = frozenset((c.clip_left, c.clip_right))
            assert key not in seen, f"{rater} heard {key} twice"
            seen.add(key)


def test_balance_over_system_pairs_prompts_and_sides():
    config = make_config(min_gold_trials=4, min_repeats=4)  # 4 + 4 checks: 32 regular trials per rater
    served = simulate(config, make_planner(config))
    regular = [c for items in served.values() for _, c in items if not c.is_gold and not c.repeat_of]
    pairs = Counter(tuple(sorted((c.system_left, c.system_right))) for c in regular)
    cells = Counter((tuple(sorted((c.system_left, c.system_right))), c.prompt_id) for c in regular)
    assert len(pairs) == 3 and max(pairs.values()) - min(pairs.values()) <= 1, pairs
    assert len(cells) == 15 and max(cells.values()) - min(cells.values()) <= 1, cells
    judged = [c for items in served.values() for _, c in items if not c.is_gold]  # swapped repeats included
    for pair in pairs:
        left = Counter(
            c.system_left for c in judged if tuple(sorted((c.system_left, c.system_right))) == pair
        )
        # stated bound: the two systems of a pair are on the left equally often, +-1
        assert abs(left[pair[0]] - left[pair[1]]) <= 1, (pair, left)


@pytest.mark.parametrize(("gold_rate", "repeat_rate"), [(0.1, 0.05), (0.2, 0.1), (0.0, 0.0)])
def test_gold_and_repeat_rates_are_exact_per_rater(gold_rate, repeat_rate):
    config = make_config(quota=40, gold_rate=gold_rate, repeat_rate=repeat_rate)
    served = simulate(config, make_planner(config))
    for items in served.values():
        gold = [c for _, c in items if c.is_gold]
        repeats = [c for _, c in items if c.repeat_of]
        # the rate's share, raised to what the screening rule needs to judge a rater (a rate of 0: no check)
        assert len(gold) == (max(round(40 * gold_rate), config.min_gold_trials) if gold_rate else 0)
        assert len(repeats) == (max(round(40 * repeat_rate), config.min_repeats) if repeat_rate else 0)
        by_id = dict(items)
        for c in repeats:  # a repeat is an earlier answered pair of the same rater, sides swapped
            original = by_id[c.repeat_of]
            assert (c.clip_left, c.clip_right) == (original.clip_right, original.clip_left)
            assert (c.system_left, c.system_right) == (original.system_right, original.system_left)
        for c in gold:  # a clip against its degraded copy, the intact one on the expected side
            intact = c.clip_left if c.gold_expected == "left" else c.clip_right
            damaged = c.clip_right if c.gold_expected == "left" else c.clip_left
            assert damaged == intact + "-bad" and c.system_left == c.system_right


def test_gold_side_is_balanced_and_plan_positions_differ_between_raters():
    config = make_config(raters=30, quota=40, gold_rate=0.2)
    served = simulate(config, make_planner(config))
    gold = [c for items in served.values() for _, c in items if c.is_gold]
    left = sum(c.gold_expected == "left" for c in gold)
    assert 0.35 < left / len(gold) < 0.65  # 240 coin flips: 0.5 +- 4.6 SD of 0.032
    plans = {tuple(trial_plan(config, r.id)) for r in config.raters}
    assert len(plans) > 20  # positions are drawn per rater, so gold trials are not at predictable places
    assert trial_plan(config, "r1") == trial_plan(config, "r1")  # and the same after a restart


def test_adaptive_mode_spends_votes_on_the_least_certain_pair():
    config = make_config(raters=12, quota=40, prompts=8, adaptive=True, adaptive_warmup_votes=10)

    def answer(choice, rng):  # s0 always beats s1 and s2; s1 vs s2 is a coin flip
        for side, system in (("left", choice.system_left), ("right", choice.system_right)):
            if system == "s0":
                return side
        return rng.choice(["left", "right"])

    served = simulate(config, make_planner(config), answer=answer)
    regular = [c for items in served.values() for _, c in items if not c.is_gold and not c.repeat_of]
    pairs = Counter(tuple(sorted((c.system_left, c.system_right))) for c in regular)
    assert pairs[("s1", "s2")] > 1.5 * max(pairs[("s0", "s1")], pairs[("s0", "s2")]), pairs


def test_quota_above_the_distinct_pairs_is_rejected():
    from workbench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="distinct clip pairs"):
        make_config(systems=2, prompts=2, takes=1, quota=10, gold_rate=0.0, repeat_rate=0.0)


def test_a_quota_too_small_for_the_screening_minimums_is_refused_at_create():
    from workbench.core.errors import ConfigError

    # 8 gold trials + 7 repeats do not fit 60 % of 20 votes: refused, naming the quota that would do
    with pytest.raises(
        ConfigError, match=r"votes_per_rater=20: screening needs 8 gold trials and 7 swapped.*at least 25"
    ):
        make_config(quota=20)
    assert make_config(quota=25).check_trials == (8, 7)
    assert make_config(quota=200, prompts=40).check_trials == (20, 20)  # above the minimums the rates apply
    assert make_config(quota=20, gold_rate=0.0, repeat_rate=0.0).check_trials == (0, 0)
