"""Campaign systems with the 5 Hz LM: "tiny + LM" against "tiny alone" in one campaign, and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import records
from workbench.campaigns import db
from workbench.campaigns.config import config_from_dict
from workbench.campaigns.stimuli import create_campaign
from workbench.core.errors import ConfigError
from workbench.core.store import Store


@pytest.mark.slow
def test_two_systems_that_differ_only_in_think_build(
    tmp_path: Path, engine, planner, campaign_dict, one_torch_thread
) -> None:
    store = Store(tmp_path / "store.sqlite")
    data = campaign_dict(
        tmp_path / "imports",
        name="think-vs-plain",
        prompts=2,
        takes=2,
        quota=2,
        gold_rate=0.0,
        repeat_rate=0.0,
    )
    base = {"model": "tiny", "params": {"steps": 2}, "seed": 7}
    data["systems"] = [{"name": "plain", **base}, {"name": "planned", **base, "think": True, "lm": "lm-tiny"}]
    data["prompts"] = [{"id": "p0", "caption": "calm pads"}, {"id": "p1", "caption": "soft harp"}]
    config = config_from_dict(data)
    assert [s.thinks for s in config.systems] == [False, True]
    create_campaign(store, config, engine_for=lambda model: engine, log=lambda m: None, planner=planner)
    clips = db.load_clips(store, config.name)
    by_system = {name: [c for c in clips if c.system == name] for name in ("plain", "planned")}
    assert len(by_system["plain"]) == 4 and len(by_system["planned"]) == 4
    seeds = []
    for clip in by_system["planned"]:
        run = store.get_run(clip.run_id)
        sidecar = records.load_sidecar(run.sidecar_path)
        assert sidecar["request"]["task"] == "audio_codes"
        assert sidecar["plan"]["plan"]["lm"]["name"] == "lm-tiny"
        assert sidecar["plan"]["think_request"]["prompt"] == run.prompt
        seeds.append(sidecar["plan"]["plan"]["seed"])
    assert sorted(seeds) == [7, 8, 1007, 1008]  # each take planned with its own seed
    assert sorted(c.take for c in by_system["planned"]) == [0, 0, 1, 1]
    for clip in by_system["plain"]:
        assert "plan" not in records.load_sidecar(store.get_run(clip.run_id).sidecar_path)


def test_an_unknown_lm_and_think_on_an_import_are_config_errors(tmp_path: Path, campaign_dict) -> None:
    data = campaign_dict(tmp_path / "imports", name="bad-lm")
    data["systems"][0] = {"name": "gen", "model": "tiny", "lm": "lm-9B"}
    with pytest.raises(ConfigError, match="workbench models pull") as err:
        config_from_dict(data)
    assert err.value.field.endswith(".lm")
    data = campaign_dict(tmp_path / "imports2", name="bad-import")
    data["systems"][0] = {**data["systems"][0], "think": True}
    with pytest.raises(ConfigError, match="only generated systems"):
        config_from_dict(data)
