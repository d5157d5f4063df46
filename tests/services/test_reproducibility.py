"""Same request + seed gives identical bytes; a sidecar replays its file; records land in the store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.core.store import Store
from workbench.engine.engine import Engine
from workbench.engine.requests import Repaint, Text2Music
from workbench.records import load_sidecar, replay
from workbench.services import Workbench


@pytest.fixture
def recorded_engine(engine, tmp_path):
    store = Store(tmp_path / "store.sqlite")
    eng = Engine("tiny", pipeline=engine.pipeline, model_info=engine.info)
    return Workbench(eng, store, runs_dir=tmp_path / "out"), store


def test_same_request_and_seed_identical_bytes(recorded_engine):
    bench, _ = recorded_engine
    request = Text2Music(prompt="hotel lobby jazz", duration_s=2.0, steps=3, seed=42)
    a = bench.generate(request).takes[0]
    b = bench.generate(request).takes[0]
    assert a.path != b.path
    assert Path(a.path).read_bytes() == Path(b.path).read_bytes()


def test_source_task_is_reproducible(recorded_engine, src_wav):
    bench, _ = recorded_engine
    request = Repaint(src=str(src_wav), start_s=0.5, end_s=1.5, steps=2, seed=9)
    a = bench.engine.run(request).audio.samples
    b = bench.engine.run(request).audio.samples
    np.testing.assert_array_equal(a, b)


def test_replay_from_sidecar_reproduces_each_take(recorded_engine):
    bench, store = recorded_engine
    run = bench.generate(Text2Music(prompt="spa", duration_s=1.5, steps=2, batch_size=2))  # random seed
    result, recorded = run.result, run.takes[1]
    take = recorded.take
    sidecar = load_sidecar(recorded.sidecar)
    assert sidecar["seed"] == take.seed and sidecar["request"]["seed"] == result.request.seed
    assert sidecar["model"]["revision"].startswith("local:") and sidecar["versions"]["torch"]
    again, index = replay(recorded.sidecar, bench.engine)
    np.testing.assert_array_equal(again.takes[index].audio.samples, take.audio.samples)
    rows = store.list_runs()
    assert {r.id for r in rows} == {t.run_id for t in run.takes}
    assert json.loads(rows[0].recipe_json)["request"]["prompt"] == "spa"


def test_store_filters_and_delete(recorded_engine):
    bench, store = recorded_engine
    bench.generate(Text2Music(prompt="lobby piano", genre="hotel_lobby", duration_s=1.0, steps=1, seed=1))
    bench.generate(Text2Music(prompt="bright pop", genre="retail", duration_s=1.0, steps=1, seed=2))
    assert [r.prompt for r in store.list_runs(genre="retail")] == ["bright pop"]
    assert [r.prompt for r in store.list_runs(text="PIANO")] == ["lobby piano"]
    row = store.list_runs(genre="retail")[0]
    assert store.delete_run(row.id)
    assert store.get_run(row.id) is None
    assert not (bench.runs_dir / f"{row.id}.wav").exists()


def test_store_schema_is_versioned(tmp_path):
    from workbench.core.migrations import MIGRATIONS

    store = Store(tmp_path / "s.sqlite")
    assert store.schema_version() == len(MIGRATIONS)
    # reopening applies nothing twice
    again = Store(tmp_path / "s.sqlite")
    names = [r[0] for r in again.connect().execute("SELECT name FROM schema_migrations")]
    assert names == [m[0] for m in MIGRATIONS]
    assert again.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
