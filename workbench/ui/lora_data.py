"""The LoRA tab's dataset half, without Gradio: import uploads, scan a folder, turn the edited table back into a
dataset through ``lora.build_dataset``.

Datasets live in ``WORKBENCH_HOME/lora-data/<name>`` (uploads in its ``audio/`` folder). Scanning builds the dataset
in memory with no trigger tag, so the table shows the captions as written; saving writes the edited table as a
JSON manifest (``manifest.json``, a format ``lora prepare`` reads) and builds the real dataset from it, trigger tag
and split included. A bpm or key that was estimated and left as it was is written blank, so the saved dataset
estimates it again and keeps marking it as estimated.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from workbench import paths
from workbench.errors import InputError

DATA_DIRNAME = "lora-data"
MANIFEST = "manifest.json"
# The editable table: what a user fixes by hand before training (file and estimated are shown, not edited).
TABLE_COLUMNS = [
    "file",
    "caption",
    "lyrics",
    "bpm",
    "key",
    "time_signature",
    "genre",
    "instrumental",
    "estimated",
]
STATIC_COLUMNS = [0, 8]
TABLE_TYPES: list[Literal["str", "number", "bool"]] = [
    "str",
    "str",
    "str",
    "number",
    "str",
    "str",
    "str",
    "bool",
    "str",
]
UPLOAD_SUFFIXES = (".txt", ".json")  # sidecars travel with the audio: lyrics and metadata
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def data_root() -> Path:
    folder = paths.home() / DATA_DIRNAME
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_name(name: str | None, field: str = "dataset name") -> str:
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise InputError(field, name, "use letters, digits, '.', '_' or '-' (at most 64), e.g. spa-v1")
    return name


def dataset_dir(name: str | None) -> Path:
    return data_root() / check_name(name)


def list_datasets() -> list[str]:
    """Saved datasets (folders holding a built ``dataset/``), by name."""
    from lora.dataset import DATASET_SUBDIR

    return sorted(p.name for p in data_root().iterdir() if (p / DATASET_SUBDIR).is_dir())


def inside_home(text: str | None, field: str) -> Path:
    """A folder the user typed, relative to WORKBENCH_HOME or absolute inside it.

    The app serves only its own folders, so a scan may not wander over the server's disk. The path is normalised
    without resolving links: a folder linked into WORKBENCH_HOME (``ln -s /music/spa ~/.cache/.../spa``) is fine.
    """
    text = (text or "").strip()
    if not text:
        raise InputError(field, text, "give a folder under WORKBENCH_HOME, or upload files")
    home = Path(os.path.normpath(paths.home().absolute()))
    raw = Path(text).expanduser()
    folder = Path(os.path.normpath(raw if raw.is_absolute() else home / raw))
    if folder != home and home not in folder.parents:
        raise InputError(
            field, text, f"must be inside WORKBENCH_HOME ({home}); copy or link the folder there"
        )
    if not folder.is_dir():
        raise InputError(field, text, f"no such folder under {home}")
    return folder


def import_uploads(name: str, files: list[str] | None) -> Path:
    """Copy uploaded audio (and .txt/.json sidecars of the same name) into the dataset's ``audio/`` folder."""
    from workbench.audio_io import READ_SUFFIXES

    if not files:
        raise InputError("uploads", None, "upload audio files, or give a folder to scan")
    folder = dataset_dir(name) / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    for src in map(Path, files):
        suffix = src.suffix.lower()
        if suffix not in READ_SUFFIXES and suffix not in UPLOAD_SUFFIXES:
            raise InputError("uploads", src.name, f"not audio or a sidecar; use {', '.join(READ_SUFFIXES)}")
        shutil.copyfile(src, folder / src.name)
    return folder


def scan(folder: Path, progress: Any = None) -> Any:
    """Validate every file and estimate missing bpm/key, without a trigger tag or saving: the table's contents."""
    from lora.dataset import DatasetOptions, build_dataset

    return build_dataset(folder, None, DatasetOptions(val_fraction=0.0), progress=progress)


def scan_state(report: Any) -> list[dict[str, Any]]:
    """What the tab keeps between Scan and Save: each kept record as a plain dict."""
    return [asdict(r) for r in report.records]


def table_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            Path(r["audio_path"]).name if not r["source"] else r["source"],
            r["caption"],
            r["lyrics"],
            r["bpm"],
            r["key"] or "",
            r["time_signature"] or "",
            r["genre"],
            bool(r["instrumental"]),
            ", ".join(k for k in r["estimated"] if k != "duration_s"),
        ]
        for r in records
    ]


def _rows_of(table: Any) -> list[list[Any]]:
    """Gradio hands the table over as a DataFrame (UI) or a dict/list (API and tests)."""
    if table is None:
        return []
    if hasattr(table, "values") and hasattr(table, "columns"):
        return [list(row) for row in table.values.tolist()]
    if isinstance(table, dict):
        return [list(row) for row in table.get("data", [])]
    return [list(row) for row in table]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n", ""):
        return False
    raise InputError(where, value, "tick or untick the box (true / false)")


def manifest_rows(records: list[dict[str, Any]], table: Any) -> list[dict[str, Any]]:
    """The edited table as manifest rows; parsing (bpm range, key spelling) is left to lora's manifest reader."""
    rows = _rows_of(table)
    if len(rows) != len(records):
        raise InputError(
            "table", f"{len(rows)} rows", f"scan again: the table must keep its {len(records)} rows"
        )
    out = []
    for record, row in zip(records, rows, strict=True):
        values = dict(zip(TABLE_COLUMNS, row, strict=False))
        where = f"row {values.get('file') or record['source']}"
        entry: dict[str, Any] = {
            "file": record["audio_path"],
            "caption": "" if _blank(values.get("caption")) else str(values["caption"]).strip(),
            "lyrics": "" if _blank(values.get("lyrics")) else str(values["lyrics"]),
            "language": record["language"],
            "genre": "" if _blank(values.get("genre")) else str(values["genre"]).strip(),
            "instrumental": _as_bool(values.get("instrumental"), f"{where} instrumental"),
            "time_signature": None if _blank(values.get("time_signature")) else str(values["time_signature"]),
        }
        for field in ("bpm", "key"):
            value = values.get(field)
            if _blank(value):
                entry[field] = None
                continue
            if field == "bpm":
                value = _whole(value, f"{where} bpm")
            unchanged = str(value).strip() == str(record[field]).strip()
            # Left as estimated: blank, so the build estimates it again and the report still says "estimated".
            entry[field] = None if unchanged and field in record["estimated"] else value
        out.append(entry)
    return out


def _whole(value: Any, where: str) -> int | str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)  # the manifest reader names the bad value in the report
    return int(number) if number.is_integer() else str(value)


def save(
    name: str,
    records: list[dict[str, Any]] | None,
    table: Any,
    trigger_tag: str = "",
    trigger_mode: str = "prepend",
    val_fraction: float = 0.1,
    progress: Any = None,
) -> Any:
    """Write the manifest and build the dataset in ``lora-data/<name>``. Returns lora's DatasetReport."""
    from lora.dataset import DatasetOptions, build_dataset

    if not records:
        raise InputError("dataset", None, "scan uploads or a folder first, then edit the table and save")
    folder = dataset_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps(manifest_rows(records, table), indent=2))
    options = DatasetOptions(
        trigger_tag=trigger_tag or "",
        trigger_mode=trigger_mode or "prepend",
        val_fraction=float(val_fraction),
    )
    return build_dataset(manifest, folder, options, progress=progress)


def report_text(report: Any) -> str:
    return str(report.to_text())
