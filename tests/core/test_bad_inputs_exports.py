"""Formula cells in the CSV files people open in a spreadsheet: names a user chose (an upload's file name, a
system or rater id) must come out as text, not as a formula the spreadsheet runs."""

from __future__ import annotations

import csv
from pathlib import Path

FORMULA = '=HYPERLINK("http://x","y")'


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_report_tables_write_formula_cells_as_text(tmp_path: Path) -> None:
    from evals.report.tables import write_csv

    rows = [{"system": FORMULA, "rater": "@r1", "score": -3.5, "delta": "-2", "note": "+SUM(A1)"}]
    cells = _cells(write_csv(tmp_path / "standings.csv", rows))
    assert cells[1] == ["'" + FORMULA, "'@r1", "-3.5", "-2", "'+SUM(A1)"]


def test_metrics_tab_csv_writes_an_uploaded_name_as_text(tmp_path: Path, write_tone) -> None:
    from evals import api
    from workbench.ui import tab_metrics as tm

    upload = write_tone(tmp_path / "=1+1.wav", duration_s=1.0)
    tracks = api.analyze_tracks(tm.upload_inputs([str(upload)]), [])
    path = tm.write_tracks_csv(tm.track_table(tracks, []), tmp_path / "tracks.csv")
    header, row = _cells(path)
    assert row[header.index("track")] == "'=1+1.wav"
    assert float(row[header.index("loudness_lufs")]) < 0  # numbers stay numbers


def test_codes_out_writes_a_formula_rater_id_as_text(tmp_path: Path) -> None:
    from workbench.cli.campaign import write_codes_csv

    path = write_codes_csv(tmp_path / "codes.csv", {"=cmd|' /C calc'!A0": "ab12", "r2": "cd34"})
    assert _cells(path) == [["rater", "code"], ["'=cmd|' /C calc'!A0", "ab12"], ["r2", "cd34"]]
