"""``workbench lora prepare|train|eval|list`` end to end on the tiny model, plus --help for each entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli.main import main


@pytest.mark.parametrize(
    "argv", [["lora"], ["lora", "prepare"], ["lora", "train"], ["lora", "eval"], ["lora", "list"]]
)
def test_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: workbench lora")


def test_prepare_train_eval_list(
    tmp_path: Path, capsys, tiny_model_dir: Path, make_folder, write_sparse_long_wav
) -> None:
    audio = make_folder(tmp_path / "tracks", n=3, duration_s=1.0)
    write_sparse_long_wav(audio / "too_long.wav", 3 * 3600)
    data = tmp_path / "ds"
    assert (
        main(
            [
                "lora",
                "prepare",
                str(audio),
                "--out",
                str(data),
                "--trigger",
                "zzspa",
                "--val-fraction",
                "0.34",
                "--no-estimate",
                "--model",
                "tiny",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "3 clips kept (2 train, 1 validation), 1 rejected" in out
    assert "too_long.wav: is 10800.0 s long" in out
    # --model encodes now; training then finds everything cached
    assert "encoded 3, already cached 0, failed 0" in out

    run = tmp_path / "runs" / "spa-test"
    argv = [
        "lora",
        "train",
        "tiny",
        "--data",
        str(data),
        "--out",
        str(run),
        "--max-steps",
        "4",
        "--set",
        "checkpoint_every=2",
        "--set",
        "preview=false",
        "--set",
        "keep_checkpoints=1",
        "--tracking",
        "off",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "done: 4 steps" in out and "best checkpoint: step" in out
    assert out.count("[preprocess]") == 3 and "encoding" not in out
    best_step = json.loads((run / "summary.json").read_text())["best"]["step"]
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert kept == sorted({f"step-{best_step:06d}", "step-000004"})  # keep 1 newest, and never prune the best

    assert (
        main(["lora", "eval", str(run), "--checkpoint", "final", "--scales", "0,1", "--duration", "1"]) == 0
    )
    out = capsys.readouterr().out
    assert "       4" in out  # the per-checkpoint table
    assert "feature gap to the training clips" in out and "scale 0: " in out and "scale 1: " in out
    sweep = sorted(p.name for p in (run / "sweeps" / "final").glob("*.wav"))
    assert sweep == [
        "p0_seed0_scale0.wav",
        "p0_seed0_scale1.wav",
        "p1_seed0_scale0.wav",
        "p1_seed0_scale1.wav",
    ]

    assert main(["lora", "list", "--root", str(run.parent), "--json", "--checkpoints"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(a["kind"], a["step"]) for a in listed} >= {("final", 4), ("best", best_step), ("checkpoint", 4)}


def test_user_errors_exit_2_with_a_readable_message(tmp_path: Path, capsys) -> None:
    assert main(["lora", "train", "tiny", "--set", "learnig_rate=0.1"]) == 2
    assert "error: learnig_rate=0.1: unknown config key" in capsys.readouterr().err
    assert main(["lora", "train", "tiny", "--max-steps", "2"]) == 2
    assert "error: data=None: give the dataset folder" in capsys.readouterr().err
    assert main(["lora", "train", "tiny", "--data", str(tmp_path)]) == 2
    assert "no dataset here; build one with `workbench lora prepare" in capsys.readouterr().err
    assert main(["lora", "eval", str(tmp_path)]) == 2
    assert "has no checkpoints" in capsys.readouterr().err


def test_prepare_with_a_model_fails_when_no_clip_could_be_encoded(
    tmp_path: Path, capsys, monkeypatch, make_folder
) -> None:
    import lora.dataset

    real_build = lora.dataset.build_dataset

    def build_then_lose_the_audio(*args, **kwargs):  # the clips vanish between listing and encoding
        report = real_build(*args, **kwargs)
        for record in report.records:
            Path(record.audio_path).unlink()
        return report

    monkeypatch.setattr(lora.dataset, "build_dataset", build_then_lose_the_audio)
    audio = make_folder(tmp_path / "tracks", n=2, duration_s=1.0)
    argv = ["lora", "prepare", str(audio), "--out", str(tmp_path / "ds"), "--no-estimate", "--model", "tiny"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "encoded 0, already cached 0, failed 2" in captured.out
    assert "no clip could be encoded for tiny; fix the errors above" in captured.err
