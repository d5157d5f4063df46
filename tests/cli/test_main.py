"""The workbench CLI: every subcommand has working --help; generation works for every task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli.main import SUBCOMMAND_MODULES, build_parser, main


def _subcommand_paths() -> list[list[str]]:
    """Every parser path, e.g. ['models', 'pull'], discovered from the real parser."""
    import argparse

    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append(prefix + [name])
                    walk(child, prefix + [name])

    walk(build_parser(), [])
    return found


def test_all_subcommand_modules_register():
    names = {p[0] for p in _subcommand_paths()}
    assert {"generate", "replay", "models", "env"} <= names
    assert len(SUBCOMMAND_MODULES) >= 3


@pytest.mark.parametrize("path", _subcommand_paths(), ids=lambda p: " ".join(p))
def test_help(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    assert "usage: workbench" in capsys.readouterr().out


def test_console_script_help():
    exe = Path(sys.executable).with_name("workbench")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "workbench.cli.main"]
    out = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "generate" in out.stdout


@pytest.mark.parametrize(
    ("args", "seconds"),
    [
        (["--task", "text2music", "--duration", "2"], 2.0),
        (["--task", "repaint", "--start", "1", "--end", "2"], 3.3),
        (["--task", "extend", "--side", "left", "--extend-by", "1"], 4.3),
        (["--task", "cover", "--strength", "0.3"], 3.3),
        (["--task", "lego", "--track", "drums"], 3.3),
        (["--task", "extract", "--track", "vocals"], 3.3),
        (["--task", "complete", "--tracks", "drums,bass"], 3.3),
        (["--task", "audio_codes", "--codes", "<|audio_code_3|>" * 10], 2.0),
    ],
    ids=lambda v: v[1] if isinstance(v, list) else str(v),
)
def test_generate_every_task(tiny_model_dir, src_wav, tmp_path, capsys, args, seconds):
    src = [] if args[1] in ("text2music", "audio_codes") else ["--src", str(src_wav)]
    code = main(
        [
            "generate",
            "--model",
            "tiny",
            "--steps",
            "2",
            "--seed",
            "3",
            "--prompt",
            "spa",
            "--out",
            str(tmp_path),
            *src,
            *args,
        ]
    )
    assert code == 0
    sidecars = list(tmp_path.glob("*.json"))
    assert len(sidecars) == 1
    data = json.loads(sidecars[0].read_text())
    assert data["audio"]["sample_rate"] == 48_000 and data["audio"]["channels"] == 2
    assert data["audio"]["frames"] == round(seconds * 48_000)
    assert data["request"]["seed"] == 3


def test_generate_bad_input_is_a_message_not_a_traceback(capsys, tmp_path):
    code = main(
        ["generate", "--model", "tiny", "--task", "repaint", "--src", "x.wav", "--start", "3", "--end", "2"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: end_s=2.0: must be greater than start_s")
    assert "Traceback" not in err


def test_generate_missing_weights_names_the_command(capsys):
    assert main(["generate", "--model", "turbo", "--prompt", "x"]) == 2
    assert "workbench models pull turbo" in capsys.readouterr().err


def test_replay_cli(tiny_model_dir, tmp_path, capsys):
    assert (
        main(["generate", "--model", "tiny", "--steps", "2", "--duration", "1", "--out", str(tmp_path / "a")])
        == 0
    )
    sidecar = next((tmp_path / "a").glob("*.json"))
    capsys.readouterr()
    assert main(["replay", str(sidecar), "--out", str(tmp_path / "b")]) == 0
    assert "identical to the original" in capsys.readouterr().out


def test_models_commands(tiny_model_dir, capsys):
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "tiny" in listing and "turbo" in listing
    assert main(["models", "check", "tiny", "--load"]) == 0
    assert "loadable offline" in capsys.readouterr().out
    assert main(["models", "check", "turbo"]) == 2


def test_env(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "workbench home" in out


def test_master_a_recorded_run(tiny_model_dir, tmp_path, capsys):
    from workbench.core.store import Store

    assert (
        main(["generate", "--model", "tiny", "--steps", "2", "--duration", "2", "--out", str(tmp_path)]) == 0
    )
    sidecar = next(tmp_path.glob("*.json"))
    run_id = json.loads(sidecar.read_text())["run_id"]
    capsys.readouterr()
    assert main(["master", run_id, "--genre", "spa", "--true-peak", "-2", "--fade-out", "0.5"]) == 0
    mastered = tmp_path / f"{run_id}_mastered.wav"
    assert str(mastered) in capsys.readouterr().out and mastered.is_file()
    data = json.loads(sidecar.read_text())
    spec = data["mastering"][0]["spec"]
    assert (spec["target_lufs"], spec["true_peak_dbtp"], spec["fade_out_s"]) == (-22.0, -2.0, 0.5)
    row = Store().get_run(run_id)
    assert row is not None and row.recipe == data
    assert main(["master", "no-such-run"]) == 2
    assert "run_id='no-such-run': no such run" in capsys.readouterr().err
    assert main(["master", run_id, "--target-lufs", "loud"]) == 2
    assert "target_lufs='loud'" in capsys.readouterr().err
