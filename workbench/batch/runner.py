"""Running a plan: one process's shard of jobs through the engine, QC, mastering and export, resumably.

Per item: generate (several consecutive seeds share one pipeline call, see groups.py), master to the delivery
spec, run the QC gate (regenerating under a new seed if the rules say so), then hand the item to
``commit.ItemWriter``, whose last step, the manifest line, commits it. Uncommitted leftovers of a killed run are
removed before anything is redone, so every job ends up exactly once in the outputs and in the manifest.

Errors: an item whose generation raises is retried (``retries`` times; input errors are not retried because
they would fail the same way), then recorded as ``failed`` with the error, and the batch goes on. A group that
fails as a whole is re-run item by item so one bad item cannot take its neighbours down.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.batch import export, groups, manifest, qc
from workbench.batch.commit import ItemWriter
from workbench.batch.plan import Job, Plan
from workbench.core.audio_io import Audio
from workbench.core.config import from_mapping, whole
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.genres import GenrePreset, load_genres
from workbench.engine.requests import MAX_BATCH
from workbench.records import write_json_atomic

# Think jobs: each plan is written here (``<job_id>-<seed>.json``) before its audio is rendered. A resumed run
# renders an uncommitted job from its recorded plan instead of running the LM again, so the take it commits is
# the one that plan describes even if the LM's files changed in between.
PLANS_DIR = "plans"

_SEED_LIMIT = 2**31


def default_max_group() -> int:
    import torch

    return 4 if torch.cuda.is_available() else 1


@dataclass(frozen=True)
class RunSettings:
    """How the runner batches and retries. Load from the plan's ``run:`` mapping; the CLI overrides."""

    # Jobs per pipeline call (consecutive seeds, same recipe); 1 = no batching. Default: 4 with CUDA, 1 without,
    # because on a CPU a batch of N costs more than N single calls (benchmarks/batch_overhead.py: 1.2-2.2x).
    max_group: int = dataclasses.field(default_factory=default_max_group)
    retries: int = 1  # extra attempts after a generation error

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunSettings:
        settings = from_mapping(cls, data or {}, "run", what="run setting")
        settings.validate()
        return settings

    def validate(self) -> None:
        whole("run.max_group", self.max_group, 1, MAX_BATCH)
        whole("run.retries", self.retries, 0, 10)


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
        planner: Any = None,
    ) -> None:
        self.plan = plan
        self.planner = planner  # Think jobs; made on the first one (on the engine's device) when None
        self.out_dir = Path(out_dir)
        self.batch_id = batch_id
        self.settings = settings or RunSettings.from_dict(plan.run)
        self.rules = rules or qc.QcRules.from_dict(plan.qc)
        self.export = export_settings or export.ExportSettings.from_dict(plan.export)
        self.writer = ItemWriter(
            self.out_dir,
            batch_id=batch_id,
            plan_source=plan.source,
            settings=self.export,
            store=store,
            process_index=process_index,
        )
        self.engine_factory = engine_factory or _default_engine_factory()
        self.analyzer = analyzer or qc.analyzer_for(self.rules)
        self.store = store
        self.process_index = process_index
        self.num_processes = num_processes
        self.genres = load_genres()
        self._engines: dict[str, Any] = {}
        self.timings: dict[str, float] = {
            "plan_s": 0.0,
            "generate_s": 0.0,
            "qc_s": 0.0,
            "master_s": 0.0,
            "write_s": 0.0,
        }

    # --- planning ----------------------------------------------------------------------------------------------
    def my_jobs(self) -> list[Job]:
        all_groups = groups.group_jobs(self.plan.jobs, self.settings.max_group)
        return [j for g in groups.shard(all_groups, self.process_index, self.num_processes) for j in g]

    def pending_groups(self, done: set[str]) -> list[list[Job]]:
        pending = [j for j in self.my_jobs() if j.job_id not in done]
        return groups.order_for_loading(groups.group_jobs(pending, self.settings.max_group))

    # --- running -----------------------------------------------------------------------------------------------
    def run(
        self, progress: Callable[[BatchProgress], None] | None = None, cancel: threading.Event | None = None
    ) -> ShardSummary:
        started = time.perf_counter()
        mine = self.my_jobs()
        done = manifest.finished_ids(self.out_dir)
        todo = self.pending_groups(done)
        self.writer.clean_uncommitted([j for g in todo for j in g])
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
                result = engine.run(request, cancel=cancel)
                self.timings["generate_s"] += time.perf_counter() - t0
                return result
            except InputError:
                raise  # bad input fails the same way every time
            except Exception:  # the engine surfaces torch/diffusers errors as-is; the batch must carry on
                if attempt == self.settings.retries:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def _planner(self, model: str) -> Any:
        if self.planner is None:
            from workbench.planner.planner import Planner

            self.planner = Planner(device=getattr(self._engine(model), "device", None))
        return self.planner

    def _think(self, job: Job, request: Any, cancel: threading.Event | None) -> tuple[Any, Any]:
        """(the codes request to render, the plan) for a Think job at ``request.seed``; see PLANS_DIR."""
        from workbench.planner.apply import planned_request, think
        from workbench.planner.plans import Plan

        if job.think is None:
            raise InputError("think", None, "this job has no Think options")
        path = self.out_dir / PLANS_DIR / f"{job.job_id}-{request.seed}.json"
        if path.is_file():
            try:
                plan = Plan.from_dict(json.loads(path.read_text()))
                return planned_request(request, plan), plan
            except (ValueError, WorkbenchError):
                pass  # unreadable: plan again (same seed and settings, so the same plan)
        t0 = time.perf_counter()
        rendered, plan = think(self._planner(job.model), request, job.think, cancel=cancel)
        self.timings["plan_s"] += time.perf_counter() - t0
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, plan.to_dict())
        return rendered, plan

    def _render(self, job: Job, request: Any, cancel: threading.Event | None) -> tuple[Any, Any]:
        """(engine result, plan or None): a Think job is planned first, a plain one runs as it is."""
        if job.think is None:
            return self._generate(request, job.model, cancel), None
        rendered, plan = self._think(job, request, cancel)
        return self._generate(rendered, job.model, cancel), plan

    def _run_group(
        self, group: list[Job], state: BatchProgress, summary: ShardSummary, cancel: threading.Event | None
    ) -> bool:
        """False if cancelled (nothing of the group is committed then)."""
        from workbench.planner.decoding import PlanCancelled

        first = group[0]
        request = dataclasses.replace(first.request, batch_size=len(group))
        # Loading the model is not an item's failure: missing weights must stop the batch, not fail every job.
        self._engine(first.model)
        try:
            result, plan = self._render(first, request, cancel)
        except PlanCancelled:
            return False
        except Exception as exc:  # recorded per item below; see _generate
            if len(group) > 1:
                return all(self._run_group([job], state, summary, cancel) for job in group)
            self.writer.fail(first, exc)
            state.failed += 1
            return True
        if not result.ok:
            return False
        for job, take in zip(group, result.takes, strict=True):
            try:
                if not self._finish_item(job, result, take, plan, state, summary, cancel):
                    return False
            except Exception as exc:  # QC, mastering or writing one item failed; record it and carry on
                self.writer.fail(job, exc)
                state.failed += 1
        return True

    def _finish_item(
        self,
        job: Job,
        result: Any,
        take: Any,
        plan: Any,
        state: BatchProgress,
        summary: ShardSummary,
        cancel: threading.Event | None,
    ) -> bool:
        from workbench.planner.decoding import PlanCancelled

        preset = self.genres.get(job.request.genre or "")
        spec = self.export.spec_for(preset)
        attempt = 0
        while True:
            # A Think job is checked against what was rendered: the bpm and key the LM chose where the row left
            # them empty (the rendered request keeps every field the row fixed).
            checked = result.request if plan is not None else job.request
            mastered, mastering, report = self._qc_and_master(job, take.audio, preset, spec, checked)
            if not report.rejected or attempt >= self.rules.regenerate:
                break
            attempt += 1
            summary.regenerated += 1
            retry = dataclasses.replace(job.request, seed=regen_seed(job.job_id, attempt), batch_size=1)
            try:
                result, plan = self._render(job, retry, cancel)  # a Think job is planned anew at the new seed
            except PlanCancelled:
                return False
            except Exception:  # keep the last QC-rejected take rather than losing the item
                break
            if not result.ok:
                return False
            take = result.takes[0]
        t0 = time.perf_counter()
        status = self.writer.commit(
            job, result, take, mastered, mastering, report, attempt, preset, plan=plan
        )
        self.timings["write_s"] += time.perf_counter() - t0
        if status == "ok":
            state.ok += 1
        else:
            state.rejected += 1
        return True

    def _qc_and_master(
        self, job: Job, audio: Audio, preset: GenrePreset | None, spec: Any, request: Any = None
    ) -> tuple[Audio, Any, qc.QcReport]:
        from workbench.audio.mastering import master

        t0 = time.perf_counter()
        mastering = master(audio, spec) if spec is not None else None
        self.timings["master_s"] += time.perf_counter() - t0
        final = mastering.audio if mastering is not None else audio
        t0 = time.perf_counter()
        metrics: dict[str, Any] = {}
        if self.rules.enabled:
            metrics = self.analyzer(final, request or job.request, job.request.genre)
            # Clipping is judged on the generated audio: the limiter would hide flat tops baked into the music.
            metrics["clipped_fraction"] = qc.clipped_fraction(audio.samples)
        self.timings["qc_s"] += time.perf_counter() - t0
        target = qc.target_for(request or job.request, preset, self.rules, spec)
        return final, mastering, qc.run_checks(metrics, target, self.rules)


def _default_engine_factory(
    device: str | None = None, dtype: str | None = None, offload: bool = False
) -> Callable[[str], Any]:
    def make(model: str) -> Any:
        from workbench.engine.engine import Engine

        engine = Engine(model, device=device, dtype=dtype, offload=offload)
        engine.load()
        return engine

    return make


engine_factory = _default_engine_factory
