"""Dataset building: sources, validation report with bad members, estimates, trigger tags, split, storage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lora.dataset import DatasetOptions, apply_trigger, build_dataset, dataset_summary, load_records
from workbench.core.errors import InputError


def _reasons(report) -> dict[str, str]:
    return {i.source: i.reason for i in report.issues if i.severity == "error"}


def test_folder_with_bad_members_builds_with_a_report_naming_each(
    tmp_path: Path, write_beat_clip, write_clip, write_sparse_long_wav
) -> None:
    folder = tmp_path / "tracks"
    write_beat_clip(folder / "good_a.wav", bpm=120.0)
    write_beat_clip(folder / "good_b.wav", bpm=100.0, freq_hz=330.0)
    (folder / "good_b.txt").write_text("[verse]\nla la la\n")
    (folder / "broken.wav").write_bytes(b"RIFF this is not audio at all" * 10)
    write_clip(folder / "silent.wav", 220.0, level=0.0)  # digital silence apart from -34 dBFS noise...
    sf.write(
        str(folder / "silent.wav"), np.zeros((96_000, 2), dtype=np.float32), 48_000
    )  # ...now true silence
    long = write_sparse_long_wav(folder / "two_hours.wav", 2 * 3600)
    assert long.stat().st_size > 100e6  # really "2 hours" by size and header, yet sparse on disk

    report = build_dataset(folder, tmp_path / "ds", DatasetOptions(val_fraction=0.0, estimate=True))
    reasons = _reasons(report)
    assert set(reasons) == {"broken.wav", "silent.wav", "two_hours.wav"}
    assert "not a readable audio file" in reasons["broken.wav"]
    assert "silent" in reasons["silent.wav"]
    assert "7200.0 s long" in reasons["two_hours.wav"] and "maximum is 600 s" in reasons["two_hours.wav"]
    kept = {Path(r.audio_path).name: r for r in report.records}
    assert set(kept) == {"good_a.wav", "good_b.wav"}
    # Missing bpm/key are estimated and marked; lyrics from the .txt sidecar make a vocal track.
    for r in kept.values():
        assert "bpm" in r.estimated and "key" in r.estimated
        assert r.key.split()[1] in ("major", "minor")
        assert r.duration_s == pytest.approx(4.0)
    assert kept["good_a.wav"].bpm == 120 and kept["good_b.wav"].bpm == 100
    assert kept["good_b.wav"].instrumental is False and "la la la" in kept["good_b.wav"].lyrics
    assert kept["good_a.wav"].instrumental is True and kept["good_a.wav"].lyrics_for_model == "[Instrumental]"
    text = (tmp_path / "ds" / "report.txt").read_text()
    for name in ("broken.wav", "silent.wav", "two_hours.wav"):
        assert name in text
    assert "ESTIMATE good_a.wav: bpm=" in text


def test_csv_manifest_rows_missing_file_and_wrong_bpm_type_are_reported(tmp_path: Path, write_clip) -> None:
    write_clip(tmp_path / "a.wav", 200.0, seed=1)
    write_clip(tmp_path / "b.wav", 300.0, seed=2)
    write_clip(tmp_path / "c.wav", 400.0, seed=3)
    manifest = tmp_path / "tracks.csv"
    manifest.write_text(
        "File,Caption,BPM,Key,time signature,genre,mood\n"
        "a.wav,lounge jazz,96,F major,4/4,hotel_lobby,calm\n"
        "missing.wav,lounge jazz,96,F major,4,hotel_lobby,calm\n"
        "b.wav,lounge jazz,fast,F major,4,hotel_lobby,calm\n"
        "c.wav,,,Fb lydian,4,spa,calm\n"
    )
    report = build_dataset(manifest, None, DatasetOptions(val_fraction=0.0, estimate=False))
    reasons = _reasons(report)
    assert reasons == {
        "tracks.csv row 2 (missing.wav)": "audio file not found; check the path (relative to the manifest)",
        "tracks.csv row 3 (b.wav)": "bpm='fast': must be a number between 30 and 300",
        "tracks.csv row 4 (c.wav)": "key='Fb lydian': write it like 'C major', 'F# minor' or 'Bb major'",
    }
    warnings = [i.reason for i in report.issues if i.severity == "warning"]
    assert warnings == ["columns ignored: mood"]
    (rec,) = report.records
    assert (rec.caption, rec.bpm, rec.key, rec.time_signature, rec.genre) == (
        "lounge jazz",
        96,
        "F major",
        "4",
        "hotel_lobby",
    )
    assert rec.estimated == ["duration_s"]  # nothing estimated when the manifest gives it (estimate off here)


def test_json_manifest_and_sidecar_metadata(tmp_path: Path, write_clip) -> None:
    write_clip(tmp_path / "x.wav", 250.0)
    (tmp_path / "m.json").write_text(
        json.dumps(
            {
                "samples": [
                    {
                        "file": "x.wav",
                        "caption": "spa pads",
                        "bpm": 64.4,
                        "keyscale": "a minor",
                        "instrumental": "yes",
                    },
                    {"file": "x.wav", "caption": "dup", "bpm": True},
                ]
            }
        )
    )
    report = build_dataset(tmp_path / "m.json", None, DatasetOptions(val_fraction=0.0, estimate=False))
    (rec,) = report.records
    assert (rec.bpm, rec.key, rec.instrumental) == (64, "A minor", True)
    assert _reasons(report) == {"m.json row 2 (x.wav)": "bpm=True: must be a number between 30 and 300"}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("prepend", "zzspa, soft pads"), ("append", "soft pads, zzspa"), ("replace", "zzspa")],
)
def test_trigger_tag_modes(tmp_path: Path, mode: str, expected: str, write_clip) -> None:
    assert apply_trigger("soft pads", "zzspa", mode) == expected
    write_clip(tmp_path / "a" / "t.wav", 300.0)
    (tmp_path / "a" / "t.json").write_text('{"caption": "soft pads"}')
    report = build_dataset(
        tmp_path / "a",
        None,
        DatasetOptions(trigger_tag="zzspa", trigger_mode=mode, val_fraction=0.0, estimate=False),
    )
    assert report.records[0].caption == expected


def test_split_is_deterministic_and_saved_as_hf_dataset(tmp_path: Path, make_folder) -> None:
    folder = make_folder(tmp_path / "audio", n=5)
    opts = DatasetOptions(val_fraction=0.2, seed=7, estimate=False)
    first = build_dataset(folder, tmp_path / "ds", opts)
    second = build_dataset(folder, None, opts)
    assert [r.split for r in first.records] == [r.split for r in second.records]
    assert sum(r.split == "validation" for r in first.records) == 1
    from datasets import load_from_disk

    ds = load_from_disk(str(tmp_path / "ds" / "dataset"))
    assert (ds["train"].num_rows, ds["validation"].num_rows) == (4, 1)
    back = load_records(tmp_path / "ds")
    assert sorted(r.id for r in back) == sorted(r.id for r in first.records)
    assert back[0].bpm in (90, 91, 92, 93, 94) and back[0].key == "C major"
    summary = dataset_summary(tmp_path / "ds")
    assert summary["kept"] == 5 and summary["total_duration_s"] == pytest.approx(10.0)


def test_bad_options_and_sources_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="trigger_tag=''"):
        build_dataset(tmp_path, None, DatasetOptions(trigger_mode="replace"))
    with pytest.raises(InputError, match="trigger_mode='middle'"):
        build_dataset(tmp_path, None, DatasetOptions(trigger_mode="middle", trigger_tag="x"))
    with pytest.raises(InputError, match="give a folder of audio files"):
        build_dataset(tmp_path / "nope.txt", None)
    with pytest.raises(InputError, match="lora prepare"):
        load_records(tmp_path)
    report = build_dataset(
        tmp_path, None, DatasetOptions(estimate=False)
    )  # an empty folder: a report, no crash
    assert report.records == [] and "no audio files found" in report.issues[0].reason


def test_scan_gives_editable_rows_that_build_back(tmp_path: Path, make_folder) -> None:
    from lora.dataset import scan

    folder = make_folder(tmp_path / "audio", n=3, duration_s=1.0)
    rows, issues = scan(folder)
    assert issues == [] and [Path(r["file"]).name for r in rows] == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert rows[0]["caption"] == "soft tone 0, warm pad" and rows[0]["bpm"] == 90
    rows[0]["caption"] = "edited in the table"
    rows[1]["bpm"] = "fast"  # a bad edit is reported like a bad manifest row
    report = build_dataset(rows, tmp_path / "ds", DatasetOptions(val_fraction=0.0, estimate=False))
    assert _reasons(report) == {
        f"table row 2 ({rows[1]['file']})": "bpm='fast': must be a number between 30 and 300"
    }
    assert sorted(r.caption for r in report.records) == ["edited in the table", "soft tone 2, warm pad"]
