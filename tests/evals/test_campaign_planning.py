"""The plan printed at `campaign create` / `campaign plan`: the rule's votes-needed table and its warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.campaigns.config import config_from_dict, load_config
from workbench.campaigns.planning import campaign_plan, planned_head_to_head
from workbench.core.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "campaigns" / "example.yaml"


def _config(raters: int = 16, prompts: int = 12, quota: int = 40, systems: int = 2, **extra):
    return config_from_dict(
        {
            "name": "plan",
            "genre": "spa",
            "systems": [
                {"name": f"s{i}", "import_dir": "/x", "mapping_csv": "m.csv"} for i in range(systems)
            ],
            "prompts": [{"id": f"p{i}"} for i in range(prompts)],
            "raters": [f"r{i}" for i in range(raters)],
            "clips_per_prompt": 2,
            "votes_per_rater": quota,
            **extra,
        }
    )


def test_shipped_example_can_reach_its_planned_power():
    config = load_config(EXAMPLE)
    plan = campaign_plan(config)
    assert plan.needed is not None and plan.planned_votes >= plan.needed
    assert not plan.warnings, plan.warnings
    assert config.check_trials == (8, 7)
    text = "\n".join(plan.lines())
    assert "group-sequential, 4 looks" in text and "16 raters x 12 prompts" in text


def test_head_to_head_votes_share_the_non_gold_votes_over_system_pairs():
    two = _config(raters=12, quota=40)
    assert planned_head_to_head(two) == 12 * 32  # 8 gold trials out; repeats are real judgements
    three = _config(raters=12, quota=40, systems=3)
    assert planned_head_to_head(three) == 12 * 32 // 3


def test_plan_warns_when_the_vote_target_cannot_reach_the_power():
    plan = campaign_plan(_config(raters=12, prompts=12, quota=25, vote_target=120))
    assert any("vote_target gives about" in w and "needed for 80% power" in w for w in plan.warnings)
    few = campaign_plan(_config(raters=6, prompts=4, quota=25))
    assert any("no number of votes reaches" in w for w in few.warnings)
    assert any("no verdict below 10" in w for w in few.warnings)


def test_plan_section_is_validated():
    with pytest.raises(ConfigError, match="plan.planning_win_rate"):
        _config(plan={"planning_win_rate": 0.4})
    with pytest.raises(ConfigError, match="plan.interval"):
        _config(plan={"interval": "weekly"})
    with pytest.raises(ConfigError, match="unknown key"):
        _config(plan={"power_level": 0.9})
    assert _config(plan={"looks": 1, "interval": "fixed"}).plan.looks == 1


def test_campaign_plan_command_prints_the_table(capsys):
    from workbench.cli import main as cli

    assert cli.main(["campaign", "plan", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "votes needed for 80% power" in out and "60%" in out and "warning" not in out


def test_plan_asks_for_the_votes_of_raters_screening_is_expected_to_remove():
    none = campaign_plan(_config(plan={"excluded_share": 0.0}))
    quarter = campaign_plan(_config(plan={"excluded_share": 0.25}))
    assert none.needed is not None and quarter.needed is not None
    assert quarter.needed > none.needed / 0.75  # fewer votes counted and fewer raters left
    text = "\n".join(quarter.lines())
    assert "planned with 25% of raters screened out, 12 kept" in text
    with pytest.raises(ConfigError):
        _config(plan={"excluded_share": 0.9})


def test_plan_warns_when_the_raters_left_after_screening_sit_at_the_minimum():
    edge = campaign_plan(_config(raters=12, plan={"excluded_share": 2 / 12}))
    assert any("10 of 12 raters remain, and the report gives no verdict below 10" in w for w in edge.warnings)
    roomy = campaign_plan(_config(raters=16, plan={"excluded_share": 2 / 12}))
    assert not any("raters remain" in w for w in roomy.warnings)
