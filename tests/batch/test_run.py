"""Running batches on the tiny pipeline: outputs, manifest, resume, failures, QC regeneration, cancel, campaigns."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.audio.mastering import integrated_lufs
from workbench.batch import load_plan, qc, run_batch
from workbench.batch import manifest as mf
from workbench.batch.campaign_export import export_for_campaign
from workbench.batch.export import read_tags
from workbench.batch.runner import RunSettings, regen_seed
from workbench.cli.main import main
from workbench.core.audio_io import read_audio
from workbench.core.store import Store
from workbench.core.tracking import read_mirror

SHORT = "model: tiny\ndefaults: {duration_s: 1, steps: 1}\n"
# Levels-only QC unless a test sets its own: most tests here are about the runner, not the metrics.
BASIC_QC = "qc: {analyzer: basic}\n"


class CountingEngine:
    """Wraps the session engine: counts pipeline calls and can fail the first ``fail_first`` of them."""

    def __init__(self, engine: Any, fail_first: int = 0) -> None:
        self.engine, self.fail_first, self.calls = engine, fail_first, 0

    def run(self, request: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RuntimeError("simulated device error")
        return self.engine.run(request, **kw)


def plan_file(tmp_path: Path, body: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SHORT + ("" if "qc:" in body else BASIC_QC) + body)
    return path


def test_batch_writes_tagged_mastered_tracks_and_a_manifest_then_resumes(tmp_path: Path, engine: Any) -> None:
    plan = load_plan(
        plan_file(
            tmp_path,
            "export: {format: flac}\nrun: {max_group: 4}\nqc: {reject: [clipping, silence, loudness, true_peak]}\nentries:\n  - {genre: spa, seeds: 0-2}\n"
            "  - {prompt: soft piano, seeds: 5, title: Piano}\n",
        )
    )
    counting = CountingEngine(engine)
    store = Store(tmp_path / "store.sqlite")
    seen: list[int] = []
    result = run_batch(
        plan,
        tmp_path / "out",
        make_engine=lambda m: counting,
        store=store,
        tracking="off",
        progress=lambda s: seen.append(s.done),
    )
    out = tmp_path / "out"
    assert counting.calls == 2  # seeds 0-2 share one pipeline call; the piano row is a second one
    assert result.counts == {"ok": 4} and seen[0] == 0 and seen[-1] == 4
    tracks = sorted((out / "tracks").iterdir())
    assert [p.suffix for p in tracks].count(".flac") == 4 and [p.suffix for p in tracks].count(".json") == 4
    frame = pd.read_parquet(out / "manifest.parquet")
    assert list(frame["job_id"]) == [j.job_id for j in plan.jobs]
    assert pd.read_csv(out / "manifest.csv")["status"].tolist() == ["ok"] * 4
    assert {
        "request.prompt",
        "request.seed",
        "qc.metrics.clipped_fraction",
        "qc.metrics.integrated_lufs",
        "mastering_gain_db",
        "model",
        "title",
        "path",
    } <= set(frame.columns)
    spa = frame.iloc[0]
    assert spa["batched"] == 3 and spa["request.genre"] == "spa"
    # Mastered to the spa delivery spec (-22 LUFS, -2 dBTP ceiling), tagged, with a replayable sidecar.
    audio = read_audio(spa["path"])
    assert integrated_lufs(audio.samples, audio.sample_rate) == pytest.approx(-22.0, abs=0.5)
    tags = read_tags(spa["path"])
    assert tags["genre"] == "Spa" and tags["bpm"] == "68" and tags["key"] == "C major" and tags["seed"] == "0"
    assert tags["ai_generated"] == "yes" and tags["model"] == "tiny"
    sidecar = json.loads(Path(spa["sidecar"]).read_text())
    assert sidecar["batch"]["job_id"] == spa["job_id"] and sidecar["request"]["batch_size"] == 3
    assert sidecar["take_index"] == 0 and sidecar["mastering"][0]["after"][
        "integrated_lufs"
    ] == pytest.approx(-22, abs=0.5)
    assert read_tags(frame.iloc[3]["path"])["title"] == "Piano"
    # The genre's delivery check (evals) ran on the mastered spa tracks and is recorded; it does not reject here.
    checks = {c["name"]: c for c in json.loads(spa["qc.checks"])}
    assert checks["delivery"]["passed"] is not None and checks["loudness"]["passed"] is True
    assert {c["name"]: c for c in json.loads(frame.iloc[3]["qc.checks"])}["delivery"]["passed"] is None
    rows = store.list_runs(limit=10)
    assert len(rows) == 4 and {r.batch_id for r in rows} == {result.batch_id}
    events = {e["event"] for e in read_mirror(out)}
    assert {"init", "summary", "audio", "table", "finish"} <= events
    summary = next(e for e in read_mirror(out) if e["event"] == "summary")["values"]
    assert summary["ok"] == 4 and summary["qc_pass_rate"] == 1.0 and summary["items_per_s"] > 0
    # A re-run finds everything finished by ID and calls the pipeline no more.
    again = run_batch(plan, out, make_engine=lambda m: counting, store=store, tracking="off")
    assert counting.calls == 2 and again.shard.progress.skipped == 4 and again.counts == {"ok": 4}
    assert len(mf.read_records(out)) == 4 and len(store.list_runs(limit=10)) == 4


def test_a_failing_item_is_recorded_and_the_batch_continues(tmp_path: Path, engine: Any, write_tone) -> None:
    src = write_tone(tmp_path / "src.wav", duration_s=2.0)
    # The repaint window ends after the 2 s source: only the engine can know that, so it fails at run time.
    plan = load_plan(
        plan_file(
            tmp_path,
            f"entries:\n  - {{prompt: a, seeds: 0-1}}\n"
            f"  - {{task: repaint, src: {src.name}, start_s: 0.5, end_s: 3.0, seeds: 7}}\n"
            "  - {prompt: b, seeds: 3}\n",
        )
    )
    flaky = CountingEngine(engine, fail_first=1)
    result = run_batch(
        plan,
        tmp_path / "out",
        make_engine=lambda m: flaky,
        tracking="off",
        settings=RunSettings(max_group=4, retries=1),
    )
    assert result.counts == {"ok": 3, "failed": 1}
    assert (
        flaky.calls == 1 + 1 + 1 + 1
    )  # simulated error, its retry, the repaint (input errors are not retried), b
    failed = next(r for r in mf.read_records(tmp_path / "out") if r["status"] == "failed")
    assert failed["row"] == 2 and failed["error"].startswith(
        "InputError: end_s=3.0: the window ends beyond the source"
    )
    assert not list((tmp_path / "out" / "tracks").glob(f"{failed['job_id']}.*"))
    # Failed items are tried again on a re-run; the manifest keeps one row per job.
    run_batch(plan, tmp_path / "out", make_engine=lambda m: flaky, tracking="off")
    assert flaky.calls == 5 and len(pd.read_csv(tmp_path / "out" / "manifest.csv")) == 4


def test_qc_rejects_and_regenerates_under_a_new_seed(tmp_path: Path, engine: Any) -> None:
    calls = {"n": 0}

    def first_take_silent(audio: Any, request: Any, genre: Any) -> dict[str, Any]:
        calls["n"] += 1
        return {**qc.basic_analyzer(audio), "longest_silence_s": 30.0 if calls["n"] == 1 else 0.0}

    plan = load_plan(plan_file(tmp_path, "qc: {regenerate: 2}\nentries:\n  - {prompt: a, seeds: 4}\n"))
    run_batch(plan, tmp_path / "a", make_engine=lambda m: engine, analyzer=first_take_silent, tracking="off")
    (record,) = mf.read_records(tmp_path / "a")
    assert record["status"] == "ok" and record["qc_attempts"] == 1 and record["plan_seed"] == 4
    assert record["seed"] == regen_seed(record["job_id"], 1) != 4
    assert json.loads(Path(record["sidecar"]).read_text())["request"]["seed"] == record["seed"]

    def always_silent(audio: Any, request: Any, genre: Any) -> dict[str, Any]:
        return {**qc.basic_analyzer(audio), "longest_silence_s": 30.0}

    rules = qc.QcRules(regenerate=0)
    run_batch(
        plan,
        tmp_path / "b",
        make_engine=lambda m: engine,
        analyzer=always_silent,
        rules=rules,
        tracking="off",
    )
    (record,) = mf.read_records(tmp_path / "b")
    assert record["status"] == "rejected" and record["qc"]["failed"] == ["silence"]
    assert Path(record["path"]).parent.name == "rejected" and Path(record["path"]).is_file()


def test_cancel_then_resume_makes_every_item_exactly_once(
    tmp_path: Path, engine: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = load_plan(plan_file(tmp_path, "entries:\n  - {prompt: a, seeds: 0-3}\n"))
    cancel = threading.Event()

    def stop_after_first_group(state: Any) -> None:
        if state.done >= 2:
            cancel.set()

    first = run_batch(
        plan,
        tmp_path / "out",
        make_engine=lambda m: engine,
        tracking="off",
        settings=RunSettings(max_group=2),
        progress=stop_after_first_group,
        cancel=cancel,
    )
    assert first.shard.cancelled and first.counts == {"ok": 2}
    second = run_batch(
        plan,
        tmp_path / "out",
        make_engine=lambda m: engine,
        tracking="off",
        settings=RunSettings(max_group=2),
    )
    assert second.shard.progress.skipped == 2 and second.counts == {"ok": 4}
    ids = [r["job_id"] for r in mf.read_records(tmp_path / "out")]
    assert sorted(ids) == sorted(j.job_id for j in plan.jobs)
    assert main(["batch", "status", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["batch plan: 4/4 finished, 0 to do", "  ok: 4"]


def test_a_batch_supplies_an_imported_campaign_system(tmp_path: Path, engine: Any, campaign_dict) -> None:
    from workbench.campaigns.config import config_from_dict
    from workbench.campaigns.stimuli import import_system

    plan = load_plan(
        plan_file(
            tmp_path,
            "entries:\n  - {prompt: calm pads, prompt_id: p0, seeds: 0}\n"
            "  - {prompt: warm jazz, prompt_id: p1, seeds: 0}\n"
            "  - {prompt: warm jazz, prompt_id: p1, seeds: 1}\n",
        )
    )
    run_batch(plan, tmp_path / "out", make_engine=lambda m: engine, tracking="off")
    exported = export_for_campaign(tmp_path / "out", tmp_path / "camp" / "batchsys")
    assert (exported.files, exported.prompts) == (3, 2)
    mapping = pd.read_csv(exported.mapping_csv)
    assert mapping[["prompt_id", "take"]].values.tolist() == [["p0", 0], ["p1", 0], ["p1", 1]]
    data = campaign_dict(tmp_path / "camp", prompts=2, takes=1, quota=4)
    data["systems"][0] = {
        "name": "batchsys",
        "import_dir": str(exported.folder),
        "mapping_csv": "mapping.csv",
    }
    config = config_from_dict(data)
    clips = import_system(config, config.systems[0])
    assert sorted((c.prompt_id, c.take) for c in clips) == [("p0", 0), ("p1", 0)]


def test_missing_model_weights_stop_the_batch_instead_of_failing_every_item(tmp_path: Path) -> None:
    from workbench.core.errors import WeightsMissingError

    # "base" is a registry model whose weights are not on this machine: its load fails fast and offline.
    plan = load_plan(plan_file(tmp_path, "entries:\n  - {prompt: a, seeds: 0-2, model: base}\n"))
    with pytest.raises(WeightsMissingError, match="workbench models pull base"):
        run_batch(plan, tmp_path / "out", tracking="off")
    assert mf.read_records(tmp_path / "out") == []


def test_lora_rows_and_scales_are_grouped_tagged_and_recorded(
    tmp_path: Path, engine: Any, random_lora_state, save_diffusers
) -> None:
    save_diffusers(
        type(engine.pipeline), random_lora_state(engine.pipeline.transformer), tmp_path / "spa-lora"
    )
    plan = load_plan(
        plan_file(
            tmp_path,
            "run: {max_group: 4}\nentries:\n  - {prompt: a, seeds: 0-1, lora: spa-lora, lora_scale: [0.5, 1.0]}\n"
            "  - {prompt: a, seeds: 0}\n",
        )
    )
    counting = CountingEngine(engine)
    try:
        run_batch(plan, tmp_path / "out", make_engine=lambda m: counting, tracking="off")
    finally:
        engine.unload_lora()
    assert counting.calls == 3  # one call per LoRA scale (seeds 0-1 together) and one without the LoRA
    frame = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert frame["request.lora.scale"].tolist()[:4] == [0.5, 0.5, 1.0, 1.0]
    assert frame["request.lora.path"].isna().tolist() == [False] * 4 + [True] and "request.lora" not in frame
    tags = read_tags(frame.iloc[2]["path"])
    assert tags["lora"] == f"{(tmp_path / 'spa-lora').resolve()} (scale 1)" and tags["seed"] == "0"
    sidecar = json.loads(Path(frame.iloc[2]["sidecar"]).read_text())
    assert sidecar["lora"]["scale"] == 1.0 and len(sidecar["lora"]["sha256"]) == 64
    assert read_tags(frame.iloc[4]["path"])["lora"] == "none"
