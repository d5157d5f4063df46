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


def test_the_report_votes_csv_writes_formula_ids_as_text_and_reads_them_back(tmp_path: Path) -> None:
    from dataclasses import replace

    from evals.preference.simulate import CampaignSimulation, simulate_votes
    from evals.preference.vote_io import read_votes_file, write_votes_file

    votes = simulate_votes(
        CampaignSimulation(ratings={"A": 1000.0, "B": 1050.0}, raters=2, votes_per_rater=3)
    )
    votes[0] = replace(votes[0], rater=FORMULA, prompt_id="@SUM(A1)")
    votes[1] = replace(votes[1], rater="'=already quoted")
    path = write_votes_file(votes, tmp_path / "votes.csv")
    rows = _cells(path)
    header = rows[0]
    assert rows[1][header.index("rater")] == "'" + FORMULA
    assert rows[1][header.index("prompt_id")] == "'@SUM(A1)"
    assert (
        rows[2][header.index("rater")] == "''=already quoted"
    )  # quoted once more, so it reads back unchanged
    assert read_votes_file(path) == votes


def test_a_campaign_export_reads_back_the_ids_it_stored(tmp_path: Path, monkeypatch) -> None:
    from evals.preference.vote_io import read_votes_file
    from workbench.campaigns import db
    from workbench.campaigns import export as export_module

    row = {name: None for name in db.VOTE_COLUMNS}
    row.update(campaign="c", rater=FORMULA, genre="spa", prompt_id="-p1", system_left="'A", system_right="B")
    row.update(outcome="left", is_gold=0, created_at="2026-12-01T00:00:00")
    monkeypatch.setattr(db, "get_campaign", lambda store, name: None)
    monkeypatch.setattr(db, "vote_rows", lambda store, name: [row])
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"votes{suffix}"
        export_module.export_votes(None, "c", out)  # type: ignore[arg-type]
        (vote,) = read_votes_file(out)
        assert (vote.rater, vote.prompt_id, vote.system_left) == (FORMULA, "-p1", "'A"), suffix


def test_plain_cell_undoes_safe_cell_for_any_text() -> None:
    from workbench.core.cells import plain_cell, safe_cell

    for value in [
        "=1",
        "'=1",
        "''=1",
        "'",
        "''",
        "'abc",
        "-3.5",
        "'-3.5",
        "-x",
        "@",
        "\tx",
        "",
        "ok",
        7,
        None,
    ]:
        assert plain_cell(safe_cell(value)) == value, value
