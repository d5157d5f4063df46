"""Power / sample size against closed forms and statsmodels; SPRT and the confidence sequence by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize

from evals.preference.power import (
    achieved_power,
    design_effect,
    votes_for_half_width,
    votes_needed,
    wilson_interval,
)
from evals.preference.sequential import confidence_sequence, log_e_value, sprt, sprt_bounds
from workbench.core.errors import InputError


def test_votes_needed_matches_the_closed_form_and_statsmodels():
    z_a, z_b = norm.ppf(0.975), norm.ppf(0.8)
    closed = ((z_a * 0.5 + z_b * math.sqrt(0.6 * 0.4)) / 0.1) ** 2  # 193.85
    assert votes_needed(0.6) == math.ceil(closed) == 194
    arcsine = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(0.6, 0.5), alpha=0.05, power=0.8, ratio=0
    )
    assert abs(votes_needed(0.6) - arcsine) <= 1.0
    assert votes_needed(0.6, two_sided=False) == 153
    assert votes_needed(0.55) == 783 and votes_needed(0.65) == 85 and votes_needed(0.7) == 47
    assert votes_needed(0.6, power=0.9) == 259 and votes_needed(0.6, power=0.95) == 319
    # ties carry no direction; clustering inflates variance
    assert votes_needed(0.6, tie_rate=0.2) == math.ceil(closed / 0.8)
    assert votes_needed(0.6, design_effect=design_effect(20, 0.05)) == math.ceil(closed * 1.95)


def test_achieved_power_inverts_votes_needed():
    assert achieved_power(193.85, 0.6) == pytest.approx(0.8, abs=1e-3)
    assert achieved_power(783, 0.55) == pytest.approx(0.8, abs=2e-3)


def test_half_width_and_wilson():
    assert votes_for_half_width(0.05) == math.ceil(norm.ppf(0.975) ** 2 * 0.25 / 0.0025) == 385
    for k, n in ((60, 100), (3, 40), (0, 10), (120, 200)):
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-9)


def test_power_input_errors_name_the_field():
    with pytest.raises(InputError, match="p1=0.5: must differ from p0"):
        votes_needed(0.5)
    with pytest.raises(InputError, match="tie_rate"):
        votes_needed(0.6, tie_rate=1.0)


def test_sprt_bounds_are_walds():
    lower, upper = sprt_bounds(0.05, 0.2)
    assert upper == pytest.approx(math.log(0.8 / 0.05)) == pytest.approx(2.7726, abs=1e-4)
    assert lower == pytest.approx(math.log(0.2 / 0.95)) == pytest.approx(-1.5581, abs=1e-4)


def _runs(p: float, runs: int, length: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((runs, length)) < p).astype(float)


def test_sprt_stops_early_on_a_clear_difference_and_rarely_on_the_null():
    clear = [sprt(row, p0=0.5, p1=0.6) for row in _runs(0.7, 400, 2000, seed=1)]
    assert np.mean([r.decision == "H1" for r in clear]) > 0.95
    assert np.median([r.n for r in clear]) < 60  # a fixed-n design for 60/40 needs 194
    null = [sprt(row, p0=0.5, p1=0.6) for row in _runs(0.5, 2000, 2000, seed=2)]
    false_h1 = np.mean([r.decision == "H1" for r in null])
    assert false_h1 < 0.065  # nominal alpha 0.05 (Wald's bound alpha / (1 - beta) = 0.0625)
    assert all(r.decision != "continue" for r in null)  # it does stop on the null, by accepting H0
    assert np.mean([r.decision == "H0" for r in null]) > 0.9


def test_sprt_counts_a_tie_as_half():
    r = sprt([0.5] * 10, p0=0.5, p1=0.6)
    assert r.llr == pytest.approx(10 * 0.5 * (math.log(1.2) + math.log(0.8)))


def test_confidence_sequence_stays_valid_under_peeking():
    # Look every 20 votes up to 1000 votes: the sequence may exclude the true 0.5 in at most ~5 % of runs.
    runs = _runs(0.5, 300, 1000, seed=3)
    excluded = 0
    for row in runs:
        s = np.cumsum(row)
        for n in range(20, 1001, 20):
            lo, hi = confidence_sequence(s[n - 1], n)
            if not lo <= 0.5 <= hi:
                excluded += 1
                break
    assert excluded / len(runs) <= 0.06


def test_confidence_sequence_is_the_e_value_level_set():
    lo, hi = confidence_sequence(120, 200, alpha=0.05)
    assert log_e_value(120, 200, lo) == pytest.approx(math.log(20), abs=1e-6)
    assert log_e_value(120, 200, hi) == pytest.approx(math.log(20), abs=1e-6)
    w_lo, w_hi = wilson_interval(120, 200)
    assert lo < w_lo and hi > w_hi  # the price of validity at every n
    assert 0.45 < lo < 0.5 and 0.7 < hi < 0.72
