"""What a campaign can show before it runs: the votes-needed table for its own decision rule and design.

``campaign create`` (and ``campaign plan``) print it, and warn when the vote target cannot reach the planned power:
a campaign that cannot PASS a good candidate is better changed before raters spend an afternoon on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evals.preference.decision_rule import DecisionRule
from evals.preference.plan import PlanInputs, PlanRow, kept_raters, plan_table, power_at, votes_for_rule
from workbench.campaigns.config import CampaignConfig


@dataclass(frozen=True)
class CampaignPlan:
    inputs: PlanInputs
    planned_votes: int  # head-to-head votes between the candidate and the baseline this campaign will collect
    rows: list[PlanRow]
    warnings: list[str]
    planning_win_rate: float
    needed: int | None  # head-to-head votes for the planned power at the planning win rate

    def lines(self) -> list[str]:
        p = self.inputs
        design = f"group-sequential, {p.looks} looks" if p.looks > 1 else "one fixed analysis"
        out = [
            f"plan: PASS needs the lower end of the win rate's {p.confidence:.0%} interval >= {p.margin:.0%} "
            f"({design}; rater and prompt clustering, {p.raters} raters x {p.prompts} prompts; ties {p.tie_rate:.0%}, "
            f"rater ICC {p.rater_icc:g}, prompt ICC {p.prompt_icc:g}; planned with {p.excluded_share:.0%} of raters "
            f"screened out, {kept_raters(p)} kept)",
            f"  this campaign: about {self.planned_votes} head-to-head votes per candidate against the baseline; "
            f"planned for a true win rate of {self.planning_win_rate:.0%}: "
            + (f"{self.needed} votes needed" if self.needed else "not reachable"),
            "  true win rate | votes needed for 80% power | design effect | power with this campaign",
        ]
        for r in self.rows:
            need = str(r.votes) if r.votes is not None else "unreachable (add raters/prompts)"
            deff = f"{r.design_effect:.2f}" if math.isfinite(r.design_effect) else "-"
            out.append(f"  {r.win_rate:>13.0%} | {need:>26} | {deff:>13} | {r.power_at_target:.0%}")
        out += [f"warning: {w}" for w in self.warnings]
        return out


def planned_head_to_head(config: CampaignConfig) -> int:
    """Head-to-head votes one candidate-baseline pair gets: non-gold votes shared over the system pairs."""
    gold, _ = config.check_trials
    quota = config.votes_per_rater
    pairs = len(config.systems) * (len(config.systems) - 1) // 2
    judged = config.effective_vote_target * (quota - gold) / quota
    return max(1, int(judged / pairs))


def campaign_plan(config: CampaignConfig) -> CampaignPlan:
    spec = config.plan
    inputs = PlanInputs(
        margin=spec.min_win_rate,
        confidence=spec.confidence,
        power=spec.power,
        tie_rate=spec.tie_rate,
        rater_icc=spec.rater_icc,
        prompt_icc=spec.prompt_icc,
        raters=max(2, len(config.raters)),
        prompts=max(2, len(config.prompts)),
        looks=spec.looks if spec.interval == "sequential" else 1,
        excluded_share=spec.excluded_share,
    )
    n = planned_head_to_head(config)
    rows = plan_table(inputs, n)
    warnings = []
    need = votes_for_rule(spec.planning_win_rate, inputs)
    power = power_at(n, spec.planning_win_rate, inputs)
    if need is None:
        warnings.append(
            f"no number of votes reaches {spec.power:.0%} power at a true win rate of {spec.planning_win_rate:.0%} "
            f"with {len(config.raters)} raters and {len(config.prompts)} prompts: rater and prompt variance only "
            "shrink with more raters and prompts"
        )
    elif n < need:
        warnings.append(
            f"vote_target gives about {n} head-to-head votes per candidate, {need} are needed for {spec.power:.0%} "
            f"power at a true win rate of {spec.planning_win_rate:.0%} (power here {power:.0%}): "
            "raise vote_target / votes_per_rater, add raters, or compare fewer systems"
        )
    minimum = DecisionRule().min_raters
    if len(config.raters) < minimum or len(config.prompts) < DecisionRule().min_prompts:
        warnings.append(
            f"{len(config.raters)} raters and {len(config.prompts)} prompts: the report gives no verdict below "
            "10 of each (the clustered standard error is itself too uncertain)"
        )
    elif spec.excluded_share > 0 and kept_raters(inputs) <= minimum:
        # the validation study's 12 raters with 2 careless: one honest rater screened out as well (it happens)
        # leaves 9, and 12 % of those campaigns ended with no verdict (docs/metrics.md)
        warnings.append(
            f"after the planned {spec.excluded_share:.0%} screened out, {kept_raters(inputs)} of "
            f"{len(config.raters)} raters remain, and the report gives no verdict below {minimum}: one more "
            "exclusion blocks the verdict; recruit a few more raters"
        )
    return CampaignPlan(inputs, n, rows, warnings, spec.planning_win_rate, need)
