"""Reading plan files: CSV, JSON or YAML rows, CSV cell conversion by field type, and the seed syntax.

Row numbers in messages are what a user sees in the file: for CSV the line number (the header is row 1, so the
first data row is row 2, as in a spreadsheet); for JSON/YAML the position in ``entries`` counting from 1.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.config import read_data, read_table
from workbench.core.errors import InputError, short_repr
from workbench.engine.requests import MAX_SEED, REQUEST_TYPES

MAX_SEEDS_PER_ROW = 100_000
PLAN_SUFFIXES = (".csv", ".json", ".yaml", ".yml")
TOP_KEYS = {"name", "model", "defaults", "grid", "entries", "run", "qc", "export"}
# Row keys that are not request fields: how to expand the row and what to record with it.
ROW_META = {"seeds", "seed", "model", "lora", "lora_scale", "title", "prompt_id", "task", "think", "lm"}
NOT_IN_PLANS = {"batch_size"}  # batching is decided by the runner (run.max_group), not per row


def _request_fields() -> dict[str, str]:
    """Every request field of every task, with its annotation text (used to convert CSV cells)."""
    out: dict[str, str] = {}
    for cls in REQUEST_TYPES.values():
        for f in dataclasses.fields(cls):
            if f.name not in ("lora",) and f.name not in NOT_IN_PLANS:
                out[f.name] = str(f.type)
    return out


REQUEST_FIELDS = _request_fields()
ROW_KEYS = frozenset(set(REQUEST_FIELDS) | ROW_META)


@dataclass(frozen=True)
class PlanProblem:
    row: int  # CSV: line number in the file (header = row 1); JSON/YAML: position in `entries` (from 1); 0 = plan-wide
    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        shown = short_repr(self.value, 80)
        where = f"row {self.row}" if self.row else "plan"
        return f"{where}: {self.field}={shown}: {self.reason}"


# --- reading -------------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]], list[PlanProblem]]:
    """(plan-level settings, [(row number, row)], problems) from a CSV, JSON or YAML file."""
    if not path.is_file():
        raise InputError("plan", str(path), "file not found; give a .csv, .json or .yaml plan")
    suffix = path.suffix.lower()
    if suffix not in PLAN_SUFFIXES:
        raise InputError(
            "plan", str(path), f"unknown plan format '{suffix}'; use one of {', '.join(PLAN_SUFFIXES)}"
        )
    if suffix == ".csv":
        return _read_csv(path)
    data = read_data(path, "plan")
    if isinstance(data, list):
        data = {"entries": data}
    if not isinstance(data, dict):
        raise InputError("plan", str(path), "must be a mapping with 'entries:' (or a list of entries)")
    problems = [
        PlanProblem(0, k, data[k], f"unknown plan key; allowed: {', '.join(sorted(TOP_KEYS))}")
        for k in sorted(set(data) - TOP_KEYS)
    ]
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise InputError("entries", entries, "the plan needs a non-empty 'entries:' list of rows")
    rows: list[tuple[int, dict[str, Any]]] = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(PlanProblem(i, "entry", entry, "each entry must be a mapping of field: value"))
            continue
        rows.append((i, entry))
    return data, rows, problems


def _read_csv(path: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]], list[PlanProblem]]:
    header, raw_rows = read_table(path, "plan")
    problems: list[PlanProblem] = []
    if not header:
        raise InputError("plan", str(path), "the CSV is empty; the first line must name the columns")
    if "seeds" not in header and "seed" not in header:
        problems.append(
            PlanProblem(1, "columns", header, "column 'seed' (or 'seeds') is missing; every row needs seeds")
        )
    if "prompt" not in header and "genre" not in header:
        problems.append(PlanProblem(1, "columns", header, "column 'prompt' or 'genre' is missing"))
    for name in header:
        if name not in ROW_KEYS:
            problems.append(
                PlanProblem(1, name, name, f"unknown column; allowed: {', '.join(sorted(ROW_KEYS))}")
            )
    rows = []
    for line, raw in enumerate(raw_rows, start=2):
        if None in raw:  # csv puts surplus cells under the key None
            problems.append(
                PlanProblem(line, "cells", raw[None], f"more cells than the {len(header)} columns")
            )
        row = {k.strip(): v for k, v in raw.items() if k is not None and v is not None and v.strip() != ""}
        if row:
            rows.append((line, {k: _from_cell(k, v.strip()) for k, v in row.items()}))
    return {}, rows, problems


def _from_cell(name: str, text: str) -> Any:
    """CSV cells are text; convert by the request field's type. Bad values stay text so validation names them."""
    kind = "bool" if name == "think" else REQUEST_FIELDS.get(name, "str")
    if name in ("seeds", "seed"):
        return text
    if name == "lora_scale" or kind.startswith("float"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind.startswith("int"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "y"):
            return True
        if lowered in ("false", "no", "0", "n"):
            return False
        return text
    if kind.startswith("tuple"):
        return [t.strip() for t in text.split(";") if t.strip()]
    return text


def parse_seeds(value: Any) -> list[int]:
    """``7``, ``"0-9"`` (inclusive), ``"1;5;9"``, ``[1, "10-12"]`` or ``{start: 0, count: 50}``."""
    if isinstance(value, dict):
        if set(value) != {"start", "count"}:
            raise ValueError("give seeds as {start: N, count: M}")
        start, count = value["start"], value["count"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, count)) or count < 1:
            raise ValueError("start and count must be whole numbers, count >= 1")
        if count > MAX_SEEDS_PER_ROW:  # before range(): a list of 10**9 seeds would exhaust memory
            raise ValueError(f"count {count} is more than {MAX_SEEDS_PER_ROW} seeds in one row")
        return _checked(list(range(start, start + count)))
    parts: list[Any] = value if isinstance(value, list) else [value]
    seeds: list[int] = []
    for part in parts:
        if isinstance(part, bool):
            raise ValueError("a seed is a whole number, not true/false")
        if isinstance(part, int):
            seeds.append(part)
            continue
        if isinstance(part, float) and part.is_integer():
            seeds.append(int(part))
            continue
        if not isinstance(part, str):
            raise ValueError("write seeds as 7, '0-9', '1;5;9' or a list of them")
        for piece in part.replace(",", ";").split(";"):
            piece = piece.strip()
            m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", piece)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise ValueError(f"range {piece} runs backwards")
                if hi - lo + 1 > MAX_SEEDS_PER_ROW:
                    raise ValueError(f"range {piece} has more than {MAX_SEEDS_PER_ROW} seeds")
                seeds.extend(range(lo, hi + 1))
                if len(seeds) > MAX_SEEDS_PER_ROW:
                    raise ValueError(f"more than {MAX_SEEDS_PER_ROW} seeds in one row")
            elif re.fullmatch(r"\d+", piece):
                seeds.append(int(piece))
            else:
                raise ValueError(f"'{piece}' is not a whole number >= 0 or a range like 0-9")
    return _checked(seeds)


def _checked(seeds: list[int]) -> list[int]:
    if not seeds:
        raise ValueError("no seeds given")
    if len(seeds) > MAX_SEEDS_PER_ROW:
        raise ValueError(f"more than {MAX_SEEDS_PER_ROW} seeds in one row")
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise ValueError(f"seed {bad[0]} is outside 0..{MAX_SEED}")
    if len(set(seeds)) != len(seeds):
        raise ValueError("a seed is listed twice")
    return seeds
