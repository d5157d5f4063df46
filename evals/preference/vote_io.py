"""Votes from rows: exported CSV / JSON / Parquet files, or the store's rows that the campaign feature hands over.

The store's ``votes`` table is owned by the campaign feature (its migration, and ``workbench.campaigns.db.load_votes``
which reads it); this module never sees the store. The columns read, one row per vote, are exactly the ``Vote``
fields:

    pair_id        TEXT   unique id of the served pair this vote answers (the exactly-once key)
    campaign       TEXT   campaign name
    rater          TEXT   rater id or login
    genre          TEXT   genre / venue key from configs/genres.yaml (e.g. "spa")
    prompt_id      TEXT   the prompt both clips were made from
    system_left    TEXT   system name of the clip shown on the left (server-side mapping, never sent to raters)
    system_right   TEXT   system name of the clip shown on the right
    outcome        TEXT   'left' | 'right' | 'tie' | 'both_bad'
    is_gold        INTEGER 0/1: gold trial (a clip against a degraded copy of itself)
    gold_expected  TEXT   'left' | 'right' (side of the undegraded clip) for gold trials, else NULL
    repeat_of      TEXT   pair_id of the original vote when this pair is its swapped repeat, else NULL
    created_at     TEXT   ISO 8601 UTC commit time
    fit_left       INTEGER optional 1-5 "fit for this venue" rating of the left clip, else NULL
    fit_right      INTEGER optional, right clip

Columns beyond these are ignored; a missing optional column (is_gold, gold_expected, repeat_of, created_at,
fit_left, fit_right) reads as its default; a missing required column is an error naming it. Export files use the
same column names (CSV header, JSON objects, or Parquet columns). In CSV and Parquet, text a spreadsheet would run
as a formula ("=HYPERLINK(...)" as a rater id) is stored with a leading ``'`` and read back without it
(workbench/core/cells.py), so a file opened in Excel runs nothing and a report reads the ids as they were.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from evals.preference.preference import Vote, validate_votes
from workbench.core.cells import plain_cell, safe_cell
from workbench.core.errors import InputError

VOTE_COLUMNS = [f.name for f in fields(Vote)]
REQUIRED_COLUMNS = ["campaign", "rater", "genre", "prompt_id", "system_left", "system_right", "outcome"]
_BOOL_TRUE = {"1", "true", "yes", "y", "t"}
_BOOL_FALSE = {"0", "false", "no", "n", "f", ""}


def _empty(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _to_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not _empty(value):
        return bool(value)
    text = "" if _empty(value) else str(value).strip().lower()
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise InputError(field, value, "use 1/0 or true/false")


def _to_int(field: str, value: Any) -> int | None:
    if _empty(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, "must be an integer or empty") from None
    if not number.is_integer():
        raise InputError(field, value, "must be an integer or empty")
    return int(number)


def vote_from_record(record: dict[str, Any], where: str = "vote") -> Vote:
    missing = [c for c in REQUIRED_COLUMNS if c not in record]
    if missing:
        raise InputError(
            where, sorted(record), f"missing column(s) {', '.join(missing)}; see evals/preference/vote_io.py"
        )

    def text(name: str) -> str | None:
        value = record.get(name)
        return None if _empty(value) else str(value)

    return Vote(
        campaign=text("campaign") or "",
        rater=text("rater") or "",
        genre=text("genre") or "",
        prompt_id=text("prompt_id") or "",
        system_left=text("system_left") or "",
        system_right=text("system_right") or "",
        outcome=(text("outcome") or "").strip().lower(),
        pair_id=text("pair_id") or "",
        is_gold=_to_bool(f"{where}.is_gold", record.get("is_gold")),
        gold_expected=text("gold_expected"),
        repeat_of=text("repeat_of"),
        created_at=text("created_at") or "",
        fit_left=_to_int(f"{where}.fit_left", record.get("fit_left")),
        fit_right=_to_int(f"{where}.fit_right", record.get("fit_right")),
    )


def votes_from_records(records: list[dict[str, Any]], source: str = "votes") -> list[Vote]:
    """Validated votes from rows with the columns above (store rows, file records); ``source`` names them in errors."""
    votes = [vote_from_record(r, f"{source}[{i}]") for i, r in enumerate(records)]
    return validate_votes(votes)


def read_votes_file(path: str | Path) -> list[Vote]:
    """Votes from an export: .csv, .json (a list of objects, or {"votes": [...]}), .jsonl or .parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "votes", str(path), "file not found; give a CSV, JSON, JSONL or Parquet export of votes"
        )
    suffix = path.suffix.lower()
    records: Any
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError("votes", str(path), f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
        records = data.get("votes") if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise InputError("votes", str(path), 'JSON must be a list of vote objects or {"votes": [...]}')
    elif suffix == ".jsonl":
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        # nullable columns (Int64 fit ratings) hold pd.NA, which is neither None nor a float NaN
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    else:
        raise InputError("votes", str(path), "use a .csv, .json, .jsonl or .parquet file")
    if not records:
        raise InputError("votes", str(path), "the file holds no votes")
    if suffix in (".csv", ".parquet"):  # the formats people open in a spreadsheet, written through safe_cell
        records = [{k: plain_cell(v) for k, v in r.items()} for r in records]
    return votes_from_records(records, path.name)


def write_votes_file(votes: list[Vote], path: str | Path) -> Path:
    """Write votes as .csv or .json with the column names above (what ``read_votes_file`` reads back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(v) for v in votes]
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    elif path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=VOTE_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: ("" if v is None else int(v) if isinstance(v, bool) else safe_cell(v))
                        for k, v in row.items()
                    }
                )
    else:
        raise InputError("path", str(path), "write votes to a .csv or .json file")
    return path
