"""The app's Batch tab: it builds in the shell, and its handlers validate, run, cancel/resume and list a plan."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from workbench.batch import PlanError
from workbench.core.errors import InputError
from workbench.core.store import Store
from workbench.ui import tab_batch


def upload(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / "upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return tab_batch.import_plan(str(path))


def test_batch_tab_builds_in_the_app(engine: Any) -> None:
    from workbench.ui import build_app

    demo = build_app(engine, Store(), tabs=["workbench.ui.tab_batch"], load_model=False)
    assert demo.tab_errors == ()


def test_validate_run_cancel_resume_and_manifest(ctx: Any, tmp_path: Path) -> None:
    plan = upload(
        tmp_path,
        "tab-plan.yaml",
        "defaults: {duration_s: 1, steps: 1}\nqc: {analyzer: basic}\n"
        "run: {max_group: 2}\nentries:\n  - {genre: spa, seeds: 0-3}\n",
    )
    assert plan in tab_batch.plan_choices()
    # Rows without a model use the box (the app's model, "tiny" here), so the loaded pipeline is reused.
    assert tab_batch.validate_summary(plan, "tiny").startswith(
        "✅ **tab-plan**: 4 jobs from 1 rows, 2 pipeline calls"
    )
    cancel = threading.Event()
    seen: list[int] = []

    def stop_after_first_call(state: Any) -> None:
        seen.append(state.done)
        if state.done >= 2:
            cancel.set()

    first = tab_batch.run_plan(ctx, plan, "tiny", "tab-run", stop_after_first_call, cancel)
    assert first.shard.cancelled and first.counts == {"ok": 2}
    second = tab_batch.run_plan(ctx, plan, "tiny", "tab-run")
    assert second.counts == {"ok": 4} and second.shard.progress.skipped == 2
    text, table = tab_batch.manifest_rows("tab-run")
    assert text.startswith("batch tab-plan: 4/4 finished") and len(table) == 4
    assert list(table["status"]) == ["ok"] * 4 and list(table["genre"]) == ["spa"] * 4
    assert len(ctx.store.list_runs(limit=10)) == 4  # the batch shows in the app's History


def test_bad_inputs_are_readable_errors(ctx: Any, tmp_path: Path) -> None:
    bad = upload(tmp_path, "bad.csv", "prompt,seed\ncalm,1\ncalm,1\n")
    with pytest.raises(PlanError, match="row 3: seed=1: duplicate row"):
        tab_batch.validate_summary(bad, "tiny")
    with pytest.raises(InputError, match="batch name='../etc'"):
        tab_batch.batch_folder("../etc")
    with pytest.raises(InputError, match="not in the plans folder"):
        tab_batch.plan_path("../../secret.yaml")
    with pytest.raises(InputError, match="upload a .csv"):
        tab_batch.import_plan(str(tmp_path / "x.txt"))
