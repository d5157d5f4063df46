"""core.paths names every folder of the workbench home; the modules that use one ask it."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core import paths


def test_every_home_folder_is_named_under_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    folders = {
        "models": paths.models_dir(),
        "runs": paths.runs_dir(),
        "runs/lora": paths.lora_runs_dir(),
        "lora-data": paths.lora_datasets_dir(),
        "loras": paths.loras_dir(),
        "plans": paths.plans_dir(),
        "batches": paths.batches_dir(),
        "campaigns": paths.campaigns_dir(),
        "reports": paths.reports_dir(),
        "ui-cache": paths.ui_cache_dir(),
        "cache/embeddings": paths.embeddings_cache_dir(),
    }
    assert {name: folder.relative_to(tmp_path).as_posix() for name, folder in folders.items()} == {
        name: name for name in folders
    }
    # the folders the UI lists or serves from exist once asked for
    for name in ("lora-data", "plans", "batches"):
        assert folders[name].is_dir()
    assert paths.lora_runs_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "lora"


def test_users_of_a_home_folder_ask_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lora import checkpoints, library, runs
    from workbench.campaigns import stimuli

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    assert checkpoints.lora_root() == runs.runs_root(paths.runs_dir()) == tmp_path / "runs" / "lora"
    assert library.data_root() == tmp_path / "lora-data"
    assert stimuli.campaign_dir("c1") == tmp_path / "campaigns" / "c1"
