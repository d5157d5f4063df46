"""The batch manifest: the source of truth for what is finished, and the CSV/Parquet table users read.

While a batch runs, each process appends one JSON line per finished item to its own shard file
(``manifest.d/shard-<process>.jsonl``), flushed and fsynced, *after* the item's files are in place. That line is
the commit point: an item without one is not finished and is redone (its files are replaced atomically) on the
next run. A line torn by a kill is skipped on reading. Shards need no locking because no two processes share
one, and ``read_records`` takes the union, so a batch can be resumed with a different number of processes.
``write_manifest`` merges the shards into one row per job: ``manifest.csv`` and ``manifest.parquet``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.cells import safe_frame
from workbench.core.config import read_json

MANIFEST_DIR = "manifest.d"
JOBS_FILE = "jobs.json"
BATCH_FILE = "batch.json"
FINISHED = ("ok", "rejected")  # statuses that a re-run skips; "failed" items are tried again


def shard_path(out_dir: Path, process_index: int) -> Path:
    return out_dir / MANIFEST_DIR / f"shard-{process_index}.jsonl"


def append_record(out_dir: Path, process_index: int, record: dict[str, Any]) -> None:
    path = shard_path(out_dir, process_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, default=str)
    with path.open("ab") as fh:
        # A kill can leave a torn last line; start ours on a fresh line so it stays readable.
        if fh.tell() > 0:
            with path.open("rb") as check:
                check.seek(-1, os.SEEK_END)
                if check.read(1) != b"\n":
                    fh.write(b"\n")
        fh.write(line.encode() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_records(out_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of every shard, in file order (shards by name)."""
    records = []
    for path in sorted((out_dir / MANIFEST_DIR).glob("shard-*.jsonl")):
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn by a kill mid-write; that item was not committed and will be redone
            if isinstance(record, dict) and "job_id" in record:
                records.append(record)
    return records


def latest_by_job(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One record per job: a finished record wins over a failed one, later wins over earlier."""
    out: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: str(r.get("finished_at", ""))):
        current = out.get(record["job_id"])
        if current is not None and current["status"] in FINISHED and record["status"] not in FINISHED:
            continue
        out[record["job_id"]] = record
    return out


def finished_ids(out_dir: Path) -> set[str]:
    return {j for j, r in latest_by_job(read_records(out_dir)).items() if r["status"] in FINISHED}


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if key == "lora" and value is None:
            # Same columns with or without an adapter (request.lora.path / .scale), so the table stays rectangular.
            out.update({f"{name}.path": None, f"{name}.scale": None})
        elif isinstance(value, dict) and key != "checks":
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = (
                json.dumps(value, default=str)
                if key == "checks" or any(isinstance(v, dict) for v in value)
                else ";".join(str(v) for v in value)
            )
        else:
            out[name] = value
    return out


def manifest_frame(out_dir: Path) -> Any:
    """One row per job with its recipe (``request.*``), metrics (``qc.metrics.*``), checks and files."""
    import pandas as pd

    latest = latest_by_job(read_records(out_dir))
    rows = [_flatten(r) for r in sorted(latest.values(), key=lambda r: int(r.get("index", 0)))]
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        # Parquet needs one type per column; a column mixing numbers and text (say a metric that is sometimes
        # "not measured") is written as text rather than failing the whole export.
        kinds = {type(v) for v in frame[column].dropna()}
        if len(kinds - {int, float, bool}) and len(kinds) > 1:
            frame[column] = frame[column].map(lambda v: v if v is None or v != v else str(v))
    return frame


def write_manifest(out_dir: Path) -> tuple[Path, Path]:
    """Merge the shards into ``manifest.csv`` and ``manifest.parquet`` (each written atomically). Text cells a
    spreadsheet would run as formulas (a plan's ``=HYPERLINK(...)`` title) are written as text (core/cells.py)."""
    frame = safe_frame(manifest_frame(out_dir))
    csv_path, parquet_path = out_dir / "manifest.csv", out_dir / "manifest.parquet"
    for path, write in (
        (csv_path, lambda p: frame.to_csv(p, index=False)),
        (parquet_path, lambda p: frame.to_parquet(p, index=False)),
    ):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=out_dir)
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return csv_path, parquet_path


@dataclass
class BatchStatus:
    out_dir: Path
    total: int
    counts: dict[str, int] = field(default_factory=dict)  # ok, rejected, failed
    by_process: dict[int, int] = field(default_factory=dict)
    name: str = ""

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in FINISHED)

    @property
    def pending(self) -> int:
        return self.total - self.finished

    def lines(self) -> list[str]:
        out = [
            f"batch {self.name or self.out_dir.name}: {self.finished}/{self.total} finished, {self.pending} to do"
        ]
        out += [f"  {status}: {n}" for status, n in sorted(self.counts.items())]
        if len(self.by_process) > 1:
            out.append("  by process: " + ", ".join(f"{p}: {n}" for p, n in sorted(self.by_process.items())))
        return out


def batch_status(out_dir: str | Path) -> BatchStatus:
    from workbench.core.errors import InputError

    root = Path(out_dir)
    jobs_file = root / JOBS_FILE
    if not jobs_file.is_file():
        raise InputError(
            "batch folder", str(root), f"no {JOBS_FILE} here; give the --out folder of a batch run"
        )
    jobs = read_json(jobs_file, "batch jobs file")
    if not isinstance(jobs, dict) or not isinstance(jobs.get("jobs"), list):
        raise InputError("batch jobs file", str(jobs_file), "is not a workbench jobs file; re-run the batch")
    latest = latest_by_job(read_records(root))
    planned = {j["job_id"] for j in jobs["jobs"]}
    counts = Counter(r["status"] for j, r in latest.items() if j in planned)
    by_process = Counter(int(r.get("process_index", 0)) for j, r in latest.items() if j in planned)
    return BatchStatus(root, len(planned), dict(counts), dict(by_process), str(jobs.get("name", "")))
