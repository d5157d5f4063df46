"""Running a plan: one process's shard of jobs through the engine, QC, mastering and export, resumably.

Per item the order is: audio file (written and tagged under a hidden name, then renamed), sidecar (atomic),
store row, and last the manifest line, which commits the item. Anything a kill leaves behind before that line
(hidden staging files, or whole files of an uncommitted item) is removed when the next run starts, and the item
is made again, so every job ends up exactly once in the outputs and in the manifest.

Errors: an item whose generation raises is retried (``retries`` times; input errors are not retried because
they would fail the same way), then recorded as ``failed`` with the error, and the batch goes on. A group that
fails as a whole is re-run item by item so one bad item cannot take its neighbours down.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.audio_io import Audio
from workbench.batch import export, groups, manifest, qc
from workbench.batch.plan import Job, Plan
from workbench.batch.presets import GenrePreset, load_genres
from workbench.errors import InputError
from workbench.requests import MAX_BATCH

TRACKS_DIR = "tracks"
REJECTED_DIR = "rejected"
_SEED_LIMIT = 2**31


@dataclass(frozen=True)
class RunSettings:
    """How the runner batches and retries. Load from the plan's ``run:`` mapping; the CLI overrides."""

    max_group: int = 4  # jobs per pipeline call (consecutive seeds, same recipe); 1 = no batching
    retries: int = 1  # extra attempts after a generation error

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunSettings:
        data = dict(data or {})
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(
                f"run.{unknown[0]}",
                data[unknown[0]],
                f"unknown run setting; allowed: {', '.join(sorted(allowed))}",
            )
        settings = cls(**data)
        settings.validate()
        return settings

    def validate(self) -> None:
        if (
            isinstance(self.max_group, bool)
            or not isinstance(self.max_group, int)
            or not 1 <= self.max_group <= MAX_BATCH
        ):
            raise InputError(
                "run.max_group", self.max_group, f"must be a whole number between 1 and {MAX_BATCH}"
            )
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 10:
            raise InputError("run.retries", self.retries, "must be a whole number between 0 and 10")


@dataclass
class BatchProgress:
    total: int  # jobs of this process's shard
    skipped: int  # finished in an earlier run
    ok: int = 0
    rejected: int = 0
    failed: int = 0
    elapsed_s: float = 0.0

    @property
    def done(self) -> int:
        return self.ok + self.rejected + self.failed

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - self.done

    @property
    def items_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        return self.remaining / self.items_per_s if self.items_per_s > 0 else None


@dataclass
class ShardSummary:
    progress: BatchProgress
    regenerated: int = 0
    cancelled: bool = False
    timings: dict[str, float] = field(default_factory=dict)


def regen_seed(job_id: str, attempt: int) -> int:
    """A new seed for QC attempt ``attempt`` (1, 2, ...) that a re-run reproduces, unlike a random one."""
    return int(hashlib.sha256(f"{job_id}:{attempt}".encode()).hexdigest()[:8], 16) % _SEED_LIMIT


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class ShardRunner:
    """Runs the jobs of one process. ``engine_factory(model) -> Engine`` lets tests and benchmarks share a pipeline."""

    def __init__(
        self,
        plan: Plan,
        out_dir: str | Path,
        *,
        batch_id: str,
        settings: RunSettings | None = None,
        rules: qc.QcRules | None = None,
        export_settings: export.ExportSettings | None = None,
        engine_factory: Callable[[str], Any] | None = None,
        analyzer: qc.Analyzer | None = None,
        store: Any = None,
        process_index: int = 0,
        num_processes: int = 1,
    ) -> None:
        self.plan = plan
        self.out_dir = Path(out_dir)
        self.batch_id = batch_id
        self.settings = settings or RunSettings.from_dict(plan.run)
        self.rules = rules or qc.QcRules.from_dict(plan.qc)
        self.export = export_settings or export.ExportSettings.from_dict(plan.export)
        self.engine_factory = engine_factory or _default_engine_factory()
        self.analyzer = analyzer or qc.analyzer_for(self.rules)
        self.store = store
        self.process_index = process_index
        self.num_processes = num_processes
        self.genres = load_genres()
        self._engines: dict[str, Any] = {}
        self.timings: dict[str, float] = {"generate_s": 0.0, "qc_s": 0.0, "master_s": 0.0, "write_s": 0.0}

    # --- planning ----------------------------------------------------------------------------------------------
    def my_jobs(self) -> list[Job]:
        all_groups = groups.group_jobs(self.plan.jobs, self.settings.max_group)
        return [j for g in groups.shard(all_groups, self.process_index, self.num_processes) for j in g]

    def pending_groups(self, done: set[str]) -> list[list[Job]]:
        pending = [j for j in self.my_jobs() if j.job_id not in done]
        return groups.order_for_loading(groups.group_jobs(pending, self.settings.max_group))

    def clean_uncommitted(self, jobs: list[Job]) -> int:
        """Remove leftovers of jobs that were never committed: staging files and files from a killed run."""
        removed = 0
        for folder in (self.out_dir / TRACKS_DIR, self.out_dir / REJECTED_DIR):
            if not folder.is_dir():
                continue
            for job in jobs:
                for path in (
                    *folder.glob(f"{job.job_id}.*"),
                    *folder.glob(f".{job.job_id}.*"),
                    *folder.glob(f"..{job.job_id}.*"),
                ):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    # --- running -----------------------------------------------------------------------------------------------
    def run(
        self, progress: Callable[[BatchProgress], None] | None = None, cancel: threading.Event | None = None
    ) -> ShardSummary:
        started = time.perf_counter()
        mine = self.my_jobs()
        done = manifest.finished_ids(self.out_dir)
        todo = self.pending_groups(done)
        self.clean_uncommitted([j for g in todo for j in g])
        state = BatchProgress(total=len(mine), skipped=sum(1 for j in mine if j.job_id in done))
        summary = ShardSummary(state)
        if progress is not None:
            progress(state)
        for group in todo:
            if cancel is not None and cancel.is_set():
                summary.cancelled = True
                break
            if not self._run_group(group, state, summary, cancel):
                summary.cancelled = True
                break
            state.elapsed_s = time.perf_counter() - started
            if progress is not None:
                progress(state)
        state.elapsed_s = time.perf_counter() - started
        summary.timings = dict(self.timings)
        self._engines.clear()
        return summary

    def _engine(self, model: str) -> Any:
        if model not in self._engines:
            self._engines.clear()  # one model in memory at a time; groups are ordered by model
            self._engines[model] = self.engine_factory(model)
        return self._engines[model]

    def _generate(self, request: Any, model: str, cancel: threading.Event | None) -> Any:
        """Engine.run with retries. Returns the result, or raises the last error."""
        engine = self._engine(model)
        for attempt in range(self.settings.retries + 1):
            try:
                t0 = time.perf_counter()
                result = engine.run(request, cancel=cancel, record=False)
                self.timings["generate_s"] += time.perf_counter() - t0
                return result
            except InputError:
                raise  # bad input fails the same way every time
            except Exception:  # the engine surfaces torch/diffusers errors as-is; the batch must carry on
                if attempt == self.settings.retries:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def _run_group(
        self, group: list[Job], state: BatchProgress, summary: ShardSummary, cancel: threading.Event | None
    ) -> bool:
        """False if cancelled (nothing of the group is committed then)."""
        first = group[0]
        request = dataclasses.replace(first.request, batch_size=len(group))
        try:
            result = self._generate(request, first.model, cancel)
        except Exception as exc:  # recorded per item below; see _generate
            if len(group) > 1:
                return all(self._run_group([job], state, summary, cancel) for job in group)
            self._commit_failure(first, exc, state)
            return True
        if not result.ok:
            return False
        for job, take in zip(group, result.takes, strict=True):
            try:
                if not self._finish_item(job, result, take, state, summary, cancel):
                    return False
            except Exception as exc:  # QC, mastering or writing one item failed; record it and carry on
                self._commit_failure(job, exc, state)
        return True

    def _finish_item(
        self,
        job: Job,
        result: Any,
        take: Any,
        state: BatchProgress,
        summary: ShardSummary,
        cancel: threading.Event | None,
    ) -> bool:
        preset = self.genres.get(job.request.genre or "")
        spec = self.export.spec_for(preset)
        attempt = 0
        while True:
            mastered, mastering, report = self._qc_and_master(job, take.audio, preset, spec)
            if not report.rejected or attempt >= self.rules.regenerate:
                break
            attempt += 1
            summary.regenerated += 1
            retry = dataclasses.replace(job.request, seed=regen_seed(job.job_id, attempt), batch_size=1)
            try:
                result = self._generate(retry, job.model, cancel)
            except Exception:  # keep the last QC-rejected take rather than losing the item
                break
            if not result.ok:
                return False
            take = result.takes[0]
        self._commit(job, result, take, mastered, mastering, report, attempt, preset, state)
        return True

    def _qc_and_master(
        self, job: Job, audio: Audio, preset: GenrePreset | None, spec: Any
    ) -> tuple[Audio, Any, qc.QcReport]:
        from workbench.mastering import master

        t0 = time.perf_counter()
        mastering = master(audio, spec) if spec is not None else None
        self.timings["master_s"] += time.perf_counter() - t0
        final = mastering.audio if mastering is not None else audio
        t0 = time.perf_counter()
        metrics: dict[str, Any] = {}
        if self.rules.enabled:
            metrics = self.analyzer(final, job.request, job.request.genre)
            # Clipping is judged on the generated audio: the limiter would hide flat tops baked into the music.
            metrics["clipped_fraction"] = qc.clipped_fraction(audio.samples)
        self.timings["qc_s"] += time.perf_counter() - t0
        target = qc.target_for(job.request, preset, self.rules, spec)
        return final, mastering, qc.run_checks(metrics, target, self.rules)

    # --- committing --------------------------------------------------------------------------------------------
    def _title(self, job: Job, preset: GenrePreset | None, seed: int) -> str:
        if job.title:
            return job.title
        return f"{preset.label if preset else 'Track'} {job.job_id[:6]}-{seed}"

    def _commit(
        self,
        job: Job,
        result: Any,
        take: Any,
        audio: Audio,
        mastering: Any,
        report: qc.QcReport,
        attempt: int,
        preset: GenrePreset | None,
        state: BatchProgress,
    ) -> None:
        from workbench.records import sidecar_for

        t0 = time.perf_counter()
        status = "rejected" if report.rejected else "ok"
        folder = self.out_dir / (REJECTED_DIR if report.rejected else TRACKS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{job.job_id}.{self.export.format}"
        tags = export.tags_for(
            title=self._title(job, preset, take.seed),
            genre_label=preset.label if preset else None,
            request=job.request,
            model=job.model,
            seed=take.seed,
            artist=self.export.artist,
        )
        export.write_tagged(path, audio, tags)
        take.run_id = f"{self.batch_id}_{job.job_id}"
        take.path = str(path)
        take.sidecar = str(path.with_suffix(".json"))
        sidecar = sidecar_for(result, take)
        sidecar["batch"] = {
            "batch_id": self.batch_id,
            "plan": self.plan.source,
            "job_id": job.job_id,
            "row": job.row,
            "index": job.index,
            "job_request": job.request.to_dict(),
            "qc_attempt": attempt,
            "tags": tags,
            "qc": report.to_dict(),
            "process_index": self.process_index,
        }
        if mastering is not None:
            sidecar["mastering"] = [{**mastering.to_dict(), "path": str(path), "created_at": _now()}]
        manifest.write_json_atomic(Path(take.sidecar), sidecar)
        if self.store is not None:
            self._store_row(job, result, take, sidecar, status)
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
            "sidecar": take.sidecar,
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
        }
        self.timings["write_s"] += time.perf_counter() - t0
        manifest.append_record(self.out_dir, self.process_index, record)
        if report.rejected:
            state.rejected += 1
        else:
            state.ok += 1

    def _commit_failure(self, job: Job, exc: BaseException, state: BatchProgress) -> None:
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
        }
        manifest.append_record(self.out_dir, self.process_index, record)
        state.failed += 1

    def _store_row(self, job: Job, result: Any, take: Any, sidecar: dict[str, Any], status: str) -> None:
        from workbench.store import RunRow

        request = job.request
        row = RunRow(
            id=take.run_id,
            batch_id=self.batch_id,
            take_index=take.index,
            created_at=sidecar["created_at"],
            task=request.task,
            status=status,
            model=job.model,
            model_revision=result.model.revision,
            prompt=request.prompt,
            lyrics=request.lyrics,
            genre=request.genre,
            lora=request.lora.path if request.lora else None,
            lora_scale=request.lora.scale if request.lora else None,
            seed=take.seed,
            duration_s=take.audio.duration_s,
            audio_path=take.path,
            sidecar_path=take.sidecar,
            recipe_json=json.dumps(sidecar, sort_keys=True, default=str),
        )
        # A row left by a run killed before its manifest line would collide with the redo; the redo replaces it.
        if self.store.get_run(row.id) is not None:
            self.store.delete_run(row.id, delete_files=False)
        self.store.add_runs([row])


def _default_engine_factory(
    device: str | None = None, dtype: str | None = None, offload: bool = False
) -> Callable[[str], Any]:
    def make(model: str) -> Any:
        from workbench.engine import Engine

        engine = Engine(model, device=device, dtype=dtype, offload=offload)
        engine.load()
        return engine

    return make


engine_factory = _default_engine_factory
