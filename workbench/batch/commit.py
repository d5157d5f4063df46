"""Committing one finished item: the tagged audio file, its sidecar, a store row, and last its manifest line.

The manifest line is the commit point (see manifest.py). Everything before it can be redone: files are written
under hidden names and renamed, so after a kill the folder holds only whole files, and ``clean_uncommitted``
removes whatever an uncommitted item left before the item is made again.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.batch import export, manifest, qc
from workbench.batch.plan import Job
from workbench.core.audio_io import Audio
from workbench.core.genres import GenrePreset
from workbench.records import RecordedTake, append_mastering, run_row, sidecar_for, write_json_atomic

if TYPE_CHECKING:
    from workbench.audio.mastering import MasteringResult
    from workbench.core.store import Store
    from workbench.engine.engine import RunResult, Take
    from workbench.planner.plans import Plan as LmPlan

TRACKS_DIR = "tracks"
REJECTED_DIR = "rejected"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _think_fields(job: Job, plan: LmPlan | None) -> dict[str, Any]:
    """Manifest columns of a Think job: the LM and the fields it chose (the whole plan is in the sidecar)."""
    if job.think is None:
        return {}
    return {"lm": job.think.lm, "lm_chosen": "" if plan is None else ";".join(plan.chosen)}


class ItemWriter:
    def __init__(
        self,
        out_dir: Path,
        *,
        batch_id: str,
        plan_source: str,
        settings: export.ExportSettings,
        store: Store | None = None,
        process_index: int = 0,
    ) -> None:
        self.out_dir = out_dir
        self.batch_id = batch_id
        self.plan_source = plan_source
        self.settings = settings
        self.store = store
        self.process_index = process_index

    def clean_uncommitted(self, jobs: list[Job]) -> int:
        """Remove leftovers of jobs that were never committed: staging files and files from a killed run.

        Each folder is listed once (not globbed per job), so this stays linear for batches of many thousands.
        Names are ``<id>.<ext>``, or hidden temporaries ``.<id>.*`` / ``..<id>.*`` (staging, mkstemp).
        """
        pending = {job.job_id for job in jobs}
        removed = 0
        for folder in (self.out_dir / TRACKS_DIR, self.out_dir / REJECTED_DIR):
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if entry.name.lstrip(".").split(".", 1)[0] in pending:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    def _title(self, job: Job, preset: GenrePreset | None, seed: int) -> str:
        if job.title:
            return job.title
        return f"{preset.label if preset else 'Track'} {job.job_id[:6]}-{seed}"

    def commit(
        self,
        job: Job,
        result: RunResult,
        take: Take,
        audio: Audio,
        mastering: MasteringResult | None,
        report: qc.QcReport,
        attempt: int,
        preset: GenrePreset | None,
        *,
        plan: LmPlan | None = None,
    ) -> str:
        """Write the item and commit it with its manifest line. Returns the status ("ok" or "rejected")."""
        status = "rejected" if report.rejected else "ok"
        folder = self.out_dir / (REJECTED_DIR if report.rejected else TRACKS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{job.job_id}.{self.settings.format}"
        tags = export.tags_for(
            title=self._title(job, preset, take.seed),
            genre_label=preset.label if preset else None,
            request=job.request,
            model=job.model,
            seed=take.seed,
            artist=self.settings.artist,
        )
        export.write_tagged(path, audio, tags)
        recorded = RecordedTake(
            take, str(path), str(path.with_suffix(".json")), f"{self.batch_id}_{job.job_id}"
        )
        sidecar = sidecar_for(result, recorded)
        if (
            plan is not None
        ):  # as Workbench.generate records Think: replay renders the codes, --replan re-plans
            from workbench.planner.apply import plan_record

            sidecar["plan"] = plan_record(dataclasses.replace(job.request, seed=take.seed), plan)
        sidecar["batch"] = {
            "batch_id": self.batch_id,
            "plan": self.plan_source,
            "job_id": job.job_id,
            "row": job.row,
            "index": job.index,
            "job_request": job.request.to_dict(),
            "qc_attempt": attempt,
            "tags": tags,
            "qc": report.to_dict(),
            "process_index": self.process_index,
        }
        write_json_atomic(Path(recorded.sidecar), sidecar)
        if self.store is not None:
            self._store_row(job, result, recorded, sidecar, status)
        if mastering is not None:
            entry = {**mastering.to_dict(), "path": str(path), "created_at": _now()}
            append_mastering(self.store, entry, sidecar=recorded.sidecar)
        record = {
            "job_id": job.job_id,
            "index": job.index,
            "row": job.row,
            "status": status,
            "model": job.model,
            "title": tags["title"],
            "prompt_id": job.prompt_id,
            "seed": take.seed,
            "plan_seed": job.seed,
            "qc_attempts": attempt,
            "path": str(path),
            "sidecar": recorded.sidecar,
            "genre": job.request.genre,
            "request": job.request.to_dict(),
            "qc": {
                "failed": report.failed,
                "metrics": report.metrics,
                "checks": [c.to_dict() for c in report.checks],
            },
            "mastering_gain_db": None if mastering is None else round(mastering.gain_db, 3),
            "batched": result.request.batch_size,
            "process_index": self.process_index,
            "finished_at": _now(),
            "error": None,
            **_think_fields(job, plan),
        }
        manifest.append_record(self.out_dir, self.process_index, record)
        return status

    def fail(self, job: Job, exc: BaseException) -> None:
        record = {
            "job_id": job.job_id,
            "index": job.index,
            "row": job.row,
            "status": "failed",
            "model": job.model,
            "title": job.title,
            "prompt_id": job.prompt_id,
            "seed": job.seed,
            "plan_seed": job.seed,
            "qc_attempts": 0,
            "path": None,
            "sidecar": None,
            "genre": job.request.genre,
            "request": job.request.to_dict(),
            "qc": None,
            "mastering_gain_db": None,
            "batched": 1,
            "process_index": self.process_index,
            "finished_at": _now(),
            "error": f"{type(exc).__name__}: {exc}",
            **_think_fields(job, None),
        }
        manifest.append_record(self.out_dir, self.process_index, record)

    def _store_row(
        self, job: Job, result: RunResult, recorded: RecordedTake, sidecar: dict[str, Any], status: str
    ) -> None:
        if self.store is None:
            return
        row = run_row(result, recorded, sidecar, batch_id=self.batch_id, status=status, model=job.model)
        # A row left by a run killed before its manifest line would collide with the redo; the redo replaces it.
        if self.store.get_run(row.id) is not None:
            self.store.delete_run(row.id, delete_files=False)
        self.store.add_runs([row])
