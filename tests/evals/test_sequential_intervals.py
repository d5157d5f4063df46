"""The interval after a group-sequential stop, the last look past the plan, and planning for screened-out raters."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import t as student_t

from evals.preference.decision import head_to_head
from evals.preference.decision_rule import DecisionRule
from evals.preference.group_sequential import efficacy_bounds, overrun_final_bound, planned_fractions
from evals.preference.plan import PlanInputs, kept_raters, power_at, votes_for_rule
from evals.preference.preference import Vote
from evals.preference.stagewise import StageLook, stagewise_interval, upper_tail


def _paths(fractions: np.ndarray, drift: float, n: int, seed: int) -> np.ndarray:
    """Z statistics of n Brownian paths W(t) ~ N(drift t, t) observed at ``fractions``."""
    rng = np.random.default_rng(seed)
    steps = np.diff(np.r_[0.0, fractions])
    w = np.cumsum(rng.normal(size=(n, fractions.size)) * np.sqrt(steps) + drift * steps, axis=1)
    return w / np.sqrt(fractions)


def test_one_look_gives_the_fixed_t_interval():
    lo, hi, mid = stagewise_interval([StageLook(0.55, 0.03, 11, 2.2, 1.0)], margin=0.45, alpha=0.025)
    q = student_t.isf(0.025, 11)
    assert lo == pytest.approx(0.55 - q * 0.03, abs=1e-6)
    assert hi == pytest.approx(0.55 + q * 0.03, abs=1e-6)
    assert mid == pytest.approx(0.55, abs=1e-6)


def test_noisy_clustered_ses_do_not_move_the_interval_off_its_data():
    # a campaign of the validation study that ran to its last look: the clustered SE of look 2 came out smaller than
    # those of looks 3 and 4. With information read off those SEs the looks collapsed onto each other and the
    # "median-unbiased" win rate was 57.8 % though every look estimated 35-42 %.
    bounds = (7.34, 3.78, 2.77, 2.3)
    data = [(0.348, 0.0561), (0.383, 0.0398), (0.414, 0.0514), (0.422, 0.0473)]
    looks = [
        StageLook(e, se, 11, b, f)
        for (e, se), b, f in zip(data, bounds, (0.25, 0.5, 0.75, 300 / 263), strict=True)
    ]
    lo, hi, mid = stagewise_interval(looks, margin=0.45, alpha=0.025)
    assert 0.38 <= mid <= 0.44
    assert lo < 0.422 < hi and hi - lo == pytest.approx(2 * student_t.isf(0.025, 11) * 0.0473, rel=0.25)


def test_stagewise_tail_matches_simulated_paths():
    # stop at look 3 of 4 with Z_3 = 2.6 (below nothing earlier): P(outcome at least as extreme) by simulation
    fr = np.array([0.25, 0.5, 0.75])
    b = np.array(efficacy_bounds(planned_fractions(4))[:3])
    for drift in (0.0, 1.5, 3.0):
        z = _paths(fr / fr[-1], drift * math.sqrt(fr[-1]) / math.sqrt(fr[-1]), 400_000, seed=7)
        reach1 = np.abs(z[:, 0]) < b[0]
        reach2 = reach1 & (np.abs(z[:, 1]) < b[1])
        more = (z[:, 0] >= b[0]) | (reach1 & (z[:, 1] >= b[1])) | (reach2 & (z[:, 2] >= 2.6))
        exact = upper_tail([0.0, 0.0, 2.6], list(b), list(fr / fr[-1]), drift)
        assert exact == pytest.approx(more.mean(), abs=0.003)


@pytest.mark.slow
def test_stagewise_interval_covers_at_its_level_after_stopping():
    # normal statistics (large df), 4 O'Brien-Fleming looks, true gap at the planning effect: the repeated interval
    # at the stop over-covers, the stage-wise one is close to 95 %
    fr = np.asarray(planned_fractions(4))
    b = efficacy_bounds(tuple(fr))
    se = 0.04 / np.sqrt(fr)  # se of the mean at each look
    theta = 0.12  # true win rate 0.57 against the 0.45 margin
    z = _paths(fr, theta / 0.04, 600, seed=3)
    covered, repeated = 0, 0
    for path in z:
        k = next((j for j in range(4) if abs(path[j]) >= b[j]), 3)
        looks = [StageLook(0.45 + path[j] * se[j], float(se[j]), 10_000, b[j], fr[j]) for j in range(k + 1)]
        lo, hi, _ = stagewise_interval(looks, 0.45, 0.025)
        covered += lo <= 0.57 <= hi
        est = looks[-1].estimate
        repeated += est - b[k] * se[k] <= 0.57 <= est + b[k] * se[k]
    assert 0.925 <= covered / 600 <= 0.975
    assert repeated > covered


def test_a_last_look_past_the_plan_keeps_the_error_rate():
    fr = planned_fractions(4)
    planned_last = efficacy_bounds(fr)[-1]
    assert overrun_final_bound(fr, 1.0) == pytest.approx(planned_last)
    c = overrun_final_bound(fr, 3.3)
    assert c > planned_last
    z = _paths(np.array([0.25, 0.5, 0.75, 3.3]), 0.0, 400_000, seed=11)
    early = np.array(efficacy_bounds(fr)[:3])
    for last, lo, hi in ((planned_last, 0.0275, 0.032), (c, 0.0235, 0.0265)):
        crossed = (z >= np.r_[early, last]).any(axis=1).mean()
        assert lo <= crossed <= hi


def _votes(n: int, raters: int, prompts: int, win: float, seed: int) -> list[Vote]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        left = bool(rng.random() < 0.5)
        ai_wins = bool(rng.random() < win)
        outcome = "left" if ai_wins == left else "right"
        sl, sr = ("ai", "cat") if left else ("cat", "ai")
        out.append(Vote("c", f"r{i % raters}", "spa", f"p{(i // raters) % prompts}", sl, sr, outcome))
    return out


def test_report_gives_the_stagewise_interval_after_a_stop_and_keeps_the_repeated_one():
    votes = _votes(240, 12, 12, 0.80, seed=1)
    rule = DecisionRule(min_win_rate=0.45, min_delivery_pass_rate=None, looks=4, planned_votes=240)
    h = head_to_head(votes, "ai", "cat", "spa", rule)
    assert h.stopped_at == 2 and not math.isfinite(h.looks[0].z)  # look 1: too few prompts yet
    assert "stage-wise" in h.interval
    assert h.repeated_low < h.ci_low <= h.median_unbiased <= h.ci_high < h.repeated_high
    # not stopped yet and not the last look: the repeated interval is what is shown
    running = head_to_head(_votes(130, 12, 12, 0.50, seed=2), "ai", "cat", "spa", rule)
    assert running.stopped_at is None and "repeated" in running.interval
    assert (running.ci_low, running.ci_high) == (running.repeated_low, running.repeated_high)


def test_plan_counts_the_raters_screening_is_expected_to_remove():
    base = PlanInputs(rater_icc=0.05, prompt_icc=0.03, excluded_share=0.0)
    share = PlanInputs(rater_icc=0.05, prompt_icc=0.03, excluded_share=2 / 12)
    assert kept_raters(share) == 10
    n0, n = votes_for_rule(0.6, base), votes_for_rule(0.6, share)
    assert n0 is not None and n is not None
    assert n >= n0 / (1 - 2 / 12)  # fewer raters too, so more than the share alone
    assert power_at(n, 0.6, share) >= 0.8 > power_at(n0, 0.6, share)
    assert PlanInputs().excluded_share == 0.10


def _panel_votes(seed: int, shill_share: float | None) -> list[Vote]:
    """11 honest raters of varied taste around 55 % for "ai", plus r11: a shill (always "ai") or honest."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(12):
        taste = 0.55 + (0.2 if r == 11 else rng.normal(0, 0.08))
        for i in range(20):
            left = bool(rng.random() < 0.5)
            ai_wins = bool(rng.random() < (shill_share if (r == 11 and shill_share is not None) else taste))
            sl, sr = ("ai", "cat") if left else ("cat", "ai")
            out.append(
                Vote("c", f"r{r:02d}", "spa", f"p{i % 12}", sl, sr, "left" if ai_wins == left else "right")
            )
    return out


def test_panel_check_excludes_a_unanimous_shill_but_not_a_strong_honest_taste():
    from evals.preference.rater_quality import ExclusionRule, rater_quality

    rule = ExclusionRule()
    shill = rater_quality(_panel_votes(5, 1.0), rule)["r11"]
    assert shill.excluded and any("all 20 decisive votes" in r for r in shill.reasons)
    # an honest rater who prefers "ai" 75 % of the time (two taste-SDs out) is kept in nearly every panel
    kept = sum(not rater_quality(_panel_votes(s, None), rule)["r11"].excluded for s in range(40))
    assert kept >= 38
    # fewer than ``unanimous_votes`` decisive votes: unanimity does not judge (the binomial test still may)
    late = rater_quality(_panel_votes(5, 1.0), replace(rule, unanimous_votes=21))["r11"]
    assert all("all 20" not in r for r in late.reasons)


def test_stagewise_interval_falls_back_to_the_fixed_interval_when_no_bound_brackets(monkeypatch):
    """Looks whose tail probability never crosses the target (seen in the validation study) give the fixed t
    interval of all the votes instead of a brentq error that would fail the whole report."""
    from evals.preference import stagewise
    from evals.preference.stagewise import StageLook, stagewise_interval

    monkeypatch.setattr(stagewise, "upper_tail", lambda *args: 1.0)  # flat: no drift reaches any target
    looks = [StageLook(0.50, 0.05, 11, 4.3, 0.5), StageLook(0.56, 0.03, 11, 2.9, 1.0)]
    lo, hi, mid = stagewise_interval(looks, margin=0.45, alpha=0.025)
    half = float(student_t.isf(0.025, 11)) * 0.03
    assert (lo, hi, mid) == pytest.approx((0.56 - half, 0.56 + half, 0.56))
