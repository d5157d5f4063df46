"""The decision's statistics against independent implementations: the two-way sandwich vs statsmodels, the
group-sequential boundaries vs published tables and a Monte-Carlo of the same design, the plan's closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import norm
from scipy.stats import t as student_t
from statsmodels.stats.sandwich_covariance import cov_cluster_2groups

from evals.preference.clustered import anova_icc, clustered_mean
from evals.preference.decision import FUTILITY_TEXT, decide, decide_genre
from evals.preference.decision_rule import NEED_MORE_VOTES, PASS, DecisionRule
from evals.preference.group_sequential import (
    conditional_power,
    efficacy_bounds,
    inflation_factor,
    obf_spending,
    planned_fractions,
    rejection_probability,
    t_scale,
)
from evals.preference.plan import PlanInputs, plan_table, power_at, score_variance, votes_for_rule
from evals.preference.preference import Vote


def _crossed(
    seed: int, raters: int = 9, prompts: int = 7, n: int = 400
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed data with real rater and prompt effects: scores 0 / 0.5 / 1."""
    rng = np.random.default_rng(seed)
    r = rng.integers(raters, size=n)
    p = rng.integers(prompts, size=n)
    eta = rng.normal(0, 0.8, raters)[r] + rng.normal(0, 0.6, prompts)[p]
    win = rng.random(n) < 1 / (1 + np.exp(-eta))
    tie = rng.random(n) < 0.15
    return np.where(tie, 0.5, win.astype(float)), r, p


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_way_sandwich_matches_statsmodels(seed):
    y, r, p = _crossed(seed)
    fit = sm.OLS(y, np.ones((y.size, 1))).fit()
    both, only_r, only_p = cov_cluster_2groups(fit, r, p)
    cm = clustered_mean(y, [f"r{x}" for x in r], [f"p{x}" for x in p])
    assert cm.mean == pytest.approx(float(fit.params[0]), abs=1e-12)
    assert cm.se_sandwich == pytest.approx(math.sqrt(both[0, 0]), rel=1e-10)
    # statsmodels' own OLS route with a two-column group array gives the same variance
    twoway = sm.OLS(y, np.ones((y.size, 1))).fit(
        cov_type="cluster", cov_kwds={"groups": np.column_stack([r, p])}
    )
    assert cm.se_sandwich == pytest.approx(float(twoway.bse[0]), rel=1e-10)
    assert cm.se == pytest.approx(max(cm.se_sandwich, cm.se_iid))
    assert (cm.raters, cm.prompts, cm.df) == (9, 7, 6)
    assert math.sqrt(only_r[0, 0]) < cm.se_sandwich  # the prompt part adds to the rater part


def test_sandwich_by_hand_on_a_tiny_table():
    y = np.array([1.0, 0.0, 0.5, 1.0, 1.0, 0.0])
    raters = ["a", "a", "b", "b", "c", "c"]
    prompts = ["x", "y", "x", "y", "x", "y"]
    e = y - y.mean()
    v_r = 3 / 2 * ((e[0] + e[1]) ** 2 + (e[2] + e[3]) ** 2 + (e[4] + e[5]) ** 2) / 36
    v_p = 2 / 1 * ((e[0] + e[2] + e[4]) ** 2 + (e[1] + e[3] + e[5]) ** 2) / 36
    v_rp = 6 / 5 * float(np.sum(e**2)) / 36  # every (rater, prompt) cell holds one vote
    cm = clustered_mean(y, raters, prompts)
    expected = v_r + v_p - v_rp if v_r + v_p - v_rp > 0 else max(v_r, v_p)
    assert cm.se_sandwich == pytest.approx(math.sqrt(expected), rel=1e-12)


def test_anova_icc_recovers_a_between_group_share():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(200), 30)
    y = rng.normal(0, math.sqrt(0.2), 200)[groups] + rng.normal(0, math.sqrt(0.8), groups.size)
    assert anova_icc(y, groups) == pytest.approx(0.2, abs=0.04)
    assert anova_icc(rng.normal(size=3000), np.repeat(np.arange(100), 30)) < 0.03


def test_obrien_fleming_boundaries_match_published_values():
    # Lan-DeMets O'Brien-Fleming-type spending, one-sided 0.025, equally spaced looks (e.g. gsDesign / J&T tables)
    assert efficacy_bounds(planned_fractions(2)) == pytest.approx((2.963, 1.969), abs=2e-3)
    assert efficacy_bounds(planned_fractions(4)) == pytest.approx((4.333, 2.963, 2.359, 2.014), abs=2e-3)
    assert efficacy_bounds(planned_fractions(1)) == pytest.approx((norm.isf(0.025),), abs=1e-4)
    assert obf_spending(1.0, 0.025) == pytest.approx(0.025)
    assert inflation_factor(4) == pytest.approx(1.02, abs=0.006)


def test_boundaries_hold_alpha_and_power_in_a_monte_carlo_of_the_same_design():
    rng = np.random.default_rng(0)
    ts = np.array(planned_fractions(4))
    bounds = np.array(efficacy_bounds(ts))
    steps = np.diff(np.r_[0.0, ts])

    def crossing(drift: float) -> float:
        w = np.cumsum(rng.normal(size=(200_000, 4)) * np.sqrt(steps) + drift * steps, axis=1)
        return float(((w / np.sqrt(ts)) >= bounds).any(axis=1).mean())

    assert crossing(0.0) == pytest.approx(0.025, abs=0.0015)
    drift = norm.isf(0.025) + norm.ppf(0.8)
    assert crossing(drift) == pytest.approx(rejection_probability(ts, 0.025, drift), abs=0.004)


def test_t_scale_and_conditional_power():
    assert t_scale(1.959964, 11) == pytest.approx(student_t.isf(0.025, 11), rel=1e-5)
    assert t_scale(1.96, 10_000) == pytest.approx(1.96, abs=1e-3)
    # half-way at the final boundary's pace: about even odds with no drift
    assert conditional_power(2.0 * math.sqrt(0.5), 0.5, 2.0, 0.0) == pytest.approx(
        norm.sf(0.5 * 2 / math.sqrt(0.5) - 1), abs=0.3
    )
    assert conditional_power(-2.0, 0.5, 2.0, 1.0) < 0.01 < conditional_power(2.5, 0.5, 2.0, 2.8)


def test_plan_closed_form_for_independent_votes_matches_the_textbook_count():
    # no clustering, one look, many clusters: the normal non-inferiority count (about 780 at p = 0.50)
    flat = PlanInputs(
        tie_rate=0.0,
        rater_icc=0.0,
        prompt_icc=0.0,
        raters=100_000,
        prompts=100_000,
        looks=1,
        excluded_share=0.0,
    )
    for p, expected in ((0.50, 780), (0.55, 194), (0.60, 86)):
        n = votes_for_rule(p, flat)
        need = (norm.isf(0.025) * math.sqrt(0.45 * 0.55) + norm.ppf(0.8) * math.sqrt(p * (1 - p))) / (
            p - 0.45
        )
        assert n == math.ceil(need**2) and abs(n - expected) <= 2
    assert score_variance(0.5, 0.1) == pytest.approx(0.225)  # ties lower the variance of a half-scored vote
    assert (
        votes_for_rule(
            0.50,
            PlanInputs(
                tie_rate=0.1,
                rater_icc=0,
                prompt_icc=0,
                raters=10**5,
                prompts=10**5,
                looks=1,
                excluded_share=0.0,
            ),
        )
        < 780
    )


def test_plan_counts_raters_and_prompts_and_can_be_unreachable():
    base = PlanInputs()
    n = votes_for_rule(0.60, base)
    assert n is not None and power_at(n, 0.60, base) == pytest.approx(0.8, abs=0.01)
    more = votes_for_rule(0.60, PlanInputs(rater_icc=0.06, prompt_icc=0.04))
    assert more is not None and more > n
    assert votes_for_rule(0.50, base) is None  # 12 raters and 12 prompts can never show PASS at p = 0.50
    rows = plan_table(base, planned_votes=n)
    assert [r.win_rate for r in rows] == [0.5, 0.55, 0.6] and rows[2].votes == n and rows[0].votes is None
    assert rows[2].power_at_target == pytest.approx(0.8, abs=0.01) and rows[2].design_effect > 1


def _votes(scores: list[float], raters: int = 12, prompts: int = 12, candidate: str = "cand") -> list[Vote]:
    out = []
    for i, s in enumerate(scores):
        left, right = (candidate, "base") if i % 2 == 0 else ("base", candidate)
        outcome = "tie" if s == 0.5 else ("left" if (s == 1.0) == (left == candidate) else "right")
        out.append(
            Vote("c", f"r{i % raters}", "spa", f"p{(i // raters) % prompts}", left, right, outcome,
                 pair_id=f"{candidate}{i}", created_at=f"{i:06d}")
        )  # fmt: skip
    return out


def _scores(p_win: float, n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    return [0.5 if x < 0.1 else (1.0 if x < 0.1 + 0.9 * p_win else 0.0) for x in u]


def test_sequential_design_stops_at_a_planned_look_and_ignores_votes_between_looks():
    rule = DecisionRule(min_delivery_pass_rate=None, planned_votes=480, looks=4)
    votes = _votes(_scores(0.80, 480, seed=1))
    early = decide(votes[:150], candidate="cand", baseline="base", genre="spa", rule=rule)
    later = decide(votes[:239], candidate="cand", baseline="base", genre="spa", rule=rule)
    # both see only the first look (120 votes): the same analysis, so the same interval
    assert early.head_to_head.looks[-1].votes == later.head_to_head.looks[-1].votes == 120
    assert early.head_to_head.ci_low == later.head_to_head.ci_low
    full = decide(votes, candidate="cand", baseline="base", genre="spa", rule=rule)
    assert full.verdict == PASS and full.head_to_head.stopped_at is not None
    assert "look" in full.reasons[0] and "lower bound >= 45%" in full.reasons[0]
    before = decide(votes[:119], candidate="cand", baseline="base", genre="spa", rule=rule)
    assert before.verdict == NEED_MORE_VOTES and "first planned look is at 120" in before.reasons[0]
    assert before.more_votes == 1


def test_futility_says_further_votes_are_unlikely_to_reach_pass():
    rule = DecisionRule(min_delivery_pass_rate=None, planned_votes=800, looks=4)
    d = decide(_votes(_scores(0.36, 420, seed=2)), candidate="cand", baseline="base", genre="spa", rule=rule)
    assert d.verdict == NEED_MORE_VOTES and d.head_to_head.futile
    assert any(FUTILITY_TEXT in r for r in d.reasons)
    assert not any("as good as" in r for r in d.reasons)


def test_no_verdict_below_the_minimum_raters_or_prompts():
    votes = _votes(_scores(0.9, 300, seed=3), raters=8, prompts=8)
    d = decide(
        votes, candidate="cand", baseline="base", genre="spa", rule=DecisionRule(min_delivery_pass_rate=None)
    )
    assert (
        d.verdict == NEED_MORE_VOTES and "8 raters (needs 10)" in d.reasons[0] and "8 prompts" in d.reasons[0]
    )


def test_closed_campaign_short_of_its_plan_spends_the_rest_at_its_last_look():
    rule = DecisionRule(min_delivery_pass_rate=None, planned_votes=1000, looks=4, final=True)
    d = decide(_votes(_scores(0.50, 600, seed=4)), candidate="cand", baseline="base", genre="spa", rule=rule)
    last = d.head_to_head.looks[-1]
    assert last.votes == 600 and last.fraction == pytest.approx(0.6)
    open_ = decide(
        _votes(_scores(0.50, 600, seed=4)), candidate="cand", baseline="base", genre="spa",
        rule=DecisionRule(min_delivery_pass_rate=None, planned_votes=1000, looks=4),
    )  # fmt: skip
    assert open_.head_to_head.looks[-1].votes == 500  # still open: only the planned look at 500 counts


def test_holm_tests_each_candidate_at_a_share_and_recycles_it():
    strong = _votes(_scores(0.85, 300, seed=5), candidate="a")
    edge = _votes(_scores(0.64, 300, seed=6), candidate="b")
    rule = DecisionRule(min_delivery_pass_rate=None)
    out = {
        d.candidate: d
        for d in decide_genre(strong + edge, candidates=["a", "b"], baseline="base", genre="spa", rule=rule)
    }
    assert out["a"].verdict == PASS and out["a"].alpha == pytest.approx(0.0125)
    # once a passes, b is re-tested at the full level
    assert out["b"].alpha == pytest.approx(0.025) or out["b"].verdict == PASS
    none = decide_genre(strong + edge, candidates=["a", "b"], baseline="base", genre="spa",
                        rule=DecisionRule(min_delivery_pass_rate=None, multiplicity="none"))  # fmt: skip
    assert all(d.alpha == pytest.approx(0.025) for d in none)
    primary = decide_genre(strong + edge, candidates=["a", "b"], baseline="base", genre="spa",
                           rule=DecisionRule(min_delivery_pass_rate=None, primary="b"))  # fmt: skip
    assert [round(d.alpha, 4) for d in primary] == [0.0125, 0.025]
