"""Think rows in batch plans: a planned row and a plain row in one plan, the plan recorded with the job's sidecar,
the same audio as ``Workbench.generate(..., think=...)``, resume from the recorded plan, and plan validation."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench import records
from workbench.batch import load_plan, run_batch
from workbench.batch import manifest as mf
from workbench.batch.campaign_export import export_for_campaign
from workbench.batch.plan import PlanError
from workbench.batch.runner import PLANS_DIR
from workbench.core.audio_io import read_audio
from workbench.engine.requests import Text2Music, request_from_dict
from workbench.planner.plans import ThinkOptions
from workbench.services import Workbench

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HEAD = "model: tiny\nqc: {analyzer: basic}\nexport: {master: false}\ndefaults: {duration_s: 2, steps: 2}\n"


def plan_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(HEAD + body)
    return path


class CountingPlanner:
    """Wraps the session planner and counts ``plan`` calls."""

    def __init__(self, planner: Any) -> None:
        self.planner, self.calls = planner, 0

    def plan(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        return self.planner.plan(*args, **kw)


def test_a_think_row_and_a_plain_row_both_render_and_the_think_row_matches_generate(
    tmp_path: Path, engine: Any, planner: Any
) -> None:
    plan = load_plan(
        plan_file(
            tmp_path,
            "entries:\n  - {prompt: calm piano, seeds: 21, think: true, lm: lm-tiny}\n"
            "  - {prompt: calm piano, seeds: 21}\n",
        )
    )
    assert [j.think for j in plan.jobs] == [ThinkOptions(lm="lm-tiny"), None]
    assert plan.jobs[0].job_id != plan.jobs[1].job_id  # the same recipe with and without Think: two jobs
    result = run_batch(plan, tmp_path / "out", make_engine=lambda m: engine, planner=planner)
    latest = mf.latest_by_job(mf.read_records(tmp_path / "out"))
    assert result.counts == {"ok": 2}, [r["error"] for r in latest.values()]
    latest = mf.latest_by_job(mf.read_records(tmp_path / "out"))
    think_rec, plain_rec = latest[plan.jobs[0].job_id], latest[plan.jobs[1].job_id]
    assert think_rec["lm"] == "lm-tiny" and "duration_s" not in think_rec["lm_chosen"]  # the row fixed it
    assert "lm" not in plain_rec

    sidecar = records.load_sidecar(think_rec["sidecar"])
    assert sidecar["request"]["task"] == "audio_codes"
    block = sidecar["plan"]
    assert block["plan"]["seed"] == 21 and block["plan"]["lm"]["name"] == "lm-tiny"
    assert block["plan"]["codes"] == sidecar["request"]["codes"]
    assert "plan" not in records.load_sidecar(plain_rec["sidecar"])

    bench = Workbench(engine, None, runs_dir=tmp_path / "runs", planner=planner)
    asked = request_from_dict(block["think_request"])
    assert asked == Text2Music(prompt="calm piano", duration_s=2.0, steps=2, seed=21)
    direct = bench.generate(asked, think=ThinkOptions(lm="lm-tiny"))
    assert direct.plan is not None and direct.plan.codes == block["plan"]["codes"]
    batch_audio = read_audio(think_rec["path"]).samples
    assert np.array_equal(batch_audio, direct.takes[0].take.audio.samples)
    assert not np.array_equal(batch_audio, read_audio(plain_rec["path"]).samples)

    replayed, index = records.replay(sidecar, engine)  # the codes are recorded: no LM
    assert np.array_equal(replayed.takes[index].audio.samples, batch_audio)

    exported = export_for_campaign(tmp_path / "out", tmp_path / "camp")
    with exported.mapping_csv.open() as fh:
        assert {row["job_id"]: row["lm"] for row in csv.DictReader(fh)} == {
            plan.jobs[0].job_id: "lm-tiny",
            plan.jobs[1].job_id: "",
        }


class CancelOnRender:
    """The engine a run is killed on: the first render sets ``cancel`` (after the job was planned)."""

    def __init__(self, engine: Any, cancel: threading.Event) -> None:
        self.engine, self.cancel = engine, cancel

    def run(self, request: Any, **kw: Any) -> Any:
        self.cancel.set()
        return self.engine.run(request, **kw)


def test_a_resumed_run_renders_the_recorded_plan_without_planning_again(
    tmp_path: Path, engine: Any, planner: Any
) -> None:
    plan = load_plan(plan_file(tmp_path, "entries:\n  - {prompt: rain, seeds: 4, lm: lm-tiny}\n"))
    out = tmp_path / "out"
    cancel = threading.Event()
    first = run_batch(
        plan, out, make_engine=lambda m: CancelOnRender(engine, cancel), planner=planner, cancel=cancel
    )
    assert first.shard.cancelled and first.counts == {}
    recorded = out / PLANS_DIR / f"{plan.jobs[0].job_id}-4.json"
    assert recorded.is_file()

    counting = CountingPlanner(planner)
    again = run_batch(plan, out, make_engine=lambda m: engine, planner=counting)
    assert again.counts == {"ok": 1} and counting.calls == 0
    record = mf.latest_by_job(mf.read_records(out))[plan.jobs[0].job_id]
    sidecar = records.load_sidecar(record["sidecar"])
    assert sidecar["plan"]["plan"]["codes"] == sidecar["request"]["codes"]


def test_plan_validation_names_an_unknown_lm_with_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as err:
        load_plan(plan_file(tmp_path, "entries:\n  - {prompt: x, seeds: 0, think: true, lm: lm-9B}\n"))
    (problem,) = err.value.problems
    assert problem.field == "lm" and problem.value == "lm-9B"
    assert "unknown LM" in problem.reason and "workbench models pull" in problem.reason


def test_plan_validation_refuses_think_on_a_source_task_and_a_non_boolean_think(
    tmp_path: Path, src_wav: Path
) -> None:
    body = (
        f"entries:\n  - {{task: repaint, src: '{src_wav}', prompt: x, start_s: 0, end_s: 1, seeds: 0, "
        "lm: lm-tiny}\n  - {prompt: y, seeds: 0, think: maybe}\n"
    )
    with pytest.raises(PlanError) as err:
        load_plan(plan_file(tmp_path, body))
    by_row = {p.row: p for p in err.value.problems}
    assert by_row[1].field == "think" and "text2music" in by_row[1].reason
    assert by_row[2].field == "think" and "true or false" in by_row[2].reason


def test_think_false_overrides_an_lm_in_the_defaults_so_a_grid_compares_both(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(
        "model: tiny\ndefaults: {duration_s: 2, steps: 2, lm: lm-tiny}\ngrid: {think: [true, false]}\n"
        "entries:\n  - {prompt: x, seeds: 0-1}\n"
    )
    plan = load_plan(path)
    assert [j.think is not None for j in plan.jobs] == [True, True, False, False]
    assert len({j.job_id for j in plan.jobs}) == 4


def test_qc_checks_a_think_track_against_the_bpm_and_key_the_lm_chose(
    tmp_path: Path, engine: Any, planner: Any
) -> None:
    asked: list[Any] = []

    def analyzer(audio: Any, request: Any, genre: Any) -> dict[str, Any]:
        asked.append(request)
        return {"tempo_bpm": 100.0}

    plan = load_plan(
        plan_file(tmp_path, "entries:\n  - {prompt: dusk, seeds: 3, keyscale: A minor, lm: lm-tiny}\n")
    )
    run_batch(plan, tmp_path / "out", make_engine=lambda m: engine, planner=planner, analyzer=analyzer)
    record = mf.latest_by_job(mf.read_records(tmp_path / "out"))[plan.jobs[0].job_id]
    planned = records.load_sidecar(record["sidecar"])["plan"]["plan"]["metadata"]
    (request,) = asked
    assert request.task == "audio_codes" and request.bpm == planned["bpm"]
    assert request.keyscale == "A minor"  # the row's key, never the LM's
    (tempo,) = [c for c in record["qc"]["checks"] if c["name"] == "tempo"]
    bpm = planned["bpm"]
    assert tempo["limit"] == f"{bpm - 8:g}-{bpm + 8:g} bpm (or half/double)"  # the default 8 bpm tolerance
