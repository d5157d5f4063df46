"""The dataset builder's auto-label: the LM fills only empty captions/bpm/key/time signatures, marks what it
filled as estimated (with the LM's name) in the records and the report, and runs only when asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lora.auto_label import Label, understand_labeller
from lora.dataset import DatasetOptions, build_dataset, load_records
from workbench.cli.main import main
from workbench.core.errors import InputError
from workbench.core.keyscale import KEYSCALES
from workbench.services import Workbench

GUESS = Label(caption="warm lo-fi beat", bpm=84, key="D minor", time_signature="4", lm="lm-test@rev1")


class FixedLabeller:
    """Answers every clip with GUESS and records which clips it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, path: Path) -> Label:
        self.asked.append(path.name)
        return GUESS


def manifest(tmp_path: Path, write_clip) -> Path:
    write_clip(tmp_path / "given.wav", 220.0, seed=1)
    write_clip(tmp_path / "empty.wav", 330.0, seed=2)
    path = tmp_path / "tracks.csv"
    path.write_text("file,caption,bpm,key\ngiven.wav,my own caption,92,\nempty.wav,,,\n")
    return path


def test_auto_label_fills_only_empty_fields_and_marks_them_estimated(tmp_path: Path, write_clip) -> None:
    labeller = FixedLabeller()
    options = DatasetOptions(val_fraction=0.0, estimate=False)
    report = build_dataset(manifest(tmp_path, write_clip), tmp_path / "out", options, label=labeller)
    by_file = {Path(r.audio_path).name: r for r in report.records}
    given, empty = by_file["given.wav"], by_file["empty.wav"]
    assert (given.caption, given.bpm) == ("my own caption", 92)  # the user's values stay
    assert (given.key, given.time_signature) == ("D minor", "4")
    assert given.estimated == ["key", "time_signature", "duration_s"] and given.labelled_by == "lm-test@rev1"
    assert (empty.caption, empty.bpm, empty.key) == ("warm lo-fi beat", 84, "D minor")
    assert empty.estimated == ["caption", "bpm", "key", "time_signature", "duration_s"]
    assert sorted(labeller.asked) == ["empty.wav", "given.wav"]

    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {r["source"]: r["labelled_by"] for r in saved["records"]} == {
        s: "lm-test@rev1" for s in (given.source, empty.source)
    }
    assert "(auto-label: lm-test@rev1)" in (tmp_path / "out" / "report.txt").read_text()
    assert {r.labelled_by for r in load_records(tmp_path / "out")} == {"lm-test@rev1"}


def test_without_a_labeller_nothing_is_labelled(tmp_path: Path, write_clip) -> None:
    report = build_dataset(
        manifest(tmp_path, write_clip), None, DatasetOptions(val_fraction=0.0, estimate=False)
    )
    empty = next(r for r in report.records if r.audio_path.endswith("empty.wav"))
    assert (empty.caption, empty.bpm, empty.key, empty.labelled_by) == ("", None, None, "")


def test_a_clip_the_labeller_refuses_keeps_its_values_with_a_warning(tmp_path: Path, write_clip) -> None:
    def refuse(path: Path) -> Label:
        raise InputError("audio", str(path), "too short to understand")

    report = build_dataset(
        manifest(tmp_path, write_clip), None, DatasetOptions(val_fraction=0.0, estimate=False), label=refuse
    )
    assert len(report.records) == 2 and all(not r.labelled_by for r in report.records)
    assert sum("auto-label skipped" in i.reason for i in report.issues) == 2


@pytest.mark.usefixtures("one_torch_thread")
def test_the_tiny_lm_labels_through_the_audio_tokenizer(tmp_path: Path, write_clip, engine, planner) -> None:
    labeller = understand_labeller(engine, planner, "lm-tiny", caption_tokens=6)
    report = build_dataset(
        manifest(tmp_path, write_clip), None, DatasetOptions(val_fraction=0.0, estimate=False), label=labeller
    )
    by_file = {Path(r.audio_path).name: r for r in report.records}
    given, empty = by_file["given.wav"], by_file["empty.wav"]
    assert (given.caption, given.bpm) == ("my own caption", 92)
    assert "caption" not in given.estimated and "bpm" not in given.estimated
    assert 30 <= empty.bpm <= 300 and empty.key in KEYSCALES and {"bpm", "key"} <= set(empty.estimated)
    assert empty.labelled_by.startswith("lm-tiny@local:")
    assert ("caption" in empty.estimated) == bool(empty.caption)  # marked exactly when the LM wrote one


def test_an_unknown_lm_is_refused_before_any_clip_is_read(engine) -> None:
    with pytest.raises(InputError, match="workbench models pull") as err:
        Workbench(engine, None).dataset_labeller("lm-9B")
    assert err.value.field == "lm"


def test_cli_auto_label_is_opt_in_and_checks_the_lm_first(tmp_path: Path, write_clip, capsys) -> None:
    source = manifest(tmp_path, write_clip)
    assert main(["lora", "prepare", str(source), "--out", str(tmp_path / "a"), "--lm", "lm-tiny"]) != 0
    assert "--auto-label" in capsys.readouterr().err
    code = main(
        ["lora", "prepare", str(source), "--out", str(tmp_path / "b"), "--auto-label", "--lm", "lm-9B"]
    )
    assert code != 0 and "workbench models pull" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
