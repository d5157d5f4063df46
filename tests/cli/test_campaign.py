"""`workbench campaign ...`: --help for every action, YAML create, status, export, code, config errors."""

from __future__ import annotations

import csv

import pytest
import yaml

from workbench.campaigns.config import load_config
from workbench.cli.main import main
from workbench.core import paths
from workbench.core.errors import ConfigError


@pytest.mark.parametrize(
    "argv",
    [
        ["campaign"],
        ["campaign", "create"],
        ["campaign", "status"],
        ["campaign", "export"],
        ["campaign", "list"],
        ["campaign", "code"],
        ["campaign", "close"],
        ["campaign", "reopen"],
    ],
)
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert "usage: workbench campaign" in capsys.readouterr().out


def test_example_config_loads():
    config = load_config(paths.CONFIG_DIR / "campaigns" / "example.yaml")
    assert config.genre == "spa" and len(config.systems) == 3 and config.systems[2].imported
    assert config.systems[2].import_dir.endswith("configs/campaigns/imports/catalogue")
    assert config.loudness_target() == (-22.0, -2.0)


def test_create_status_export_code_from_yaml(tmp_path, capsys, campaign_dict):
    data = campaign_dict(tmp_path / "imp", name="cli-camp", raters=2)
    data["raters"] = ["ana", {"id": "ben", "code": "ben-secret"}]
    path = tmp_path / "camp.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["campaign", "create", str(path), "--codes-out", str(tmp_path / "codes.csv")]) == 0
    out = capsys.readouterr().out
    assert "campaign cli-camp is open" in out and "ana: " in out and "ben:" not in out  # only generated codes
    assert [row["rater"] for row in csv.DictReader((tmp_path / "codes.csv").open())] == ["ana"]
    assert main(["campaign", "status", "cli-camp"]) == 0
    out = capsys.readouterr().out
    assert "votes 0 / 20" in out and "alphasys 8" in out and "ana 0/10" in out
    assert main(["campaign", "export", "cli-camp", "--out", str(tmp_path / "v.csv")]) == 0
    assert "0 votes written" in capsys.readouterr().out
    assert main(["campaign", "list"]) == 0
    assert "cli-camp" in capsys.readouterr().out
    assert main(["campaign", "code", "cli-camp", "ben"]) == 0
    assert capsys.readouterr().out.startswith("ben: ")
    assert main(["campaign", "create", str(path)]) == 2  # the name is taken
    assert "a campaign with this name exists" in capsys.readouterr().err


def test_unknown_and_bad_keys_are_reported(tmp_path, capsys, campaign_dict):
    data = campaign_dict(tmp_path / "imp", name="cli-bad")
    data["gold_rat"] = 0.2
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["campaign", "create", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error: campaign.gold_rat=0.2: unknown key; allowed:" in err and "gold_rate" in err
    for key, value, message in (
        ("genre", "disco", "genre='disco': choose one of"),
        ("gold_rate", 0.9, "gold_rate=0.9: must be between 0 and 0.5"),
        ("systems", [], "systems=0: a blind A/B campaign needs at least 2 systems"),
    ):
        data = campaign_dict(tmp_path / "imp", name="cli-bad")
        data[key] = value
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
            load_config(path)
    data = campaign_dict(tmp_path / "imp", name="cli-bad")
    data["systems"][0]["lora_sacle"] = 0.5
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"systems\[0\]\.lora_sacle=0\.5: unknown key"):
        load_config(path)
    assert main(["campaign", "status", "nope"]) == 2
    assert "campaign='nope': no such campaign" in capsys.readouterr().err


def test_rater_server_help():
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "workbench.cli.main", "app", "--help"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--campaign" in out.stdout and "--share" in out.stdout
    assert "{full,rater}" in out.stdout


def test_list_names_a_campaign_whose_config_cannot_be_read(tmp_path, capsys, campaign_dict, monkeypatch):
    """A stored campaign whose config fails to load is listed with the reason; the other campaigns still are."""
    from workbench.core.store import Store

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))  # its own store: the broken row stays here
    data = campaign_dict(tmp_path / "imp", name="good-camp", raters=2)
    path = tmp_path / "camp.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["campaign", "create", str(path)]) == 0
    capsys.readouterr()
    store = Store()
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO campaigns (name, genre, status, config_json, target_lufs, created_at) "
            "VALUES ('broken-camp', 'spa', 'open', '{}', NULL, '2026-01-01T00:00:00Z')"
        )
    assert main(["campaign", "list"]) == 0
    out = capsys.readouterr().out
    assert "good-camp" in out
    assert "broken-camp" in out and "its stored config cannot be read" in out and "genre" in out


def test_close_and_reopen_a_campaign(tmp_path, capsys, campaign_dict):
    from workbench.campaigns import db
    from workbench.cli.eval_report import _rule, _with_campaign_plan
    from workbench.cli.main import build_parser
    from workbench.core.store import Store

    path = tmp_path / "camp.yaml"
    path.write_text(yaml.safe_dump(campaign_dict(tmp_path / "imp", name="cli-close", raters=2)))
    assert main(["campaign", "create", str(path)]) == 0
    capsys.readouterr()
    assert main(["campaign", "reopen", "cli-close"]) == 2
    assert "campaign='cli-close': is already open" in capsys.readouterr().err
    assert main(["campaign", "close", "cli-close"]) == 0
    assert "closed campaign cli-close with 0 vote(s)" in capsys.readouterr().out
    assert db.get_campaign(Store(), "cli-close").status == "closed"
    args = build_parser().parse_args(["eval", "report", "cli-close"])
    assert _with_campaign_plan(_rule(args), args, ["cli-close"]).final  # the last look is final now
    assert main(["campaign", "close", "cli-close"]) == 2
    assert "is already closed" in capsys.readouterr().err
    assert main(["campaign", "close", "no-such"]) == 2
    assert "no such campaign" in capsys.readouterr().err
    assert main(["campaign", "reopen", "cli-close"]) == 0
    assert db.get_campaign(Store(), "cli-close").status == "open"
