"""Preference statistics: Bradley–Terry against independent libraries, bootstrap coverage, agreement, screening."""

from __future__ import annotations

import math

import choix
import krippendorff
import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from evals.preference.agreement import agreement, fleiss_kappa, krippendorff_alpha_nominal, recode
from evals.preference.bradley_terry import RATING_SCALE, fit_bradley_terry, to_rating, win_probability
from evals.preference.preference import Vote, score_matrix, standings, standings_by_genre, win_matrix
from evals.preference.rater_quality import ExclusionRule, apply_exclusion, position_bias
from evals.preference.simulate import CampaignSimulation, simulate_votes
from workbench.core.errors import InputError


def _random_comparisons(seed: int, k: int = 5, n: int = 600, tie_rate: float = 0.15):
    """Score matrix (ties half) plus the same votes in choix's format (decisive twice, ties once each way)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.6, k)
    scores = np.zeros((k, k))
    data = []
    rows = []  # (i, j, outcome score of i) for statsmodels
    for _ in range(n):
        i, j = rng.choice(k, 2, replace=False)
        if rng.random() < tie_rate:
            scores[i, j] += 0.5
            scores[j, i] += 0.5
            data += [(i, j), (j, i)]
            rows.append((i, j, 0.5))
        elif rng.random() < 1 / (1 + np.exp(-(theta[i] - theta[j]))):
            scores[i, j] += 1
            data += [(i, j), (i, j)]
            rows.append((i, j, 1.0))
        else:
            scores[j, i] += 1
            data += [(j, i), (j, i)]
            rows.append((i, j, 0.0))
    return scores, data, rows


@pytest.mark.parametrize("prior_sd", [None, 1.0, 0.5])
def test_bradley_terry_matches_choix(prior_sd):
    scores, data, _ = _random_comparisons(seed=1)
    ours = fit_bradley_terry(scores, prior_sd)
    # choix minimises alpha * |theta|^2 + NLL; its data is our likelihood doubled, so alpha = 1 / sd^2.
    alpha = 0.0 if prior_sd is None else 1.0 / prior_sd**2
    ref = choix.opt_pairwise(5, data, alpha=alpha, tol=1e-12)
    np.testing.assert_allclose(ours, ref - ref.mean(), atol=1e-5)
    assert abs(ours.mean()) < 1e-12


def test_bradley_terry_matches_statsmodels_logistic_regression():
    scores, _, rows = _random_comparisons(seed=2, k=4)
    k = 4
    design, y, weights = [], [], []
    for i, j, s in rows:
        x = np.zeros(k)
        x[i], x[j] = 1.0, -1.0
        # a tie is half a win and half a loss: two rows with weight 0.5 each
        for outcome, w in ((1.0, s), (0.0, 1.0 - s)):
            if w > 0:
                design.append(x[:-1])  # drop the last system's column: its strength is the reference 0
                y.append(outcome)
                weights.append(w)
    fit = sm.GLM(
        np.array(y), np.array(design), family=sm.families.Binomial(), freq_weights=np.array(weights)
    ).fit(tol=1e-12)
    ref = np.append(fit.params, 0.0)
    np.testing.assert_allclose(fit_bradley_terry(scores, None), ref - ref.mean(), atol=1e-5)


def test_plain_mle_refuses_a_system_that_never_lost():
    scores = np.array([[0.0, 5.0], [0.0, 0.0]])
    with pytest.raises(InputError, match="prior_sd"):
        fit_bradley_terry(scores, None)
    theta = fit_bradley_terry(scores, 1.0)  # the prior keeps it finite
    assert np.all(np.isfinite(theta)) and theta[0] > theta[1]


def test_rating_scale_is_elo_like():
    ratings = to_rating(np.array([0.0, math.log(4.0)]))  # strength ratio 4 -> P = 0.8
    assert ratings.mean() == pytest.approx(1000.0)
    assert win_probability(ratings[1], ratings[0]) == pytest.approx(0.8)
    assert RATING_SCALE * math.log(4.0) == pytest.approx(240.8, abs=0.1)


TRUE = {"A": 1060.0, "B": 1000.0, "C": 980.0, "D": 900.0}


def _centred(ratings):
    mean = np.mean(list(ratings.values()))
    return {k: v - mean + 1000.0 for k, v in ratings.items()}


def test_rater_bootstrap_intervals_cover_known_strengths():
    truth = _centred(TRUE)
    covered = total = 0
    for seed in range(12):
        spec = CampaignSimulation(
            ratings=TRUE, raters=25, votes_per_rater=40, rater_sd=25, tie_rate=0.15, seed=seed
        )
        st = standings(simulate_votes(spec), rounds=300, seed=seed, prior_sd=2.0).by_system()
        for name, rating in truth.items():
            total += 1
            covered += st[name].ci_low <= rating <= st[name].ci_high
            assert st[name].ci_high - st[name].ci_low < 120  # informative, not just wide
    # 95 % intervals: expect about 46 of 48; allow Monte-Carlo slack but catch a broken interval
    assert covered / total >= 0.85


def test_standings_order_ranks_and_groupings():
    spec = CampaignSimulation(ratings=TRUE, genres=("spa", "retail"), raters=30, votes_per_rater=40, seed=4)
    votes = simulate_votes(spec)
    st = standings(votes, rounds=200)
    assert [s.system for s in st.standings] == ["A", "B", "C", "D"]
    assert st.by_system()["A"].rank == 1 and st.by_system()["D"].rank == 4
    assert st.n_raters == 30 and st.n_votes == len(votes)
    per_genre = standings_by_genre(votes, rounds=50)
    assert set(per_genre) == {"spa", "retail"}
    assert sum(g.n_votes for g in per_genre.values()) == len(votes)


def test_win_matrix_counts_ties_half_and_both_bad_separately():
    votes = [
        Vote("c", "r1", "spa", "p1", "A", "B", "left"),
        Vote("c", "r1", "spa", "p2", "B", "A", "tie"),
        Vote("c", "r2", "spa", "p1", "B", "A", "left"),
        Vote("c", "r2", "spa", "p2", "A", "B", "both_bad"),
    ]
    wm = win_matrix(votes)
    assert wm.systems == ["A", "B"]
    assert wm.win_rate[0, 1] == pytest.approx(1.5 / 3) and wm.votes[0, 1] == 3
    assert win_matrix(votes, both_bad="tie").votes[0, 1] == 4
    assert score_matrix(votes, ["A", "B"]).sum() == pytest.approx(3.0)
    st = standings(votes, rounds=20).by_system()
    assert st["A"].both_bad_rate == pytest.approx(0.25)


def test_krippendorff_alpha_matches_package_with_missing_values():
    rng = np.random.default_rng(5)
    raters, items = 6, 40
    truth = rng.integers(0, 4, items)
    data = np.where(rng.random((raters, items)) < 0.75, truth, rng.integers(0, 4, (raters, items))).astype(
        float
    )
    data[rng.random((raters, items)) < 0.25] = np.nan  # raters skip items
    units = [[str(int(x)) for x in data[:, j] if not np.isnan(x)] for j in range(items)]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha_nominal(units) == pytest.approx(expected, abs=1e-9)


def test_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(6)
    table = rng.multinomial(5, [0.5, 0.3, 0.15, 0.05], size=30)
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss(table), abs=1e-9)


def test_agreement_recodes_by_system_not_screen_side():
    votes = []
    for i, rater in enumerate(["r1", "r2", "r3"]):
        for p in range(6):
            left, right = ("A", "B") if (i + p) % 2 == 0 else ("B", "A")
            chosen = "A" if p % 3 else "B"  # all raters agree per prompt, whatever side it sat on
            outcome = "left" if left == chosen else "right"
            votes.append(Vote("c", rater, "spa", f"p{p}", left, right, outcome, pair_id=f"{rater}-{p}"))
    result = agreement(votes)
    assert result.alpha == pytest.approx(1.0) and result.kappa == pytest.approx(1.0)
    assert result.alpha_items == 6 and result.kappa_raters_per_item == 3
    swapped = [v for v in votes if v.prompt_id == "p0"]
    assert {recode(v) for v in swapped} == {
        (("spa", "p0", "A", "B"), "second")
    }  # sides differ, code is the same
    assert recode(Vote("c", "r", "g", "p", "B", "A", "right"))[1] == "first"


def test_agreement_on_simulated_campaign_matches_package():
    spec = CampaignSimulation(
        ratings={"A": 1100.0, "B": 1000.0, "C": 950.0},
        raters=8,
        votes_per_rater=60,
        prompts_per_genre=4,
        seed=7,
    )
    votes = simulate_votes(spec)
    table = {}
    for v in sorted(votes, key=lambda v: v.created_at):
        item, cat = recode(v)
        table.setdefault(item, {}).setdefault(v.rater, cat)
    items = sorted(table)
    raters = sorted({v.rater for v in votes})
    codes = {"first": 0, "second": 1, "tie": 2, "both_bad": 3}
    data = np.array([[codes[table[it][r]] if r in table[it] else np.nan for it in items] for r in raters])
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert agreement(votes).alpha == pytest.approx(expected, abs=1e-9)


def test_position_bias_is_detected_only_when_present():
    base = dict(ratings={"A": 1000.0, "B": 1000.0, "C": 1000.0}, raters=20, votes_per_rater=30, tie_rate=0.1)
    biased = position_bias(simulate_votes(CampaignSimulation(**base, left_bias=80.0, seed=8)))
    fair = position_bias(simulate_votes(CampaignSimulation(**base, seed=8)))
    assert biased.biased() and biased.p_value < 1e-4 and biased.left_rate > 0.55
    assert not fair.biased() and 0.45 < fair.left_rate < 0.55
    assert fair.ci_low < 0.5 < fair.ci_high


def test_gold_and_repeat_exclusion_rule():
    spec = CampaignSimulation(
        ratings={"A": 1080.0, "B": 1000.0, "C": 960.0},
        raters=12,
        votes_per_rater=80,
        gold_rate=0.25,
        repeat_rate=0.15,
        careless={"r000": "left", "r001": "random"},
        seed=9,
    )
    votes = simulate_votes(spec)
    kept, quality = apply_exclusion(votes)
    assert quality["r000"].excluded and quality["r001"].excluded
    assert any("same screen side" in r for r in quality["r000"].reasons)
    assert any("chose the left clip" in r for r in quality["r000"].reasons)
    assert any("gold trials" in r for r in quality["r001"].reasons)
    assert all(not quality[f"r{i:03d}"].excluded for i in range(2, 12))
    assert {v.rater for v in kept} == {f"r{i:03d}" for i in range(2, 12)}
    assert quality["r000"].position.left_rate == 1.0
    assert quality["r005"].gold_pass_rate > 0.7
    # honest raters re-judge a swapped repeat afresh: system consistency near chance does not exclude them
    assert min(quality[f"r{i:03d}"].repeat_consistency for i in range(2, 12)) < 0.6
    kept_all, _ = apply_exclusion(votes, ExclusionRule(enabled=False))
    assert len(kept_all) == len(votes)
    # below the minimum number of gold trials nobody is judged on gold
    _, lax = apply_exclusion(
        votes, ExclusionRule(min_gold_trials=1000, min_repeats=1000, min_side_votes=1000)
    )
    assert not any(q.excluded for q in lax.values())


def _gold(outcomes: list[str]) -> list[Vote]:
    return [
        Vote(
            "c", "r1", "spa", f"p{i}", "A", "A", outcome, pair_id=f"g{i}", is_gold=True, gold_expected="left"
        )
        for i, outcome in enumerate(outcomes)
    ]


def test_gold_miss_counts_ties_as_misses_and_excludes_on_a_binomial_tail():
    # 8 trials at a stated 10 % lapse rate: P(>= 3 misses) = 0.038 < 0.05 excludes, P(>= 2) = 0.19 does not
    rule = ExclusionRule()
    assert rule.gold_misses_to_exclude(8) == 3
    _, two = apply_exclusion(_gold(["left"] * 6 + ["tie", "right"]))
    assert two["r1"].gold_pass_rate == pytest.approx(0.75) and not two["r1"].excluded
    _, three = apply_exclusion(_gold(["left"] * 5 + ["tie", "right", "both_bad"]))
    assert three["r1"].excluded and "missed 3/8 gold trials (P = 0.038" in three["r1"].reasons[0]
    _, few = apply_exclusion(_gold(["right"] * 7))  # below min_gold_trials: not judged on gold
    assert not few["r1"].excluded and not few["r1"].judged(rule)


def test_repeat_side_check_flags_same_side_answers_not_system_changes():
    votes = []
    for i in range(8):
        first = Vote("c", "r1", "spa", f"p{i}", "A", "B", "left", pair_id=f"o{i}", created_at=f"{i:03d}")
        votes.append(first)
        # the repeat swaps sides; an answer on the same side means the other system
        votes.append(Vote("c", "r1", "spa", f"p{i}", "B", "A", "left", pair_id=f"x{i}", repeat_of=f"o{i}",
                          created_at=f"{i + 100:03d}"))  # fmt: skip
    _, q = apply_exclusion(votes, ExclusionRule(min_side_votes=1000))
    assert q["r1"].repeats_same_side == 8 == q["r1"].repeats_decisive
    assert q["r1"].excluded and "same screen side on 8/8 swapped repeats" in q["r1"].reasons[0]
    flipped = [
        v if v.repeat_of is None else Vote(v.campaign, v.rater, v.genre, v.prompt_id, v.system_left,
                                           v.system_right, "right", v.pair_id, repeat_of=v.repeat_of)
        for v in votes
    ]  # fmt: skip
    _, q = apply_exclusion(flipped, ExclusionRule(min_side_votes=1000))
    assert not q["r1"].excluded and q["r1"].repeat_consistency == 1.0


def test_vote_validation_names_the_field():
    with pytest.raises(InputError, match=r"outcome='A': use one of left, right, tie, both_bad"):
        Vote("c", "r", "spa", "p", "A", "B", "A").validate()
    with pytest.raises(InputError, match="gold_expected"):
        Vote("c", "r", "spa", "p", "A", "A", "left", is_gold=True).validate()
    with pytest.raises(InputError, match="two different systems"):
        Vote("c", "r", "spa", "p", "A", "A", "left").validate()
