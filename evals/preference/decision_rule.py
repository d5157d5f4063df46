"""The per-genre decision rule: the settings a campaign's report is judged by, loaded from YAML / JSON.

What each field means for PASS / FAIL / NEED MORE VOTES is in evals/preference/decision.py (which applies the
rule) and docs/metrics.md; this module holds the rule alone so that configs, the plan table and the CLI can read
and check it without the decision machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from evals.preference.preference import BothBad
from evals.preference.rater_quality import ExclusionRule
from workbench.core.config import from_mapping, whole
from workbench.core.errors import ConfigError

PASS, FAIL, NEED_MORE_VOTES = "PASS", "FAIL", "NEED MORE VOTES"
IntervalKind = Literal["sequential", "fixed", "anytime"]


@dataclass(frozen=True)
class DecisionRule:
    """When a candidate may replace the baseline in one genre."""

    min_win_rate: float = 0.45  # lower bound of the candidate's win rate vs the baseline must reach this
    min_delivery_pass_rate: float | None = 0.95  # None: delivery is not part of the rule
    confidence: float = 0.95  # two-sided; PASS is a one-sided test at (1 - confidence) / 2
    interval: IntervalKind = "sequential"
    looks: int = 4  # planned analyses of the sequential design (at 1/4, 1/2, 3/4 and all of planned_votes)
    planned_votes: int = 0  # head-to-head votes at the last look; 0: one analysis of the votes there are
    planning_win_rate: float = 0.60  # the effect the campaign was planned for (the plan table)
    futility_power: float = 0.10  # below this conditional power an interim look says PASS is unlikely
    min_votes: int = 30  # below this many head-to-head votes, no verdict either way
    min_raters: int = 10  # fewer raters (or prompts) and the clustered standard error is itself too uncertain
    min_prompts: int = 10
    multiplicity: Literal["holm", "none"] = "holm"  # across the candidates of one genre
    primary: str | None = None  # a pre-declared primary candidate is judged at the full level, alone
    final: bool = (
        False  # the campaign is closed: the last look takes the votes there are, even short of the plan
    )
    both_bad: BothBad = "exclude"
    bootstrap_rounds: int = 1000  # rater bootstrap of the standings (the decision does not resample)
    seed: int = 0
    exclusion: ExclusionRule = field(default_factory=ExclusionRule)
    alpha_share: float = 1.0  # set by the multiplicity procedure: share of the one-sided level this test gets

    @property
    def alpha(self) -> float:
        """One-sided level of the PASS (and of the FAIL) test."""
        return (1.0 - self.confidence) / 2.0 * self.alpha_share

    def validate(self) -> None:
        for name in ("min_win_rate", "planning_win_rate", "futility_power"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                raise ConfigError(f"rule.{name}", value, "must be a share strictly between 0 and 1")
        if self.min_delivery_pass_rate is not None and not 0.0 <= self.min_delivery_pass_rate <= 1.0:
            raise ConfigError(
                "rule.min_delivery_pass_rate", self.min_delivery_pass_rate, "a share in [0, 1] or null"
            )
        if not 0.5 < self.confidence < 1.0:
            raise ConfigError("rule.confidence", self.confidence, "use a level between 0.5 and 1, e.g. 0.95")
        if self.interval not in ("sequential", "fixed", "anytime"):
            raise ConfigError("rule.interval", self.interval, "use 'sequential', 'fixed' or 'anytime'")
        if self.both_bad not in ("exclude", "tie"):
            raise ConfigError("rule.both_bad", self.both_bad, "use 'exclude' or 'tie'")
        if self.multiplicity not in ("holm", "none"):
            raise ConfigError("rule.multiplicity", self.multiplicity, "use 'holm' or 'none'")
        if not 0.0 < self.alpha_share <= 1.0:
            raise ConfigError("rule.alpha_share", self.alpha_share, "a share in (0, 1]")
        whole("rule.min_votes", self.min_votes, 1, error=ConfigError)
        whole("rule.min_raters", self.min_raters, 2, error=ConfigError)
        whole("rule.min_prompts", self.min_prompts, 1, error=ConfigError)
        whole("rule.looks", self.looks, 1, 10, error=ConfigError)
        whole("rule.planned_votes", self.planned_votes, 0, error=ConfigError)
        whole("rule.bootstrap_rounds", self.bootstrap_rounds, 0, error=ConfigError)
        self.exclusion.validate()


def rule_from_dict(data: dict[str, Any]) -> DecisionRule:
    """Build a rule from YAML / JSON; unknown keys fail loudly so a typo cannot silently keep a default."""
    rule = from_mapping(DecisionRule, data, "rule")
    rule.validate()
    return rule
