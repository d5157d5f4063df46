"""The LM from the command line: generate --think, replay with and without --replan, lm format|sample|understand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli.main import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_generate_think_then_replay_and_replan(tiny_model_dir, planner, tmp_path: Path, capsys) -> None:
    args = ["generate", "--model", "tiny", "--steps", "2", "--duration", "2", "--seed", "4", "--bpm", "100"]
    assert main([*args, "--think", "--lm", "lm-tiny", "--out", str(tmp_path / "a"), "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "plan (lm-tiny): bpm=100" in out and "LM chose:" in out
    sidecar = next((tmp_path / "a").glob("*.json"))
    assert json.loads(sidecar.read_text())["plan"]["plan"]["code_count"] == 10
    assert main(["replay", str(sidecar), "--out", str(tmp_path / "b")]) == 0
    assert "identical to the original" in capsys.readouterr().out
    assert main(["replay", str(sidecar), "--replan", "--out", str(tmp_path / "c")]) == 0
    assert "identical to the original" in capsys.readouterr().out


def test_replan_of_an_unplanned_result_is_a_message(tiny_model_dir, tmp_path: Path, capsys) -> None:
    assert (
        main(["generate", "--model", "tiny", "--steps", "1", "--duration", "1", "--out", str(tmp_path)]) == 0
    )
    sidecar = next(tmp_path.glob("*.json"))
    capsys.readouterr()
    assert main(["replay", str(sidecar), "--replan", "--out", str(tmp_path / "b")]) == 2
    assert "not planned by the LM" in capsys.readouterr().err


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_lm_format_sample_and_understand(tiny_model_dir, planner, capsys, tmp_path: Path, src_wav) -> None:
    small = ["--lm", "lm-tiny", "--caption-tokens", "6", "--lyrics-tokens", "12", "--device", "cpu"]
    assert main(["lm", "format", "--caption", "jazz", "--lyrics", "[verse]\nla", "--bpm", "91", *small]) == 0
    formatted = _json(capsys)
    assert formatted["metadata"]["bpm"] == 91 and "bpm" not in formatted["chosen"]
    assert formatted["caption"] and formatted["lyrics"]
    assert main(["lm", "sample", "a quiet night song", "--instrumental", "--language", "fr", *small]) == 0
    sample = _json(capsys)
    assert sample["lyrics"] == "[Instrumental]" and sample["metadata"]["language"] == "fr"
    assert main(["lm", "understand", "--audio", str(src_wav), "--model", "tiny", *small]) == 0
    understood = _json(capsys)
    assert {"caption", "lyrics", "metadata", "chosen"} <= understood.keys()
    assert main(["lm", "understand", *small]) == 2
    assert "exactly one of --audio FILE or --codes" in capsys.readouterr().err
