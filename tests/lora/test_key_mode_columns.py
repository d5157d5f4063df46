"""Label files that write the key as two columns (tonic "F", mode "major") are read, not rejected."""

from __future__ import annotations

import json
from pathlib import Path

from lora.dataset_sources import read_manifest


def test_labels_json_with_separate_key_and_mode(tmp_path: Path, write_clip) -> None:
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        write_clip(tmp_path / name, 220.0)
    rows = [
        {"id": "a", "file": "a.wav", "genre": "spa", "bpm": 63, "key": "F", "mode": "major", "seconds": 12.0},
        {"file": "b.wav", "key": "f#", "mode": "Minor"},
        {"file": "c.wav", "key": "A minor", "mode": "minor"},  # already joined: kept as is
        {"file": "d.wav", "mode": "major"},  # a mode alone: the key is left to the estimate
    ]
    (tmp_path / "labels.json").write_text(json.dumps(rows))
    candidates, issues = read_manifest(tmp_path / "labels.json")
    assert [c.key for c in candidates] == ["F major", "F# minor", "A minor", None]
    assert [i.reason for i in issues if i.severity == "error"] == []
    assert any("id" in i.reason and "mode" not in i.reason for i in issues)  # only truly unknown columns


def test_csv_with_a_scale_column(tmp_path: Path, write_clip) -> None:
    write_clip(tmp_path / "x.wav", 220.0)
    (tmp_path / "m.csv").write_text("file,key,scale,bpm\nx.wav,Bb,major,70\n")
    (cand,), issues = read_manifest(tmp_path / "m.csv")
    assert (cand.key, cand.bpm) == ("Bb major", 70) and issues == []
