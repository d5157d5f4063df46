"""Validation study of the A/B decision: simulated campaigns with known truth through the real code.

What is real: the pair schedule (``workbench.campaigns.schedule.Planner`` with a validated ``CampaignConfig``:
balance, side balancing, gold and swapped-repeat positions), the screening (``apply_exclusion``), the decision
(``decide`` with the group-sequential design and the two-way clustered statistic) and the votes-needed table
(``evals.preference.plan``) that sets each campaign's size. What is simulated: the listeners.

Listener model (an honest rater): on a trial of the candidate ("ai") against the baseline ("catalogue") the
decisive answer favours the candidate with probability logistic(beta + u_rater + v_prompt + e_ai_clip - e_cat_clip
+/- position bias), ties come at a constant rate, and every answer is a fresh draw: a swapped repeat is judged
again, not copied. beta is solved so that the population win rate (ties half, averaged over raters, prompts, clips
and sides) equals the true p. Gold trials: an honest rater misses with a 3 % lapse rate. Careless raters: random
(45/45/10 left/right/tie on everything), always-left, and a shill (always picks the candidate, passes gold).

How a campaign is read: the organiser re-runs the report at 8 evenly spaced moments of the campaign (screening on
the votes so far, then ``decide``), stops at the first PASS or FAIL, and reads it a last time when the campaign
closes. Between planned looks a re-run changes nothing, so these reads are the "continuous looks at the planned
interim analyses" of the design.

Per cell it prints: false PASS at the margin (p = 0.45) with and without screening, and the share that the careless
raters' votes made (the PASS does not stand on the honest votes of that read alone), power at the planning effect
with the table's n, coverage of the reported interval at the moment of reading (both p; the stage-wise interval
after a stop) and of the repeated interval of that look, coverage of the fixed-n two-way t interval read once at
the end, the share of campaigns the rule refuses to judge, exclusion rates per
rater kind, and the median head-to-head votes to a decision. Monte-Carlo standard errors are shown for the rates.

Run: ``.venv/bin/python benchmarks/decision_validity.py [--campaigns 300] [--cells NAME ...] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evals.preference.decision import decide  # noqa: E402
from evals.preference.decision_rule import FAIL, PASS, DecisionRule  # noqa: E402
from evals.preference.plan import PlanInputs, votes_for_rule  # noqa: E402
from evals.preference.preference import Vote  # noqa: E402
from evals.preference.rater_quality import apply_exclusion  # noqa: E402
from workbench.campaigns.config import CampaignConfig, PromptSpec, RaterSpec, SystemSpec  # noqa: E402
from workbench.campaigns.schedule import ClipRef, PairChoice, Planner  # noqa: E402

MARGIN = 0.45
CANDIDATE, BASELINE = "ai", "catalogue"
SCHEDULES = 12  # distinct real schedules per cell, reused across campaigns (answers never change a schedule)
READS = 8
_START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)


@dataclass(frozen=True)
class Cell:
    name: str
    raters: int = 12
    prompts: int = 12
    clips_per_prompt: int = 2
    rater_sd: float = 0.5  # logit scale
    prompt_sd: float = 0.4
    clip_sd: float = 0.25
    left_bias: float = 0.3  # logit added for the clip on the left
    tie_rate: float = 0.10
    lapse: float = 0.03
    careless: tuple[str, ...] = ()  # kinds of the first raters: "random", "left", "shill"
    planning_win_rate: float = 0.60
    looks: int = 4
    min_raters: int = 10
    min_prompts: int = 10
    votes_per_rater: int | None = None  # None: from the votes-needed table
    expected_excluded: float = 0.10  # the share of raters the organiser plans to lose to screening
    seed: int = 0


CELLS = {
    c.name: c
    for c in (
        Cell("12r x 12p, rater+prompt+position"),
        Cell("12r x 12p + 2 careless (random, left)", careless=("random", "left"), expected_excluded=2 / 12),
        Cell("12r x 12p + shill", careless=("shill",)),
        Cell("12r x 12p, 40 % ties", tie_rate=0.4),
        Cell("30r x 20p, plan for 0.55", raters=30, prompts=20, planning_win_rate=0.55),
        Cell("8r x 8p (below the minimum)", raters=8, prompts=8, votes_per_rater=45),
        Cell(
            "8r x 8p, minimum lowered to 8",
            raters=8,
            prompts=8,
            min_raters=8,
            min_prompts=8,
            votes_per_rater=45,
        ),
    )
}


# --- truth ----------------------------------------------------------------------------------------------------
def _total_sd(cell: Cell) -> float:
    return math.sqrt(cell.rater_sd**2 + cell.prompt_sd**2 + 2 * cell.clip_sd**2)


def population_rate(beta: float, cell: Cell) -> float:
    """Win rate (ties half) over raters, prompts, clips and both sides (Gauss-Hermite over the total effect)."""
    s = _total_sd(cell)
    w = _GH_W / _GH_W.sum()
    decisive = 0.5 * float(
        np.sum(w * expit(beta + cell.left_bias + s * _GH_X))
        + np.sum(w * expit(beta - cell.left_bias + s * _GH_X))
    )
    return cell.tie_rate / 2 + (1 - cell.tie_rate) * decisive


def beta_for(p: float, cell: Cell) -> float:
    return float(brentq(lambda b: population_rate(b, cell) - p, -10, 10, xtol=1e-10))


def score_iccs(cell: Cell, p: float, draws: int = 20_000, seed: int = 12345) -> tuple[float, float]:
    """Rater and prompt ICCs of the vote score implied by the listener model: Var(E[score | rater]) / Var(score),
    the inner expectation by quadrature over everything else, the outer variance over a fixed-seed sample."""
    rng = np.random.default_rng(seed)
    beta = beta_for(p, cell)
    total = p - p * p - cell.tie_rate / 4  # variance of one score
    w = _GH_W / _GH_W.sum()

    def cond_var(sd: float, rest_sd: float) -> float:
        grid = rng.normal(0, sd, draws)[:, None] + rest_sd * _GH_X[None, :]
        dec = 0.5 * (expit(beta + cell.left_bias + grid) + expit(beta - cell.left_bias + grid)) @ w
        return float(np.var((1 - cell.tie_rate) * dec))

    # a prompt's votes share its clips too: averaged over clips_per_prompt takes per system, the clip effects act
    # at the prompt level with variance 2 * clip_sd^2 / clips (the rest varies within the prompt)
    clip_var = 2 * cell.clip_sd**2
    prompt_var = cell.prompt_sd**2 + clip_var / cell.clips_per_prompt
    rater = cond_var(cell.rater_sd, math.sqrt(prompt_var + clip_var * (1 - 1 / cell.clips_per_prompt)))
    prompt = cond_var(
        math.sqrt(prompt_var), math.sqrt(cell.rater_sd**2 + clip_var * (1 - 1 / cell.clips_per_prompt))
    )
    return rater / total, prompt / total


# --- the real schedule ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """Trials in serving order, as arrays (one row per served pair)."""

    rater: np.ndarray
    prompt: np.ndarray
    ai_clip: np.ndarray  # take index of the candidate's clip (0..clips-1); -1 for gold
    cat_clip: np.ndarray
    ai_left: np.ndarray  # bool
    gold: np.ndarray  # bool
    gold_left: np.ndarray  # bool: the intact clip is on the left
    repeat_of: np.ndarray  # row index of the original, -1 if none
    config: CampaignConfig = field(repr=False)


def campaign_config(cell: Cell, votes_per_rater: int, seed: int) -> CampaignConfig:
    config = CampaignConfig(
        name=f"study-{seed}",
        genre="spa",
        systems=[
            SystemSpec(CANDIDATE, import_dir="/nonexistent/ai", mapping_csv="m.csv"),
            SystemSpec(BASELINE, import_dir="/nonexistent/catalogue", mapping_csv="m.csv"),
        ],
        prompts=[PromptSpec(f"p{i:02d}") for i in range(cell.prompts)],
        raters=[RaterSpec(f"r{i:02d}") for i in range(cell.raters)],
        clips_per_prompt=cell.clips_per_prompt,
        votes_per_rater=votes_per_rater,
        seed=seed,
    )
    config.validate()  # the study runs only designs that `campaign create` would accept
    return config


def build_schedule(cell: Cell, votes_per_rater: int, seed: int) -> Schedule:
    config = campaign_config(cell, votes_per_rater, seed)
    clips = [
        ClipRef(f"{s}-{p.id}-{t}", s, p.id, t)
        for s in (CANDIDATE, BASELINE)
        for p in config.prompts
        for t in range(cell.clips_per_prompt)
    ]
    planner = Planner(config, clips, {c.id: f"{c.id}-degraded" for c in clips})
    rng = random.Random(seed)
    served = {r.id: 0 for r in config.raters}
    take = {c.id: c.take for c in clips}
    rows: list[tuple[int, int, int, int, bool, bool, bool, int]] = []
    index: dict[str, int] = {}
    while True:
        waiting = [r for r, n in served.items() if n < votes_per_rater]
        if not waiting:
            break
        rater = rng.choice(waiting)  # raters interleave in time, as in a live campaign
        choice: PairChoice | None = planner.next_pair(rater, served[rater], rng)
        if choice is None:
            served[rater] = votes_per_rater
            continue
        pair_id = f"s{len(rows):06d}"
        planner.observe_served(pair_id, rater, choice)
        planner.observe_answer(pair_id, rater, choice, "tie")  # outcomes never steer a non-adaptive schedule
        served[rater] += 1
        index[pair_id] = len(rows)
        r_i, p_i = int(rater[1:]), int(choice.prompt_id[1:])
        if choice.is_gold:
            rows.append((r_i, p_i, -1, -1, False, True, choice.gold_expected == "left", -1))
            continue
        ai_left = choice.system_left == CANDIDATE
        ai = choice.clip_left if ai_left else choice.clip_right
        cat = choice.clip_right if ai_left else choice.clip_left
        rep = index[choice.repeat_of] if choice.repeat_of else -1
        rows.append((r_i, p_i, take[ai], take[cat], ai_left, False, False, rep))
    cols = list(zip(*rows, strict=True))
    return Schedule(
        rater=np.array(cols[0]),
        prompt=np.array(cols[1]),
        ai_clip=np.array(cols[2]),
        cat_clip=np.array(cols[3]),
        ai_left=np.array(cols[4], dtype=bool),
        gold=np.array(cols[5], dtype=bool),
        gold_left=np.array(cols[6], dtype=bool),
        repeat_of=np.array(cols[7]),
        config=config,
    )


# --- listeners ------------------------------------------------------------------------------------------------
def answers(sched: Schedule, cell: Cell, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Outcome codes per trial: 0 left, 1 right, 2 tie (vectorised over the whole campaign)."""
    n = sched.rater.size
    u = rng.normal(0, cell.rater_sd, cell.raters)
    v = rng.normal(0, cell.prompt_sd, cell.prompts)
    e_ai = rng.normal(0, cell.clip_sd, (cell.prompts, cell.clips_per_prompt))
    e_cat = rng.normal(0, cell.clip_sd, (cell.prompts, cell.clips_per_prompt))
    ai_c, cat_c = np.maximum(sched.ai_clip, 0), np.maximum(sched.cat_clip, 0)
    side = np.where(sched.ai_left, 1.0, -1.0)
    eta = (
        beta
        + u[sched.rater]
        + v[sched.prompt]
        + e_ai[sched.prompt, ai_c]
        - e_cat[sched.prompt, cat_c]
        + side * cell.left_bias
    )
    tie = rng.random(n) < cell.tie_rate
    ai_wins = rng.random(n) < expit(eta)
    left = np.where(sched.ai_left, ai_wins, ~ai_wins)
    out = np.where(tie, 2, np.where(left, 0, 1))
    lapse = rng.random(n) < cell.lapse
    gold_ok = np.where(lapse, np.where(sched.gold_left, 1, 0), np.where(sched.gold_left, 0, 1))
    out = np.where(sched.gold, gold_ok, out)
    for i, kind in enumerate(cell.careless):
        mine = sched.rater == i
        if kind == "random":
            out[mine] = rng.choice(3, size=int(mine.sum()), p=[0.45, 0.45, 0.10])
        elif kind == "left":
            out[mine] = 0
        elif kind == "shill":
            regular = mine & ~sched.gold
            out[regular] = np.where(sched.ai_left[regular], 0, 1)
    return out


_OUTCOME = ("left", "right", "tie")


def to_votes(sched: Schedule, out: np.ndarray) -> list[Vote]:
    votes = []
    for i in range(sched.rater.size):
        gold = bool(sched.gold[i])
        if gold:
            left, right = CANDIDATE, CANDIDATE
        else:
            left, right = (CANDIDATE, BASELINE) if sched.ai_left[i] else (BASELINE, CANDIDATE)
        votes.append(
            Vote(
                "study",
                f"r{sched.rater[i]:02d}",
                "spa",
                f"p{sched.prompt[i]:02d}",
                left,
                right,
                _OUTCOME[out[i]],
                pair_id=f"s{i:06d}",
                is_gold=gold,
                gold_expected=("left" if sched.gold_left[i] else "right") if gold else None,
                repeat_of=f"s{sched.repeat_of[i]:06d}" if sched.repeat_of[i] >= 0 else None,
                created_at=(_START + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )
    return votes


# --- one campaign, read as an organiser would -------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignRun:
    verdict: str
    covered: bool  # the interval reported at the reading that ended the campaign contains the truth
    repeated_covered: bool  # the repeated confidence interval of that look (the sequential design's extra)
    fixed_covered: bool  # fixed-n two-way t interval on all kept votes, read once at the end
    verdict_unscreened: str
    refused: bool  # too few raters or prompts for any verdict
    votes: int  # head-to-head votes at the deciding look
    excluded: tuple[bool, ...]  # per rater, at the end
    careless_made_pass: bool = False  # PASS at a read that, without the careless raters' votes, does not pass


def run_campaign(
    sched: Schedule, cell: Cell, p: float, rule: DecisionRule, seed: Sequence[int]
) -> CampaignRun:
    rng = np.random.default_rng(seed)
    votes = to_votes(sched, answers(sched, cell, beta_for(p, cell), rng))
    n_all = len(votes)
    cuts = [round(n_all * (k + 1) / READS) for k in range(READS)]

    def read(upto: int, screened: bool, final: bool) -> tuple[str, object, list[bool]]:
        part = votes[:upto]
        if screened:
            kept, quality = apply_exclusion(part, rule.exclusion)
            excl = [
                quality[f"r{i:02d}"].excluded if f"r{i:02d}" in quality else False for i in range(cell.raters)
            ]
        else:
            kept, excl = part, [False] * cell.raters
        d = decide(kept, candidate=CANDIDATE, baseline=BASELINE, genre="spa", rule=replace(rule, final=final))
        return d.verdict, d, excl

    verdict, decision, excluded = "", None, [False] * cell.raters
    stop_at, stop_final = n_all, True
    for k, upto in enumerate(cuts):
        verdict, decision, excluded = read(upto, True, k == READS - 1)
        stop_at, stop_final = upto, k == READS - 1
        if verdict in (PASS, FAIL):
            break
    careless_made_pass = False
    if verdict == PASS and cell.careless:
        # the same read with the careless raters' votes taken out: does the PASS stand on the honest votes alone?
        careless = {f"r{i:02d}" for i in range(len(cell.careless))}
        honest = [v for v in apply_exclusion(votes[:stop_at], rule.exclusion)[0] if v.rater not in careless]
        alone = decide(
            honest, candidate=CANDIDATE, baseline=BASELINE, genre="spa", rule=replace(rule, final=stop_final)
        )
        careless_made_pass = alone.verdict != PASS
    unscreened = ""
    for k, upto in enumerate(cuts):
        unscreened = read(upto, False, k == READS - 1)[0]
        if unscreened in (PASS, FAIL):
            break
    _, _, final_excl = read(n_all, True, True)
    h = decision.head_to_head  # type: ignore[attr-defined]
    kept, _ = apply_exclusion(votes, rule.exclusion)
    fixed = decide(
        kept, candidate=CANDIDATE, baseline=BASELINE, genre="spa", rule=replace(rule, interval="fixed")
    )
    fh = fixed.head_to_head
    refused = h.raters < rule.min_raters or h.prompts < rule.min_prompts
    deciding = next((x.votes for x in h.looks if x.crossed_up or x.crossed_down), h.votes)
    return CampaignRun(
        verdict=verdict,
        covered=h.ci_low <= p <= h.ci_high,
        repeated_covered=(h.repeated_low <= p <= h.repeated_high) if math.isfinite(h.repeated_low) else True,
        fixed_covered=fh.ci_low <= p <= fh.ci_high,
        verdict_unscreened=unscreened,
        refused=refused,
        votes=deciding,
        excluded=tuple(final_excl),
        careless_made_pass=careless_made_pass,
    )


# --- a cell ---------------------------------------------------------------------------------------------------
def plan_for(cell: Cell) -> tuple[int, int, PlanInputs]:
    """(planned head-to-head votes, quota per rater, plan inputs) from the votes-needed table."""
    rho_r, rho_p = score_iccs(cell, cell.planning_win_rate)
    inputs = PlanInputs(
        margin=MARGIN,
        tie_rate=cell.tie_rate,
        rater_icc=rho_r,
        prompt_icc=rho_p,
        raters=cell.raters,
        prompts=cell.prompts,
        looks=cell.looks,
        excluded_share=cell.expected_excluded,
    )
    planned = votes_for_rule(cell.planning_win_rate, inputs)
    probe = campaign_config(cell, 30, 0)
    gold, repeats = probe.check_trials
    if cell.votes_per_rater is not None:
        quota = cell.votes_per_rater
        planned = planned or (quota - gold) * cell.raters
    else:
        if planned is None:
            raise SystemExit(
                f"{cell.name}: the plan says no number of votes reaches the power with these raters"
            )
        # every rater's head-to-head votes (regular + repeats) must reach the planned count: the table already
        # asks for the votes that the raters expected to be screened out will not contribute
        quota = math.ceil(planned / cell.raters) + gold
        # campaign create refuses a quota whose checks exceed 60 %: raise it to the smallest one accepted
        quota = max(quota, math.ceil((gold + repeats) / 0.6))
    return int(planned), int(quota), inputs


def rule_for(cell: Cell, planned: int) -> DecisionRule:
    return DecisionRule(
        min_win_rate=MARGIN,
        min_delivery_pass_rate=None,
        looks=cell.looks,
        # the looks are counted on the votes that survive screening
        planned_votes=max(1, round(planned * (1 - cell.expected_excluded))),
        planning_win_rate=cell.planning_win_rate,
        min_raters=cell.min_raters,
        min_prompts=cell.min_prompts,
    )


@dataclass
class CellResult:
    cell: Cell
    planned: int
    quota: int
    campaigns: int
    rows: dict[float, list[CampaignRun]]
    seconds: float


def _chunk(args: tuple[Cell, float, int, int, int, int]) -> list[CampaignRun]:
    cell, p, start, stop, planned, quota = args
    rule = rule_for(cell, planned)
    scheds = [build_schedule(cell, quota, cell.seed * 1000 + s) for s in range(SCHEDULES)]
    return [
        run_campaign(scheds[i % SCHEDULES], cell, p, rule, seed=(cell.seed, round(p * 1000), i))
        for i in range(start, stop)
    ]


def run_cell(cell: Cell, campaigns: int, jobs: int = 1) -> CellResult:
    t0 = time.perf_counter()
    planned, quota, _ = plan_for(cell)
    rows: dict[float, list[CampaignRun]] = {}
    for p in (MARGIN, cell.planning_win_rate):
        bounds = np.linspace(0, campaigns, jobs + 1).astype(int)
        parts = [(cell, p, int(a), int(b), planned, quota) for a, b in zip(bounds, bounds[1:], strict=False)]
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                rows[p] = [o for chunk in pool.map(_chunk, parts) for o in chunk]
        else:
            rows[p] = [o for part in parts for o in _chunk(part)]
    return CellResult(cell, planned, quota, campaigns, rows, time.perf_counter() - t0)


def _rate(flags: Sequence[bool]) -> str:
    n = len(flags)
    if n == 0:
        return "–"
    x = sum(flags) / n
    return f"{x:.1%} ± {math.sqrt(max(x * (1 - x), 1 / n) / n):.1%}"


def summary(res: CellResult) -> dict[str, str]:
    cell = res.cell
    null, alt = res.rows[MARGIN], res.rows[cell.planning_win_rate]
    both = null + alt
    kinds = ["honest"] * (cell.raters - len(cell.careless))
    kinds = list(cell.careless) + kinds
    excl: dict[str, list[bool]] = {}
    for o in both:
        for kind, flag in zip(kinds, o.excluded, strict=True):
            excl.setdefault(kind, []).append(flag)
    decided = [o.votes for o in alt if o.verdict == PASS]
    return {
        "cell": cell.name,
        "n plan / quota": f"{res.planned} / {res.quota}",
        "false PASS @0.45": _rate([o.verdict == PASS for o in null]),
        "… unscreened": _rate([o.verdict_unscreened == PASS for o in null]),
        "… owing to careless": _rate([o.careless_made_pass for o in null]) if cell.careless else "–",
        "power @plan": _rate([o.verdict == PASS for o in alt]),
        "coverage (read)": _rate([o.covered for o in both]),
        "coverage (repeated)": _rate([o.repeated_covered for o in both]),
        "coverage (fixed t)": _rate([o.fixed_covered for o in both]),
        "refused": _rate([o.refused for o in both]),
        "excluded": ", ".join(f"{k} {sum(v) / len(v):.0%}" for k, v in excl.items()),
        "median votes to PASS": str(int(np.median(decided))) if decided else "–",
        "time": f"{res.seconds:.0f} s",
    }


def print_table(rows: list[dict[str, str]]) -> None:
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r[h] for h in header) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--campaigns", type=int, default=300, help="simulated campaigns per cell and true rate")
    ap.add_argument(
        "--cells",
        nargs="*",
        default=None,
        help="cells to run (default all): " + ", ".join(CELLS).replace("%", "%%"),
    )
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = ap.parse_args(argv)
    names = args.cells or list(CELLS)
    unknown = [n for n in names if n not in CELLS]
    if unknown:
        ap.error(f"unknown cell(s) {unknown}; choose from {list(CELLS)}")
    rows = []
    for name in names:
        res = run_cell(CELLS[name], args.campaigns, args.jobs)
        rows.append(summary(res))
        print(f"done: {name} ({res.seconds:.0f} s)", file=sys.stderr, flush=True)
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
