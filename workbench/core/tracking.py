"""Experiment tracking: Weights & Biases when wanted, always a local JSONL mirror.

Modes: ``online`` (needs a key: WANDB_API_KEY or a ``wandb login``), ``offline`` (W&B files on disk, sync later),
``off`` (no W&B at all), or ``auto`` (the default: online with a key, else offline; ``WORKBENCH_TRACKING`` or
``WANDB_MODE`` overrides). W&B is imported lazily and any failure to start it falls back to the local mirror with
a note, because tracking must never stop a run. The mirror exists because wandb 0.31 offline writes no summary
file, so without it nothing readable would be left beside the run.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

Mode = Literal["auto", "online", "offline", "off"]
MODES = ("auto", "online", "offline", "off")


def _has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path.home() / ".netrc"
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def resolve_mode(mode: str | None = None) -> str:
    chosen = (mode or os.environ.get("WORKBENCH_TRACKING") or "auto").lower()
    if chosen not in MODES:
        from workbench.core.errors import InputError

        raise InputError("tracking", chosen, f"choose one of {', '.join(MODES)}")
    if chosen == "auto":
        env = os.environ.get("WANDB_MODE", "").lower()
        if env in ("offline", "disabled", "dryrun"):
            return "off" if env == "disabled" else "offline"
        return "online" if _has_wandb_key() else "offline"
    return chosen


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Tracker:
    """One tracked run. Every call writes a JSONL line first, then forwards to W&B if it is on."""

    def __init__(
        self,
        run_dir: str | Path,
        *,
        project: str = "ace-workbench",
        name: str | None = None,
        job_type: str = "generate",
        config: dict[str, Any] | None = None,
        mode: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.mirror_path = self.run_dir / "tracking.jsonl"
        self.mode = resolve_mode(mode)
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._summary: dict[str, Any] = {}
        self._wandb_run: Any = None
        self._write(
            {
                "event": "init",
                "project": project,
                "name": name,
                "job_type": job_type,
                "mode": self.mode,
                "config": config or {},
                "tags": tags or [],
            }
        )
        if self.mode in ("online", "offline"):
            try:
                import wandb

                self._wandb = wandb
                self._wandb_run = wandb.init(
                    project=project,
                    name=name,
                    job_type=job_type,
                    config=config or {},
                    tags=tags,
                    dir=str(self.run_dir),
                    mode=self.mode,  # type: ignore[arg-type]  # resolve_mode() returns only online/offline here
                    reinit="create_new",
                    settings=wandb.Settings(silent=True, console="off"),
                )
            # Tracking must never stop the work; the JSONL mirror still has everything.
            except Exception as exc:
                self.notes.append(f"W&B could not start ({type(exc).__name__}: {exc}); logging locally only")
                self._write({"event": "note", "text": self.notes[-1]})
                self._wandb_run = None

    @property
    def wandb_run(self) -> Any:
        return self._wandb_run

    def _write(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **_jsonable(record)}
        with self._lock, self.mirror_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def log(self, values: dict[str, Any], step: int | None = None) -> None:
        self._write({"event": "log", "step": step, "values": values})
        if self._wandb_run is not None:
            self._wandb_run.log(values, step=step)

    def summary(self, values: dict[str, Any]) -> None:
        self._summary.update(values)
        self._write({"event": "summary", "values": values})
        if self._wandb_run is not None:
            for k, v in values.items():
                self._wandb_run.summary[k] = v

    def log_audio(self, key: str, path: str | Path, caption: str = "", step: int | None = None) -> None:
        self._write({"event": "audio", "key": key, "path": str(path), "caption": caption, "step": step})
        if self._wandb_run is not None:
            self._wandb_run.log({key: self._wandb.Audio(str(path), caption=caption)}, step=step)

    def log_table(self, key: str, columns: list[str], rows: list[list[Any]], step: int | None = None) -> None:
        self._write({"event": "table", "key": key, "columns": columns, "rows": rows, "step": step})
        if self._wandb_run is not None:
            self._wandb_run.log({key: self._wandb.Table(columns=list[Any](columns), data=rows)}, step=step)

    def log_image(self, key: str, path: str | Path, step: int | None = None) -> None:
        self._write({"event": "image", "key": key, "path": str(path), "step": step})
        if self._wandb_run is not None:
            self._wandb_run.log({key: self._wandb.Image(str(path))}, step=step)

    def log_artifact(self, name: str, kind: str, path: str | Path) -> None:
        self._write({"event": "artifact", "name": name, "type": kind, "path": str(path)})
        if self._wandb_run is not None:
            artifact = self._wandb.Artifact(name, type=kind)
            p = Path(path)
            artifact.add_dir(str(p)) if p.is_dir() else artifact.add_file(str(p))
            self._wandb_run.log_artifact(artifact)

    def finish(self) -> None:
        self._write({"event": "finish", "summary": self._summary})
        if self._wandb_run is not None:
            self._wandb_run.finish()
            self._wandb_run = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def read_mirror(run_dir: str | Path) -> list[dict[str, Any]]:
    """Read back a run's JSONL mirror (what reports and tests use instead of W&B's binary log)."""
    path = Path(run_dir) / "tracking.jsonl"
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a killed process; everything before it is intact
    return records
