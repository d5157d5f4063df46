"""The validation study's machinery: real schedules, listeners as specified, and a campaign read end to end."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.decision_validity import (
    CELLS,
    answers,
    beta_for,
    build_schedule,
    plan_for,
    population_rate,
    rule_for,
    run_campaign,
    run_cell,
    summary,
)


def test_truth_is_solved_on_the_population_scale():
    cell = CELLS["12r x 12p, rater+prompt+position"]
    for p in (0.45, 0.6):
        assert population_rate(beta_for(p, cell), cell) == pytest.approx(p, abs=1e-9)


def test_schedule_comes_from_the_real_planner_with_the_screening_minimums():
    cell = CELLS["12r x 12p + 2 careless (random, left)"]
    planned, quota, _ = plan_for(cell)
    sched = build_schedule(cell, quota, seed=3)
    per_rater_gold = np.bincount(sched.rater[sched.gold], minlength=cell.raters)
    per_rater_repeats = np.bincount(sched.rater[sched.repeat_of >= 0], minlength=cell.raters)
    assert (per_rater_gold == 8).all() and (per_rater_repeats == 7).all()
    assert sched.rater.size == quota * cell.raters
    # honest raters re-judge repeats: the answers to a repeat are not copies of the original
    out = answers(sched, cell, beta_for(0.5, cell), np.random.default_rng(0))
    rep = np.flatnonzero(sched.repeat_of >= 0)
    honest = rep[sched.rater[rep] >= len(cell.careless)]
    same_side = np.mean(out[honest] == out[sched.repeat_of[honest]])
    assert 0.25 < same_side < 0.7
    assert (out[sched.rater == 1] == 0).all()  # the always-left rater


def test_one_campaign_reads_like_an_organiser_and_screens_the_careless():
    cell = CELLS["12r x 12p + 2 careless (random, left)"]
    planned, quota, _ = plan_for(cell)
    run = run_campaign(
        build_schedule(cell, quota, seed=1), cell, 0.6, rule_for(cell, planned), seed=(1, 2, 3)
    )
    assert run.excluded[1]  # always-left
    assert sum(run.excluded[2:]) <= 1
    assert run.verdict in ("PASS", "FAIL", "NEED MORE VOTES")


@pytest.mark.slow
def test_a_small_cell_summarises():
    res = run_cell(CELLS["8r x 8p (below the minimum)"], campaigns=4)
    row = summary(res)
    assert row["refused"].startswith("100.0%") and row["false PASS @0.45"].startswith("0.0%")
