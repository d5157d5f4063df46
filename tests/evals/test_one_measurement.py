"""One implementation per metric: for the same generated file, the batch QC gate (either analyzer), the Metrics
tab and ``workbench eval analyze`` give the same numbers, and the result card's summary line shows them rounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals import analyze_file, api
from evals.audio import summary
from workbench.batch import load_plan, qc, run_batch
from workbench.batch import manifest as mf
from workbench.cli.main import main
from workbench.core.audio_io import read_audio
from workbench.core.store import Store
from workbench.ui import tab_metrics

PLAN = (
    "model: tiny\ndefaults: {duration_s: 4, steps: 2}\nexport: {format: wav}\n"
    "qc: {analyzer: full, reject: []}\nentries:\n  - {genre: spa, seeds: 7}\n"
)
# QC metric name -> TrackAnalysis field (the QC names are what plans' thresholds and the manifest use).
SAME = {
    "integrated_lufs": "integrated_loudness_lufs",
    "true_peak_dbtp": "true_peak_dbtp",
    "longest_silence_s": "longest_silence_s",
    "tempo_bpm": "tempo_bpm",
    "beat_regularity": "beat_regularity",
    "key": "keyscale",
    "key_confidence": "key_confidence",
    "clipped_samples": "clipped_samples",
    "dropouts": "dropouts",
    "dc_offset": "dc_offset",
    "mono_loudness_drop_lu": "mono_loudness_drop_lu",
    "loudness_range_lu": "loudness_range_lu",
    "spectral_centroid_hz": "spectral_centroid_hz",
    "onset_density_per_s": "onset_density_per_s",
}
LEVELS = (
    "clipped_fraction",
    "longest_silence_s",
    "integrated_lufs",
    "true_peak_dbtp",
)  # what "basic" measures


def test_qc_metrics_tab_and_eval_analyze_agree_on_a_generated_file(
    tmp_path: Path, engine: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(PLAN)
    out = tmp_path / "out"
    run_batch(load_plan(plan_path), out, make_engine=lambda _m: engine, store=Store(tmp_path / "s.sqlite"))
    (record,) = mf.read_records(out)
    path = record["path"]
    # The gate measured the mastered audio before writing it; a float WAV holds those samples bit-exactly.
    gate = json.loads(Path(record["sidecar"]).read_text())["batch"]["qc"]["metrics"]
    audio = read_audio(path)
    full = qc.full_analyzer(audio, None, "spa")
    basic = qc.basic_analyzer(audio)
    (track,) = api.analyze_tracks(tab_metrics.upload_inputs([path]), ["spa"])
    row = tab_metrics.track_table([track], ["spa"]).iloc[0]
    capsys.readouterr()
    assert main(["eval", "analyze", path, "--genre", "spa", "--json", str(tmp_path / "a.json")]) == 0
    (cli,) = json.loads((tmp_path / "a.json").read_text())

    a = track.analysis
    assert a.integrated_loudness_lufs == pytest.approx(
        -22.0, abs=0.5
    )  # mastered to the spa spec: real numbers
    for name, attribute in SAME.items():
        value = getattr(a, attribute)
        assert full[name] == value, name
        if name != "key":
            assert gate[name] == value, name  # the manifest's copy, read back from JSON
            assert cli[attribute] == value, name
    assert gate["key"] == full["key"] == f"{cli['key']} {cli['mode']}"
    assert [basic[k] for k in LEVELS] == [full[k] for k in LEVELS]
    assert row["loudness_lufs"] == round(a.integrated_loudness_lufs, 3) and row["key"] == a.keyscale
    # One delivery verdict, whichever face asked; the CLI's file is what analyze_file(genre=) gives.
    assert full["delivery_passed"] == track.delivery["spa"].passed == cli["delivery"]["passed"]
    assert full["delivery_reasons"] == list(track.delivery["spa"].reasons) == cli["delivery"]["reasons"]
    assert cli == analyze_file(path, genre="spa").to_dict() == track.for_genre("spa").to_dict()
    card = summary.measure(audio)
    assert card.integrated_lufs == round(a.integrated_loudness_lufs, 2)
    assert card.true_peak_dbtp == round(a.true_peak_dbtp, 2) and card.key == a.keyscale
