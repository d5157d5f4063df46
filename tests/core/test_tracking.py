"""Tracking: never required, always mirrored locally, W&B offline works without network."""

from __future__ import annotations

import pytest

from workbench.core.errors import InputError
from workbench.core.tracking import Tracker, read_mirror, resolve_mode


def test_off_mode_mirrors_everything(tmp_path):
    with Tracker(tmp_path, name="t", config={"steps": 8}, mode="off") as tr:
        tr.log({"loss": 1.5}, step=1)
        tr.log({"loss": 0.5}, step=2)
        tr.summary({"best": 0.5})
        tr.log_table("tasks", ["a", "b"], [[1, 2]])
    events = read_mirror(tmp_path)
    assert [e["event"] for e in events] == ["init", "log", "log", "summary", "table", "finish"]
    assert events[0]["config"] == {"steps": 8}
    assert events[2]["values"] == {"loss": 0.5} and events[-1]["summary"] == {"best": 0.5}


def test_offline_wandb_run_writes_files(tmp_path, src_wav):
    tr = Tracker(tmp_path, name="offline", mode="offline", config={"a": 1})
    tr.log({"x": 1.0}, step=0)
    tr.log_audio("clip", src_wav)
    tr.finish()
    assert tr.notes == []
    assert list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert read_mirror(tmp_path)[-1]["event"] == "finish"


def test_mode_resolution(monkeypatch):
    monkeypatch.delenv("WORKBENCH_TRACKING", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode() == "off"
    monkeypatch.setenv("WANDB_MODE", "")
    monkeypatch.setenv("HOME", "/nonexistent")
    assert resolve_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_mode() == "online"
    with pytest.raises(InputError, match="tracking='loud': choose one of auto, online, offline, off"):
        resolve_mode("loud")


def test_mirror_survives_a_line_cut_short_by_a_kill(tmp_path):
    tr = Tracker(tmp_path, mode="off")
    tr.log({"loss": 1.0}, step=1)
    with (tmp_path / "tracking.jsonl").open("a") as fh:
        fh.write('{"event": "log", "step": 2, "val')
    assert [e["event"] for e in read_mirror(tmp_path)] == ["init", "log"]
