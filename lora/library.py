"""The LoRA tab's dataset half, without Gradio: import uploads, scan a folder into editable rows (``lora.scan``)
and build the dataset from the edited rows (``lora.build_dataset``).

Datasets live in ``WORKBENCH_HOME/lora-data/<name>`` (uploads in its ``audio/`` folder). Scanning reads files and
sidecars only; the audio is checked, and missing bpm/key estimated (and marked so in the report), when the
dataset is saved.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any, Literal

from workbench.core import paths
from workbench.core.errors import InputError

# The editable table: what a user fixes by hand before training (the file is shown, not edited).
TABLE_COLUMNS = ["file", "caption", "lyrics", "bpm", "key", "time_signature", "genre", "instrumental"]
EDITABLE = TABLE_COLUMNS[1:]
STATIC_COLUMNS = [0]
TABLE_TYPES: list[Literal["str", "number", "bool"]] = [
    "str",
    "str",
    "str",
    "number",
    "str",
    "str",
    "str",
    "bool",
]
UPLOAD_SUFFIXES = (".txt", ".json")  # sidecars travel with the audio: lyrics and metadata
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def data_root() -> Path:
    return paths.lora_datasets_dir()


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
    """A dataset folder the user typed (see ``paths.folder_inside`` for the rules)."""
    return paths.folder_inside(text, field, empty_fix="give a folder, or upload files,")


def import_uploads(name: str, files: list[str] | None) -> Path:
    """Copy uploaded audio (and .txt/.json sidecars of the same name) into the dataset's ``audio/`` folder."""
    from workbench.core.audio_io import READ_SUFFIXES

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


def scan(folder: Path) -> tuple[list[dict[str, Any]], list[Any]]:
    """Rows for the table (absolute file paths, every manifest field) and the problems met reading them."""
    from lora import scan as lora_scan

    return lora_scan(folder)


def _shown_instrumental(row: dict[str, Any]) -> bool:
    """Unset means "decided from the lyrics" (lora's rule); the box shows what that decides."""
    value = row.get("instrumental")
    return bool(value) if value is not None else not str(row.get("lyrics") or "").strip()


def table_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            Path(r["file"]).name,
            r["caption"],
            r["lyrics"],
            r["bpm"],
            r["key"] or "",
            r["time_signature"] or "",
            r["genre"],
            _shown_instrumental(r),
        ]
        for r in rows
    ]


def scan_text(folder: Path, rows: list[dict[str, Any]], issues: list[Any]) -> str:
    lines = [
        f"Found {len(rows)} audio file(s) in {folder}. Edit the table, then Save: every file is checked then, and "
        "an empty bpm or key is estimated from the audio (marked ESTIMATE in the report)."
    ]
    lines += [f"  {i.severity.upper():7s} {i.source}: {i.reason}" for i in issues]
    return "\n".join(lines)


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


def _whole(value: Any) -> Any:
    """Gradio numbers arrive as floats (92.0); a bpm is whole. Anything else goes to lora, which reports it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def edited_rows(scanned: list[dict[str, Any]], table: Any) -> list[dict[str, Any]]:
    """The scanned rows with the table's edits applied; parsing (bpm range, key spelling) is lora's job."""
    rows = _rows_of(table)
    if len(rows) != len(scanned):
        raise InputError(
            "table", f"{len(rows)} rows", f"scan again: the table must keep its {len(scanned)} rows"
        )
    out = []
    for original, row in zip(scanned, rows, strict=True):
        values = dict(zip(TABLE_COLUMNS, row, strict=False))
        edited = dict(original)
        for column in EDITABLE:
            value = values.get(column)
            if column == "instrumental":
                ticked = _as_bool(value, f"{Path(original['file']).name} instrumental")
                # Left as shown: keep "decide from the lyrics" so edited lyrics still decide.
                edited[column] = (
                    None if original[column] is None and ticked == _shown_instrumental(original) else ticked
                )
            elif _blank(value):
                edited[column] = None if column in ("bpm", "key", "time_signature") else ""
            else:
                edited[column] = _whole(value) if column == "bpm" else str(value).strip()
        out.append(edited)
    return out


def save(
    name: str,
    scanned: list[dict[str, Any]] | None,
    table: Any,
    trigger_tag: str = "",
    trigger_mode: str = "prepend",
    val_fraction: float = 0.1,
    progress: Any = None,
    label: Any = None,
) -> Any:
    """Build the dataset from the edited rows into ``lora-data/<name>``. Returns lora's DatasetReport.

    ``label`` (a ``lora.auto_label`` labeller, e.g. ``Workbench.dataset_labeller()``) fills empty captions, bpm,
    key and time signatures with the LM; the user's cells are kept."""
    from lora.dataset import DatasetOptions, build_dataset

    if not scanned:
        raise InputError("dataset", None, "scan uploads or a folder first, then edit the table and save")
    folder = dataset_dir(name)
    options = DatasetOptions(
        trigger_tag=trigger_tag or "",
        trigger_mode=trigger_mode or "prepend",
        val_fraction=float(val_fraction),
    )
    return build_dataset(edited_rows(scanned, table), folder, options, progress=progress, label=label)


def report_text(report: Any) -> str:
    """lora's validation report: counts, every rejected file or row with its reason, every estimate."""
    return str(report.to_text())
