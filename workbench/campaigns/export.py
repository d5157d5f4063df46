"""Export a campaign's votes (any time, also mid-campaign) as CSV or Parquet, with the store's column names.

The columns are the ``votes`` table's (see workbench/core/migrations.py ``0002_campaigns``), a superset of what
``evals.preference.vote_io.read_votes_file`` reads, so an export feeds ``workbench eval`` reports directly. Text
that a spreadsheet would run as a formula (a comment starting with ``=``) is prefixed with ``'`` (core/cells.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

from workbench.campaigns import db
from workbench.core.cells import safe_cell, safe_frame
from workbench.core.errors import InputError
from workbench.core.store import Store

FORMATS = (".csv", ".parquet")


def export_votes(store: Store, campaign: str, out: str | Path) -> int:
    """Write all votes of ``campaign`` to ``out``; returns the number of votes written."""
    db.get_campaign(store, campaign)  # a clear error for an unknown name
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError("out", str(path), "end the file name in .csv or .parquet")
    rows = db.vote_rows(store, campaign)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if suffix == ".csv":
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=db.VOTE_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if row[k] is None else safe_cell(row[k]) for k in db.VOTE_COLUMNS})
    else:
        import pandas as pd

        frame = safe_frame(pd.DataFrame(rows, columns=db.VOTE_COLUMNS))
        frame["is_gold"] = frame["is_gold"].astype(bool)
        for name in ("fit_left", "fit_right"):
            frame[name] = frame[name].astype("Int64")
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return len(rows)
