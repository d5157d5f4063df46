"""The LoRA tab: it builds in the app, its dataset builder turns uploads and an edited table into a dataset, and a
very short background training on the tiny model shows progress, checkpoints and adapters, refuses a second
start, stops, resumes, and hands its adapter to Generate."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from lora import jobs as lora_jobs
from lora import library as lora_data
from lora import runs as lora_runs
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.store import Store
from workbench.ui import forms


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _uploads(folder: Path, write_clip: Any, n: int = 3) -> list[str]:
    """n short clips (the first two with .json metadata, the last without) and one silent file."""
    files = []
    for i in range(n):
        files.append(str(write_clip(folder / f"clip{i}.wav", 180.0 + 70 * i, duration_s=1.5, seed=i)))
        if i < n - 1:
            meta = folder / f"clip{i}.json"
            meta.write_text(f'{{"caption": "soft tone {i}", "bpm": {90 + i}, "key": "C major"}}')
            files.append(str(meta))
    silent = folder / "silent.wav"
    sf.write(str(silent), np.zeros((48_000, 2), dtype=np.float32), 48_000)
    files.append(str(silent))
    return files


@pytest.fixture(scope="module")
def saved_dataset(tmp_path_factory: pytest.TempPathFactory, write_clip) -> str:
    """A dataset built the way the tab builds one: uploads -> scan -> (edited) table -> save."""
    name = _unique("ui-ds")
    files = _uploads(tmp_path_factory.mktemp("uploads"), write_clip)
    folder = lora_data.import_uploads(name, files)
    scanned, _issues = lora_data.scan(folder)
    lora_data.save(name, scanned, lora_data.table_rows(scanned), "zzspa", "prepend", 0.34)
    return name


def test_lora_tab_builds_with_generate_and_wires_use_in_generate(engine: Any, tmp_path: Path) -> None:
    from workbench.ui import build_app

    demo = build_app(
        engine,
        Store(tmp_path / "store.sqlite"),
        tabs=["workbench.ui.tab_generate", "workbench.ui.tab_lora"],
        load_model=False,
    )
    assert demo.tab_errors == ()
    ctx = demo.context
    sender = next(s for s in ctx.send.senders if s.target == "generate")
    assert sender.button.visible  # the Generate tab is present, so "Use in Generate" stays visible
    assert isinstance(ctx.lora_jobs, lora_jobs.TrainingJobs)
    alone = build_app(engine, Store(tmp_path / "s2.sqlite"), tabs=["workbench.ui.tab_lora"], load_model=False)
    assert not next(s for s in alone.context.send.senders if s.target == "generate").button.visible


def test_dataset_builder_table_edits_and_report(tmp_path: Path, write_clip) -> None:
    name = _unique("edit-ds")
    folder = lora_data.import_uploads(name, _uploads(tmp_path / "in", write_clip))
    scanned, issues = lora_data.scan(folder)
    assert issues == [] and "Found 4 audio file(s)" in lora_data.scan_text(folder, scanned, issues)
    rows = lora_data.table_rows(scanned)
    assert [r[0] for r in rows] == ["clip0.wav", "clip1.wav", "clip2.wav", "silent.wav"]
    by_file = {r[0]: r for r in rows}
    assert by_file["clip0.wav"][1:] == ["soft tone 0", "", 90, "C major", "", "", True]
    assert by_file["clip2.wav"][3:5] == [None, ""]  # no metadata: estimated on save
    # The user fixes a caption and a bpm, and writes lyrics for clip1 (instrumental left as shown: decided
    # from the lyrics), then saves with a trigger tag.
    by_file["clip0.wav"][1] = "warm pad, slow"
    by_file["clip1.wav"][2] = "[verse]\nla la"
    by_file["clip1.wav"][3] = 100.0
    report = lora_data.save(name, scanned, rows, "zzspa", "prepend", 0.34)
    saved = {Path(r.audio_path).name: r for r in report.records}
    assert saved["clip0.wav"].caption == "zzspa, warm pad, slow"
    assert saved["clip1.wav"].bpm == 100 and "bpm" not in saved["clip1.wav"].estimated
    assert saved["clip1.wav"].lyrics == "[verse]\nla la" and saved["clip1.wav"].instrumental is False
    assert saved["clip0.wav"].instrumental is True
    assert {"bpm", "key"} & set(saved["clip2.wav"].estimated)  # estimated and marked so
    assert "silent.wav" not in saved and any("silent" in i.reason for i in report.issues)
    assert report.counts()["validation"] == 1 and name in lora_data.list_datasets()
    text = lora_data.report_text(report)
    assert "ESTIMATE" in text and "silent" in text
    # A bad bpm typed into the table goes into the report with its row, not a crash.
    rows[0][3] = "fast"
    bad = lora_data.save(name, scanned, rows, "", "prepend", 0.0)
    assert any("bpm" in i.reason for i in bad.issues) and len(bad.records) == 2
    with pytest.raises(InputError, match="the table must keep its 4 rows"):
        lora_data.save(name, scanned, rows[:2], "", "prepend", 0.0)


def test_dataset_inputs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="dataset name='a b': use letters"):
        lora_data.check_name("a b")
    with pytest.raises(InputError, match="must be inside WORKBENCH_HOME"):
        lora_data.inside_home(str(tmp_path), "folder")
    with pytest.raises(InputError, match="not audio or a sidecar"):
        (tmp_path / "notes.pdf").write_text("x")
        lora_data.import_uploads("ok-name", [str(tmp_path / "notes.pdf")])
    with pytest.raises(InputError, match="scan uploads or a folder first"):
        lora_data.save("ok-name", None, [], "", "prepend", 0.1)


def _config(tmp_path: Path, dataset: str, name: str, max_steps: int, every: int) -> Any:
    return lora_jobs.train_config(
        tmp_path,
        preset="tiny",
        dataset=dataset,
        name=name,
        model="tiny",
        rank=4,
        alpha=8,
        learning_rate=0.005,
        max_steps=max_steps,
        checkpoint_every=every,
        targets=["to_q", "to_v"],
        preview=False,
    )


def test_training_progress_checkpoints_adapters_and_use_in_generate(
    tmp_path: Path, saved_dataset: str
) -> None:
    seen: list[str] = []
    reporting, second_tried = threading.Event(), threading.Event()

    def watch(p: Any) -> None:
        # Every status line the tab could show, taken in the worker as each report lands (no polling race);
        # the first report waits until the test has tried a second start, so that start meets a running job.
        snap = jobs.snapshot()
        if snap is not None:
            seen.append(snap.line())
        if not reporting.is_set():
            reporting.set()
            second_tried.wait(240)

    jobs = lora_jobs.TrainingJobs(on_progress=watch)
    cfg = _config(tmp_path, saved_dataset, "short", max_steps=3, every=2)
    assert cfg.target_modules == ["to_q", "to_v"] and cfg.rank == 4
    state = jobs.start(cfg)
    assert state.run == "short"
    assert reporting.wait(240), jobs.snapshot()
    try:
        with pytest.raises(WorkbenchError, match="already running .*only one runs at a time"):
            jobs.start(_config(tmp_path, saved_dataset, "second", max_steps=3, every=2))
    finally:
        second_tried.set()
    assert jobs.wait(240)
    final = jobs.snapshot()
    assert final is not None and final.error is None, final
    assert final.phase == "done" and final.step == 3 and final.best_step is not None
    assert "done" in final.line()
    assert any("training** step" in line for line in seen)
    rows = lora_runs.loss_rows(final.run_dir)
    train_steps = [r["step"] for r in rows if r["series"] == lora_runs.TRAIN_LOSS]
    assert train_steps == [1, 2, 3]
    assert [r["step"] for r in rows if r["series"] == lora_runs.VAL_LOSS] == [2, 3]
    figure = lora_runs.loss_figure(rows, "short")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(lines[lora_runs.TRAIN_LOSS].get_xdata()) == [1, 2, 3]
    assert lines[lora_runs.VAL_LOSS].get_marker() == "o"  # visible even when a run has one checkpoint
    assert lora_runs.checkpoint_names(final.run_dir) == ["step-000002", "step-000003"]
    assert [r["step"] for r in lora_runs.checkpoint_rows(final.run_dir)] == [2, 3]
    assert "Finished at step 3" in lora_runs.run_overview(final.run_dir)
    adapters = {(a["run"], a["kind"]): a for a in lora_runs.adapter_rows(tmp_path)}
    assert {("short", "best"), ("short", "final")} <= set(adapters)
    # "Add to Generate's LoRA list" and "Use in Generate"
    loras = tmp_path / "loras"
    name = lora_runs.install_adapter(adapters[("short", "best")]["path"], tmp_path, loras)
    assert name == "short-best" and name in forms.scan_loras(loras)
    assert forms.lora_from_name(loras, name, 1.0) is not None
    request = lora_runs.adapter_request(adapters[("short", "final")]["path"], tmp_path)
    assert request["lora"] == {"path": adapters[("short", "final")]["path"], "scale": 1.0}
    assert request["prompt"].startswith("zzspa, ")
    assert request["duration_s"] == lora_runs.run_config(final.run_dir).preview_duration_s
    with pytest.raises(InputError, match="pick an adapter from the list"):
        lora_runs.install_adapter(str(tmp_path), tmp_path, loras)
    with pytest.raises(InputError, match="a run of that name exists"):
        _config(tmp_path, saved_dataset, "short", max_steps=3, every=2)
    with pytest.raises(InputError, match="this run finished"):
        lora_jobs.resume_config(tmp_path, "short")


def test_stop_checkpoints_and_resume_finishes(tmp_path: Path, saved_dataset: str) -> None:
    training, stop_called = threading.Event(), threading.Event()

    def hold_the_first_step(p: Any) -> None:
        # The worker waits inside step 1's progress report until stop() has been called, so the stop lands
        # mid-training however fast the 5 steps would otherwise run.
        if p.phase == "train" and not training.is_set():
            training.set()
            stop_called.wait(240)

    jobs = lora_jobs.TrainingJobs(on_progress=hold_the_first_step)
    assert not jobs.stop()  # nothing runs yet
    jobs.start(_config(tmp_path, saved_dataset, "stoppable", max_steps=5, every=50))
    assert training.wait(240), jobs.snapshot()
    assert jobs.stop()
    stop_called.set()
    assert jobs.wait(240)
    stopped = jobs.snapshot()
    assert stopped is not None and stopped.error is None and stopped.phase == "stopped", stopped
    assert stopped.step == 1 and "Resume" in stopped.line()  # stopped right after the step it was held in
    assert lora_runs.checkpoint_names(stopped.run_dir) == [f"step-{stopped.step:06d}"]
    jobs.start(lora_jobs.resume_config(tmp_path, "stoppable"), resume=True)
    assert jobs.wait(240)
    done = jobs.snapshot()
    assert done is not None and done.error is None and done.phase == "done" and done.step == 5, done
    train_steps = [
        r["step"] for r in lora_runs.loss_rows(done.run_dir) if r["series"] == lora_runs.TRAIN_LOSS
    ]
    assert train_steps == [1, 2, 3, 4, 5]  # one continuous curve across the stop


def test_stop_before_training_lets_the_same_name_start_again(tmp_path: Path, saved_dataset: str) -> None:
    preprocessing, stop_called = threading.Event(), threading.Event()

    def hold_the_first_clip(p: Any) -> None:
        # The worker waits in its first preprocessing report until stop() has been called, so the stop lands
        # before any training step however fast loading and encoding run; the trainer stops at the next clip.
        if p.phase == "preprocess" and not preprocessing.is_set():
            preprocessing.set()
            stop_called.wait(240)

    jobs = lora_jobs.TrainingJobs(on_progress=hold_the_first_clip)
    jobs.start(_config(tmp_path, saved_dataset, "early", max_steps=2, every=2))
    assert preprocessing.wait(240), jobs.snapshot()
    assert jobs.stop()
    stop_called.set()
    assert jobs.wait(120)
    state = jobs.snapshot()
    assert state is not None and state.phase == "stopped-early" and "press Start" in state.line()
    jobs.start(_config(tmp_path, saved_dataset, "early", max_steps=2, every=2))  # the name is still free
    assert jobs.wait(120)
    done = jobs.snapshot()
    assert done is not None and done.phase == "done" and done.step == 2, done


def test_training_errors_reach_the_status(tmp_path: Path, saved_dataset: str) -> None:
    with pytest.raises(InputError, match="save a dataset in step 1"):
        _config(tmp_path, "", "x", 3, 2)
    with pytest.raises(InputError, match="rank=0"):
        lora_jobs.train_config(
            tmp_path, preset="tiny", dataset=saved_dataset, name="bad", model="tiny", rank=0, alpha=8,
            learning_rate=0.005, max_steps=3, checkpoint_every=2, targets=["to_q"], preview=False,
        )  # fmt: skip
    cfg = _config(tmp_path, saved_dataset, "nomodel", 3, 2)
    cfg.model = str(tmp_path / "no-such-model")
    jobs = lora_jobs.TrainingJobs()
    jobs.start(cfg)
    assert jobs.wait(120)
    state = jobs.snapshot()
    assert state is not None and state.phase == "failed" and state.error
    assert "failed" in state.line() and state.error in state.line()


def test_status_line_names_each_phase(tmp_path: Path) -> None:
    state = lora_jobs.JobState(run="spa-r4", run_dir=tmp_path, phase="preprocess", step=2, total_steps=5)
    state.message = "encoding clip2.wav"
    assert state.line() == "**spa-r4: preprocessing** 2/5 clips · encoding clip2.wav"
    state.phase, state.step, state.total_steps, state.loss, state.lr = "train", 3, 10, 0.5, 1e-4
    assert state.line().startswith("**spa-r4: training** step 3/10 · loss 0.5000 · lr 1.00e-04")
    state.phase = "checkpoint"
    assert state.line().endswith("saving a checkpoint")
    state.phase = "stopped"
    assert "Press Resume to continue" in state.line()
    state.error = "the model 'turbo' has no weights"
    assert state.line() == "**spa-r4: failed.** the model 'turbo' has no weights"


def test_a_run_config_is_read_back_typed(tmp_path: Path) -> None:
    from lora.config import TrainConfig
    from workbench.core.errors import ConfigError
    from workbench.engine.requests import DEFAULT_DURATION_S

    run = lora_runs.runs_root(tmp_path) / "typed"
    adapter = run / "final"
    adapter.mkdir(parents=True)
    assert lora_runs.adapter_request(adapter, tmp_path)["duration_s"] == DEFAULT_DURATION_S  # no config.yaml
    (run / "config.yaml").write_text(TrainConfig(name="typed", preview_duration_s=12.5, rank=8).to_yaml())
    cfg = lora_runs.run_config(run)
    assert isinstance(cfg, TrainConfig) and cfg.rank == 8 and cfg.preview_duration_s == 12.5
    assert lora_runs.adapter_request(adapter, tmp_path)["duration_s"] == 12.5
    assert "rank 8, alpha 128" in lora_runs.run_overview(run)
    (run / "config.yaml").write_text("name: typed\nrnak: 8\n")
    with pytest.raises(ConfigError, match="rnak=8: unknown config key"):
        lora_runs.run_overview(run)


def test_tracking_mode_is_chosen_in_the_tab(tmp_path: Path, saved_dataset: str) -> None:
    from workbench.ui import tab_lora

    def config(tracking: str) -> Any:
        values = dict(
            preset="tiny",
            dataset=saved_dataset,
            name=_unique("track"),
            model="tiny",
            rank=4,
            alpha=8,
            learning_rate=0.005,
            max_steps=2,
            checkpoint_every=2,
            targets=["to_q"],
            preview=False,
            tracking=tracking,
        )
        return lora_jobs.train_config(tmp_path, **values)

    preset_mode = lora_jobs.preset_config("tiny").tracking
    assert config("").tracking == preset_mode  # "as the preset says"
    for _label, mode in tab_lora.TRACKING_CHOICES[1:]:
        assert config(mode).tracking == mode
    with pytest.raises(InputError, match="tracking"):
        config("sometimes")
