"""The API's task queue: rows in the store (``db``), worker threads that run them, cancel and waiting.

Submitting writes a row; workers claim rows one at a time (at most ``per_key_limit`` running per API key) and run
them with a per-task cancel ``Event`` the engine checks every denoising step. Every state change notifies one
condition, so ``wait`` (the long-poll of ``/query_result``) wakes on events instead of polling. On start, tasks
a crashed server left running are put back in the queue or failed with the reason (``db.recover``).
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.store import Store
from workbench.engine.engine import Progress
from workbench.rest import db
from workbench.rest.db import JobRow

log = logging.getLogger("workbench.rest")


@dataclass(frozen=True)
class Outcome:
    """What running a task gave: items and run ids when done; otherwise the status and the reason."""

    status: str  # "done", "failed" or "cancelled"
    items: list[dict[str, Any]]
    run_ids: list[str]
    error: str | None = None


Runner = Callable[[JobRow, threading.Event, Callable[[Progress], None]], Outcome]


class QueueFull(WorkbenchError):
    def __init__(self, retry_after_s: int, limit: int) -> None:
        super().__init__(f"the queue is full ({limit} tasks waiting); retry in about {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Submitted:
    task_id: str
    queue_position: int


class JobQueue:
    def __init__(
        self,
        store: Store,
        runner: Runner,
        *,
        max_queued: int = 200,
        per_key_limit: int = 1,
        workers: int = 1,
    ) -> None:
        if workers < 1 or per_key_limit < 1 or max_queued < 1:
            raise ValueError("workers, per_key_limit and max_queued must be at least 1")
        self.store = store
        self.runner = runner
        self.max_queued = max_queued
        self.per_key_limit = per_key_limit
        self.workers = workers
        self._changed = threading.Condition()
        self._version = 0  # bumped on every change; waiters compare it
        self._progress: dict[str, str] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self.stopping = threading.Event()  # set by stop(): workers take no more tasks
        self.recovered = db.recover(store)

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._changed:
            if self._threads:
                return
            self.stopping.clear()
            for n in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"workbench-api-worker-{n}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop taking tasks; running ones are cancelled (and go back to the queue on the next start)."""
        with self._changed:
            self.stopping.set()
            for event in self._cancels.values():
                event.set()
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    def _notify(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    # --- submit / cancel / read -----------------------------------------------------------------------------
    def submit(
        self, key_id: str, request: dict[str, Any], audio_format: str, warnings: list[str]
    ) -> Submitted:
        task_id = uuid.uuid4().hex
        position = db.insert_job(
            self.store, task_id, key_id, request, audio_format, warnings, self.max_queued
        )
        if position is None:
            raise QueueFull(self.retry_after_s(), self.max_queued)
        self._notify()
        return Submitted(task_id, position)

    def retry_after_s(self) -> int:
        """About when a queue slot frees: the average task time over the workers (at least a second)."""
        avg = db.stats(self.store)["avg_job_seconds"] or 5.0
        return max(1, math.ceil(avg / self.workers))

    def cancel(self, key_id: str, task_id: str) -> JobRow | None:
        """Cancel a queued task at once, or a running one within a denoising step. None: no such task of this key."""
        job = db.get_jobs(self.store, [task_id]).get(task_id)
        if job is None or job.key_id != key_id:
            return None
        if job.status == "queued" and db.end_job(
            self.store, task_id, "cancelled", "cancelled by the client before it started", only_if="queued"
        ):
            self._notify()
        else:
            with self._changed:
                event = self._cancels.get(task_id)
            if event is not None:
                event.set()
        return db.get_jobs(self.store, [task_id])[task_id]

    def jobs(self, ids: list[str]) -> dict[str, JobRow]:
        return db.get_jobs(self.store, ids)

    def positions(self, ids: list[str]) -> dict[str, int]:
        return db.queue_positions(self.store, ids)

    def progress_text(self, task_id: str) -> str:
        with self._changed:
            return self._progress.get(task_id, "")

    def wait(self, ids: list[str], timeout_s: float) -> None:
        """Return when any of ``ids`` is terminal already, when something changes, or after ``timeout_s``."""
        if timeout_s <= 0:
            return
        jobs = db.get_jobs(self.store, ids)
        if any(j.terminal for j in jobs.values()) or len(jobs) < len(set(ids)):
            return
        with self._changed:
            seen = self._version
            self._changed.wait_for(lambda: self._version != seen or self.stopping.is_set(), timeout_s)

    def stats(self) -> dict[str, Any]:
        return {**db.stats(self.store), "queue_maxsize": self.max_queued, "workers": self.workers}

    # --- workers --------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._changed:
                if self.stopping.is_set():
                    return
                job = db.claim_next(self.store, self.per_key_limit)
                if job is None:
                    self._wait_change(self._version)
                    continue
                cancel = threading.Event()
                self._cancels[job.id] = cancel
                self._progress[job.id] = "starting"
                self._version += 1
                self._changed.notify_all()
            self._run(job, cancel)

    def _wait_change(self, seen: int) -> None:
        """Block (holding the condition) until the version moves past ``seen`` or the queue stops."""
        self._changed.wait_for(lambda: self._version != seen or self.stopping.is_set())

    def _run(self, job: JobRow, cancel: threading.Event) -> None:
        def on_progress(p: Progress) -> None:
            with self._changed:
                self._progress[job.id] = str(p)
                self._version += 1
                self._changed.notify_all()

        try:
            outcome = self.runner(job, cancel, on_progress)
        except WorkbenchError as exc:  # bad input found only at run time (a source gone, a LoRA unreadable)
            outcome = Outcome("failed", [], [], str(exc))
        except Exception as exc:  # the worker must survive any one task; the task says what happened
            log.exception("API task %s failed", job.id)
            outcome = Outcome("failed", [], [], f"{type(exc).__name__}: {exc}")
        stopping = self.stopping.is_set()
        if outcome.status == "done":
            db.finish_job(self.store, job.id, outcome.items, outcome.run_ids)
        elif outcome.status == "cancelled" and stopping:
            db.requeue(
                self.store, job.id, job.attempts
            )  # stopped by the server, not the client: it runs on the next start
        else:
            db.end_job(self.store, job.id, outcome.status, outcome.error or outcome.status)
        with self._changed:
            self._cancels.pop(job.id, None)
            self._progress.pop(job.id, None)
            self._version += 1
            self._changed.notify_all()
