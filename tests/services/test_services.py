"""The Workbench: runs are recorded without touching the engine's result; mastering a run keeps both recipes equal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.audio.mastering import MasteringSpec
from workbench.core.audio_io import SAMPLE_RATE, read_audio
from workbench.core.errors import InputError
from workbench.core.store import Store
from workbench.engine.engine import Engine
from workbench.engine.requests import Extend, Repaint, Text2Music
from workbench.records import load_sidecar, record
from workbench.services import Workbench


@pytest.fixture
def bench(engine: Engine, tmp_path: Path) -> Workbench:
    return Workbench(
        engine, Store(tmp_path / "store.sqlite"), runs_dir=tmp_path / "runs", temp_dir=tmp_path / "ui"
    )


def test_mastering_a_recorded_run_keeps_history_and_the_card_on_one_recipe(bench: Workbench) -> None:
    run = bench.generate(Text2Music(prompt="calm pads", duration_s=2.0, steps=2, seed=3))
    run_id = run.takes[0].run_id
    first = bench.master(bench.source_path(None, run_id), MasteringSpec(target_lufs=-20.0), run_id)
    second = bench.master_run(run_id, MasteringSpec(target_lufs=-16.0, true_peak_dbtp=None))
    assert first.recorded and second.recorded
    assert [first.path.name, second.path.name] == [f"{run_id}_mastered.wav", f"{run_id}_mastered2.wav"]
    assert bench.store is not None
    row = bench.store.get_run(run_id)
    assert row is not None
    history = row.recipe  # what the History tab shows
    card = json.loads(Path(row.sidecar_path).read_text())  # what the Generate card shows
    assert [m["path"] for m in card["mastering"]] == [str(first.path), str(second.path)]
    assert history == card


def test_mastering_an_upload_records_nothing(bench: Workbench, tmp_path: Path, write_tone) -> None:
    src = write_tone(tmp_path / "upload.wav", duration_s=2.0)
    out = bench.master(str(src), MasteringSpec(target_lufs=-20.0))
    assert not out.recorded and out.path.parent.parent == bench.temp_dir
    assert bench.store is not None and bench.store.list_runs() == []


def test_results_are_frozen_and_recording_returns_what_it_wrote(engine: Engine, tmp_path: Path) -> None:
    result = engine.run(Text2Music(prompt="spa", duration_s=1.0, steps=1, seed=5, batch_size=2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.takes[0].seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "cancelled"  # type: ignore[misc]
    store = Store(tmp_path / "s.sqlite")
    written = record(result, tmp_path / "out", "flac", store)
    assert [w.take for w in written] == result.takes
    assert [w.run_id for w in written] == [f"{result.batch_id}_0", f"{result.batch_id}_1"]
    for w in written:
        assert Path(w.path).suffix == ".flac" and load_sidecar(w.sidecar)["run_id"] == w.run_id
        row = store.get_run(w.run_id)
        assert row is not None and row.audio_path == w.path and row.sidecar_path == w.sidecar
    with pytest.raises(InputError, match="output format='ogg'"):
        record(result, tmp_path / "out", "ogg")


@pytest.mark.parametrize(
    ("make", "window_s"),
    [
        (lambda src: Repaint(src=src, start_s=1.0, end_s=2.0, crossfade_ms=50, steps=2, seed=4), (1.0, 2.0)),
        (lambda src: Extend(src=src, side="right", extend_s=1.0, steps=2, seed=4), (3.3, 4.3)),
        (lambda src: Extend(src=src, side="left", extend_s=1.0, steps=2, seed=4), (0.0, 1.0)),
    ],
    ids=["repaint", "extend-right", "extend-left"],
)
def test_edit_carries_its_window_and_checks_preservation(
    bench: Workbench, src_wav: Path, make: Any, window_s: tuple[float, float]
) -> None:
    run = bench.edit(make(str(src_wav)), audio_format="wav")
    assert run.result.edit_window_s == pytest.approx(window_s)
    assert "**bit-identical** to the source" in run.preservation
    np.testing.assert_array_equal(read_audio(run.takes[0].path).samples, run.result.audio.samples)


def test_preservation_check_catches_a_changed_sample(bench: Workbench, src_wav: Path) -> None:
    from workbench.engine.pipeline_args import preservation_report

    run = bench.edit(Repaint(src=str(src_wav), start_s=1.0, end_s=2.0, steps=2, seed=4))
    take = run.result.takes[0]
    samples = take.audio.samples.copy()
    samples[:, SAMPLE_RATE // 2] += 0.25  # outside the window and its crossfades
    broken = dataclasses.replace(
        run.result, takes=[dataclasses.replace(take, audio=dataclasses.replace(take.audio, samples=samples))]
    )
    assert "**NOT identical**" in preservation_report(broken)


def test_text2music_has_no_edit_window(engine: Engine) -> None:
    assert engine.run(Text2Music(prompt="x", duration_s=1.0, steps=1, seed=1)).edit_window_s is None


def test_batch_rows_of_another_model_run_under_the_app_engines_lock(
    bench: Workbench, engine: Engine, tiny_model_dir: Path
) -> None:
    assert bench.batch_engine(engine.model_name) is engine
    other = bench.batch_engine(str(tiny_model_dir))  # the same weights, named as a folder: a second model
    assert other is not engine and other.loaded and other.lock is engine.lock


def test_a_workbench_without_a_model_says_so(tmp_path: Path) -> None:
    from workbench.core.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="no model"):
        Workbench(None, Store(tmp_path / "s.sqlite")).generate(Text2Music(prompt="x", duration_s=1.0))
