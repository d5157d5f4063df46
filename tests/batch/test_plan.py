"""Batch plans, grouping, QC rules, tags and the manifest format: no model needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.batch import PlanError, load_plan, qc
from workbench.batch import manifest as mf
from workbench.batch.export import ExportSettings, id3_key, read_tags, tags_for, write_tagged
from workbench.batch.groups import group_jobs, shard
from workbench.batch.plan import parse_seeds
from workbench.cli.main import main
from workbench.core.audio_io import Audio
from workbench.core.errors import InputError
from workbench.engine.requests import Text2Music


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def yaml_plan(tmp_path: Path, body: str) -> Path:
    return write(tmp_path / "plan.yaml", body)


GOOD_YAML = """
name: sweep
model: tiny
defaults: {duration_s: 1, steps: 1}
grid: {guidance_scale: [1.0, 2.0]}
entries:
  - {genre: spa, seeds: 0-3}
  - {prompt: "soft piano", seeds: [10, 12], bpm: [70, 80], title: Piano}
"""


def test_yaml_plan_expands_the_product_with_seeds_last(tmp_path: Path) -> None:
    plan = load_plan(yaml_plan(tmp_path, GOOD_YAML))
    assert plan.name == "sweep" and len(plan.jobs) == 2 * 4 + 2 * 2 * 2
    first = plan.jobs[:4]
    assert [j.seed for j in first] == [0, 1, 2, 3]
    assert {j.request.guidance_scale for j in first} == {1.0}
    spa = first[0].request
    # The genre preset fills caption, tempo (middle of 55-80), key and loudness-relevant fields; defaults win.
    assert spa.genre == "spa" and spa.bpm == 68 and spa.keyscale == "C major" and spa.duration_s == 1.0
    assert spa.prompt.startswith("ambient new age")
    piano = [j for j in plan.jobs if j.row == 2]
    assert {(j.request.bpm, j.request.guidance_scale, j.seed) for j in piano} == {
        (b, g, s) for b in (70, 80) for g in (1.0, 2.0) for s in (10, 12)
    }
    assert all(j.model == "tiny" for j in piano)
    # eight different piano tracks share the row's title: each gets its number, so a library can tell them apart
    assert [j.title for j in piano] == [f"Piano #{k}" for k in range(1, 9)]
    assert all(j.title == "" for j in first)  # no title: the export names them by genre, job and seed


def test_job_ids_are_a_hash_of_the_full_recipe(tmp_path: Path) -> None:
    a = load_plan(yaml_plan(tmp_path, GOOD_YAML))
    b = load_plan(yaml_plan(tmp_path, GOOD_YAML))
    assert [j.job_id for j in a.jobs] == [j.job_id for j in b.jobs]
    assert len({j.job_id for j in a.jobs}) == len(a.jobs)
    # The model is part of the recipe: --model (which overrides the plan's `model:`) changes every ID ...
    c = load_plan(tmp_path / "plan.yaml", model="base")
    assert c.jobs[0].model == "base" and c.jobs[0].job_id != a.jobs[0].job_id
    # ... except for rows that name their own model.
    d = load_plan(
        write(tmp_path / "rowmodel.yaml", GOOD_YAML.replace("seeds: 0-3}", "seeds: 0-3, model: tiny}")),
        model="base",
    )
    assert d.jobs[0].model == "tiny" and d.jobs[0].job_id == a.jobs[0].job_id and d.jobs[-1].model == "base"


def test_csv_plan_converts_cells_by_field_type(tmp_path: Path) -> None:
    path = write(
        tmp_path / "plan.csv",
        "genre,prompt,seeds,steps,duration_s,instrumental,model\n"
        "retail,,5,1,1.5,yes,tiny\n"
        ",warm jazz trio,7-8,2,1,no,tiny\n",
    )
    plan = load_plan(path)
    assert [(j.row, j.seed) for j in plan.jobs] == [(2, 5), (3, 7), (3, 8)]
    r = plan.jobs[0].request
    assert r.steps == 1 and r.duration_s == 1.5 and r.instrumental is True and r.genre == "retail"
    assert plan.jobs[1].request.prompt == "warm jazz trio" and plan.jobs[1].request.instrumental is False


@pytest.mark.parametrize(
    ("value", "seeds"),
    [
        (7, [7]),
        ("0-3", [0, 1, 2, 3]),
        ("1;5;9", [1, 5, 9]),
        ([1, "10-11"], [1, 10, 11]),
        ({"start": 4, "count": 2}, [4, 5]),
    ],
)
def test_seed_syntax(value: object, seeds: list[int]) -> None:
    assert parse_seeds(value) == seeds


def problems_of(path: Path, **kw: object) -> list[str]:
    with pytest.raises(PlanError) as err:
        load_plan(path, **kw)  # type: ignore[arg-type]
    return [str(p) for p in err.value.problems]


def test_bad_csv_plan_lists_every_bad_row(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        "prompt,seed,model,lora\n"
        "calm piano,1,tiny,\n"  # row 2: fine
        "calm piano,2,no-such-model,\n"  # row 3: unknown model
        "calm piano,minus one,tiny,\n"  # row 4: bad seed
        "calm piano,3,tiny,./adapters/missing\n"  # row 5: unknown LoRA path
        "calm piano,1,tiny,\n",
    )  # row 6: duplicate of row 2
    found = problems_of(path)
    assert len(found) == 4
    assert found[0].startswith("row 3: model='no-such-model': unknown model: not a registry name (")
    assert found[1].startswith("row 4: seeds='minus one': bad seed: 'minus one' is not a whole number")
    assert (
        found[2].startswith("row 5: lora=") and "unknown LoRA path" in found[2] and "no such file" in found[2]
    )
    assert found[3].startswith("row 6: seed=1: duplicate row: the same recipe") and "row 2" in found[3]


def test_missing_columns_and_unknown_fields_are_named(tmp_path: Path) -> None:
    found = problems_of(write(tmp_path / "nocol.csv", "prompt,stepz\ncalm,4\n"))
    assert any(
        p.startswith("row 1: columns=") and "column 'seed' (or 'seeds') is missing" in p for p in found
    )
    assert any(p.startswith("row 1: stepz='stepz': unknown column") for p in found)
    found = problems_of(
        yaml_plan(
            tmp_path, "entries:\n  - {prompt: x, seeds: 1, batch_size: 4}\n  - {genre: disco, seeds: 2}\n"
        )
    )
    assert found[0].startswith(
        "row 1: batch_size=4: unknown field (batching is automatic; set run.max_group)"
    )
    assert found[1].startswith("row 2: genre='disco': unknown genre; choose one of hotel_lobby, spa")


def test_request_validation_errors_carry_the_row(tmp_path: Path) -> None:
    found = problems_of(
        yaml_plan(
            tmp_path,
            "model: tiny\nentries:\n  - {prompt: x, seeds: 1}\n"
            "  - {prompt: x, seeds: 2, steps: 0}\n  - {prompt: x, seeds: 3, keyscale: H major}\n",
        )
    )
    assert found == [
        "row 2: steps=0: must be between 1 and 200",
        "row 3: keyscale='H major': write it like 'C major', 'F# minor' or 'Bb major'",
    ]


def test_bad_plan_stops_the_cli_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.engine.engine

    def no_model(*a: object, **k: object) -> None:
        raise AssertionError("a model was loaded for a bad plan")

    monkeypatch.setattr(workbench.engine.engine.Engine, "load", no_model)
    path = write(tmp_path / "bad.csv", "prompt,seed,model\ncalm,1,tiny\ncalm,x,tiny\n")
    out = tmp_path / "out"
    assert main(["batch", "run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "has 1 problem(s); nothing was run" in err and "row 3: seeds='x': bad seed" in err
    assert not out.exists()
    assert main(["batch", "validate", str(path)]) == 2


def test_grouping_needs_equal_recipes_and_consecutive_seeds(tmp_path: Path) -> None:
    plan = load_plan(
        yaml_plan(
            tmp_path,
            "model: tiny\nentries:\n  - {prompt: a, seeds: '0-5;9'}\n  - {prompt: b, seeds: '6-7'}\n",
        )
    )
    got = [[j.seed for j in g] for g in group_jobs(plan.jobs, 4)]
    assert got == [[0, 1, 2, 3], [4, 5], [9], [6, 7]]
    assert [[j.seed for j in g] for g in group_jobs(plan.jobs, 1)] == [
        [s] for s in (0, 1, 2, 3, 4, 5, 9, 6, 7)
    ]
    groups = group_jobs(plan.jobs, 2)
    shards = [shard(groups, i, 3) for i in range(3)]
    ids = sorted(j.job_id for s in shards for g in s for j in g)
    assert ids == sorted(j.job_id for j in plan.jobs)
    with pytest.raises(InputError, match="max_group=0"):
        group_jobs(plan.jobs, 0)


def test_qc_checks_measure_generated_audio(tone) -> None:
    sr = 48_000
    loud = np.clip(tone(1.0, level=1.5), -1, 1)
    gap = np.concatenate([tone(1.0), np.zeros((2, int(2.5 * sr)), np.float32), tone(1.0)], axis=1)
    assert qc.clipped_fraction(loud) > 0.1 and qc.clipped_fraction(tone(1.0)) == 0.0
    assert qc.longest_silence_s(gap, sr) == pytest.approx(2.5, abs=0.1)
    rules = qc.QcRules()
    target = qc.Target(
        bpm_range=(55, 80),
        key="C major",
        loudness_lufs=-22.0,
        loudness_tolerance_lu=2.0,
        true_peak_dbtp=-2.0,
        max_silence_s=3.0,
    )
    music = qc.basic_analyzer(Audio(loud, sr))
    levels = {"integrated_lufs": -22.5, "true_peak_dbtp": -2.3}
    report = qc.run_checks({**music, **levels, "tempo_bpm": 140.0, "key": "A minor"}, target, rules)
    # 140 bpm is double time of 70 (inside 55-80); A minor is C major's relative minor.
    assert report.failed == ["clipping"] and report.rejected
    bad = {
        "clipped_fraction": 0.0,
        "tempo_bpm": 200.0,
        "key": "D major",
        "integrated_lufs": -17.0,
        "true_peak_dbtp": -1.0,
        "delivery_passed": False,
        "delivery_reasons": ["DC offset +0.5 FS"],
    }
    report = qc.run_checks({**music, **bad}, target, rules)
    assert report.failed == ["tempo", "key", "loudness", "true_peak", "delivery"] and report.rejected
    # Tempo and key are recorded but reject only when the rules say so.
    report = qc.run_checks({**music, **levels, "clipped_fraction": 0.0, "tempo_bpm": 200.0}, target, rules)
    assert report.failed == ["tempo"] and not report.rejected
    assert qc.run_checks({**music, "tempo_bpm": 200.0}, target, qc.QcRules(reject=("tempo",))).rejected
    assert qc.keys_match("F# minor", "Gb minor") and qc.keys_match("A minor", "C major", "exact") is False
    with pytest.raises(InputError, match="qc.rejct"):
        qc.QcRules.from_dict({"rejct": ["tempo"]})
    with pytest.raises(InputError, match="unknown check"):
        qc.QcRules.from_dict({"reject": ["vibes"]})


def test_full_analyzer_feeds_tempo_key_and_delivery_from_the_metrics_package() -> None:
    sr = 48_000
    t = np.arange(6 * sr) / sr
    # A C major triad struck twice a second (120 bpm), well under the retail loudness target.
    x = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) * np.exp(-(t % 0.5) * 12) * 0.2
    metrics = qc.full_analyzer(Audio(np.stack([x, x]).astype(np.float32), sr), None, "retail")
    assert metrics["key"] == "C major" and metrics["tempo_bpm"] == pytest.approx(120, abs=3)
    assert metrics["delivery_passed"] is False and metrics["delivery_reasons"][0].startswith("loudness -20.")
    target = qc.Target(bpm_range=(118, 122), key="A minor", loudness_lufs=-14.0)
    report = qc.run_checks(metrics, target, qc.QcRules())
    assert report.failed == ["loudness", "delivery"]
    assert [c.passed for c in report.checks if c.name in ("tempo", "key")] == [True, True]


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_exports_are_tagged(tmp_path: Path, fmt: str, tone) -> None:
    request = Text2Music(prompt="x", bpm=72, keyscale="A minor", seed=3)
    tags = tags_for(title="Spa 1", genre_label="Spa", request=request, model="tiny", seed=3, artist="Me")
    path = write_tagged(tmp_path / f"t.{fmt}", Audio(tone(0.5), 48_000), tags)
    got = read_tags(path)
    assert got["title"] == "Spa 1" and got["genre"] == "Spa" and got["bpm"] == "72" and got["seed"] == "3"
    assert got["ai_generated"] == "yes" and got["model"] == "tiny" and got["lora"] == "none"
    assert "AI-generated" in got["comment"] and got["key"] == "A minor"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"t.{fmt}"]  # no staging file left
    assert id3_key("F# minor") == "F#m" and id3_key("Bb major") == "Bb"
    with pytest.raises(InputError, match="export.format"):
        ExportSettings.from_dict({"format": "ogg"})


def test_manifest_skips_torn_lines_and_prefers_finished(tmp_path: Path) -> None:
    mf.append_record(tmp_path, 0, {"job_id": "a", "status": "failed", "index": 0, "finished_at": "1"})
    mf.append_record(tmp_path, 0, {"job_id": "a", "status": "ok", "index": 0, "finished_at": "2"})
    with mf.shard_path(tmp_path, 0).open("a") as fh:
        fh.write('{"job_id": "b", "status": "o')  # a kill mid-write
    mf.append_record(tmp_path, 1, {"job_id": "c", "status": "rejected", "index": 2, "finished_at": "3"})
    mf.append_record(tmp_path, 0, {"job_id": "d", "status": "ok", "index": 3, "finished_at": "4"})
    assert [r["job_id"] for r in mf.read_records(tmp_path)] == ["a", "a", "d", "c"]
    assert mf.finished_ids(tmp_path) == {"a", "c", "d"}
    lines = mf.shard_path(tmp_path, 0).read_text().splitlines()
    assert json.loads(lines[-1])["job_id"] == "d"


@pytest.mark.parametrize(
    "argv",
    [["batch"], ["batch", "run"], ["batch", "validate"], ["batch", "status"], ["batch", "export-campaign"]],
)
def test_batch_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert "usage: workbench batch" in capsys.readouterr().out


def test_leftovers_of_uncommitted_jobs_are_removed_and_nothing_else(tmp_path: Path) -> None:
    from workbench.batch.commit import ItemWriter

    plan = load_plan(yaml_plan(tmp_path, "model: tiny\nentries:\n  - {prompt: a, seeds: 0-2}\n"))
    done, pending = plan.jobs[0].job_id, [plan.jobs[1], plan.jobs[2]]
    tracks, rejected = tmp_path / "out" / "tracks", tmp_path / "out" / "rejected"
    tracks.mkdir(parents=True)
    rejected.mkdir()
    keep = [tracks / f"{done}.wav", tracks / f"{done}.json"]
    drop = [
        tracks / f"{pending[0].job_id}.wav",
        tracks / f".{pending[0].job_id}.staging.wav",
        tracks / f"..{pending[0].job_id}.staging.abc123.wav",
        rejected / f"{pending[1].job_id}.json",
    ]
    for path in keep + drop:
        path.write_text("x")
    writer = ItemWriter(tmp_path / "out", batch_id="b", plan_source="p", settings=ExportSettings())
    assert writer.clean_uncommitted(pending) == len(drop)
    assert sorted(p.name for p in tracks.iterdir()) == sorted(p.name for p in keep) and not list(
        rejected.iterdir()
    )
