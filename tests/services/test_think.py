"""Think through the Workbench: the plan is recorded in the sidecar, replay reproduces the take bit-exactly
without the LM, and a replan with the recorded seed reproduces the plan and the take."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from workbench import records
from workbench.core.audio_io import read_audio
from workbench.core.store import Store
from workbench.engine.requests import Text2Music, request_from_dict
from workbench.planner.decoding import Sampling
from workbench.planner.plans import ThinkOptions
from workbench.services import Workbench

pytestmark = pytest.mark.usefixtures("one_torch_thread")
THINK = ThinkOptions(lm="lm-tiny", sampling=Sampling(), caption_tokens=6)


@pytest.fixture
def bench(engine, planner, tmp_path: Path) -> Workbench:
    return Workbench(engine, Store(tmp_path / "store.sqlite"), runs_dir=tmp_path / "runs", planner=planner)


def test_planned_run_records_the_plan_and_replays_bit_exactly(bench: Workbench, engine) -> None:
    request = Text2Music(prompt="calm piano", bpm=88, duration_s=3.0, steps=2, seed=21)
    run = bench.generate(request, think=THINK)
    assert run.ok and run.plan is not None
    assert run.result.request.task == "audio_codes"
    assert run.result.request.bpm == 88  # the user's field, untouched
    sidecar = records.load_sidecar(run.takes[0].sidecar)
    block = sidecar["plan"]
    plan = block["plan"]
    assert plan["lm"]["name"] == "lm-tiny" and plan["lm"]["revision"].startswith("local:")
    assert plan["templates_version"].startswith("ace-step-1.5@")
    assert plan["seed"] == 21 and plan["code_count"] == 15
    assert plan["sampling"]["cfg_scale"] == 2.5 and plan["sampling"]["top_p"] == 0.9
    assert plan["codes"] == sidecar["request"]["codes"]
    assert request_from_dict(block["think_request"]) == request

    replayed, index = records.replay(sidecar, engine)  # no LM involved: the codes are in the request
    original = read_audio(run.takes[0].path).samples
    assert np.array_equal(replayed.takes[index].audio.samples, run.takes[0].take.audio.samples)
    assert np.array_equal(read_audio(run.takes[0].path).samples, original)


def test_replan_with_the_recorded_seed_reproduces_plan_and_take(bench: Workbench) -> None:
    run = bench.generate(Text2Music(prompt="night drive", duration_s=2.0, steps=2), think=THINK)
    sidecar = records.load_sidecar(run.takes[0].sidecar)
    again = bench.generate(
        request_from_dict(sidecar["plan"]["think_request"]),
        think=ThinkOptions.from_plan(sidecar["plan"]["plan"]),
    )
    assert again.plan is not None and run.plan is not None
    assert again.plan.codes == run.plan.codes and again.plan.metadata == run.plan.metadata
    assert np.array_equal(again.takes[0].take.audio.samples, run.takes[0].take.audio.samples)


def test_cancel_during_planning_returns_a_cancelled_run_and_writes_nothing(bench: Workbench) -> None:
    cancel = threading.Event()

    def progress(p) -> None:
        if p.stage.startswith("planning") and p.step >= 2:
            cancel.set()

    run = bench.generate(
        Text2Music(prompt="x", duration_s=2.0, steps=2, seed=1), think=THINK, progress=progress, cancel=cancel
    )
    assert run.result.status == "cancelled" and run.takes == []
    assert not (bench.runs_dir.exists() and any(bench.runs_dir.iterdir()))
