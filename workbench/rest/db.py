"""All SQL of the API's task queue (table ``api_jobs``, migration ``0004_api_jobs``).

The queue's rows are its truth: a task id is a row, so it survives a restart, and every state change is one
``BEGIN IMMEDIATE`` transaction on the shared store. Like ``campaigns/db.py`` this module is one of the few that
may hold SQL (tests/test_architecture.py's allow-list): the queue is the API's own table and its queries (claim the
next task a key may start, recover after a crash) belong next to the code that depends on their exact semantics.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from workbench.core.store import Store

TERMINAL = ("done", "failed", "cancelled")
MAX_ATTEMPTS = 2  # a task the server died in this many times is failed rather than started again


@dataclass(frozen=True)
class JobRow:
    seq: int
    id: str
    key_id: str
    status: str
    request: dict[str, Any]
    audio_format: str
    warnings: list[str]
    result: list[dict[str, Any]] | None
    run_ids: list[str]
    error: str | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def _row(r: Any) -> JobRow:
    return JobRow(
        seq=r["seq"],
        id=r["id"],
        key_id=r["key_id"],
        status=r["status"],
        request=json.loads(r["request_json"]),
        audio_format=r["audio_format"],
        warnings=json.loads(r["warnings_json"]),
        result=json.loads(r["result_json"]) if r["result_json"] else None,
        run_ids=json.loads(r["run_ids_json"]) if r["run_ids_json"] else [],
        error=r["error"],
        attempts=r["attempts"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
    )


def insert_job(
    store: Store,
    job_id: str,
    key_id: str,
    request: dict[str, Any],
    audio_format: str,
    warnings: list[str],
    max_queued: int,
) -> int | None:
    """Queue a task and return its queue position (1 = next), or None when ``max_queued`` tasks already wait."""
    with store.transaction() as conn:
        queued = conn.execute("SELECT COUNT(*) FROM api_jobs WHERE status = 'queued'").fetchone()[0]
        if queued >= max_queued:
            return None
        conn.execute(
            "INSERT INTO api_jobs (id, key_id, status, request_json, audio_format, warnings_json, created_at) "
            "VALUES (?, ?, 'queued', ?, ?, ?, ?)",
            (job_id, key_id, json.dumps(request), audio_format, json.dumps(warnings), _now()),
        )
    return int(queued) + 1


def get_jobs(store: Store, ids: list[str]) -> dict[str, JobRow]:
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    rows = store.connect().execute(f"SELECT * FROM api_jobs WHERE id IN ({marks})", ids).fetchall()
    return {r["id"]: _row(r) for r in rows}


def queue_positions(store: Store, ids: list[str]) -> dict[str, int]:
    """1-based position among queued tasks, for the queued ones of ``ids``."""
    rows = store.connect().execute("SELECT id FROM api_jobs WHERE status = 'queued' ORDER BY seq").fetchall()
    wanted = set(ids)
    return {r["id"]: i + 1 for i, r in enumerate(rows) if r["id"] in wanted}


def claim_next(store: Store, per_key_limit: int) -> JobRow | None:
    """Mark the oldest queued task whose key runs fewer than ``per_key_limit`` tasks as running, and return it.

    Among keys with work waiting, the one that started a task longest ago goes first, so one client's long queue
    does not hold back everyone else's first task.
    """
    with store.transaction() as conn:
        row = conn.execute(
            """
            SELECT q.* FROM api_jobs q
            WHERE q.status = 'queued'
              AND (SELECT COUNT(*) FROM api_jobs r WHERE r.key_id = q.key_id AND r.status = 'running') < ?
            ORDER BY (SELECT COALESCE(MAX(s.started_at), '') FROM api_jobs s WHERE s.key_id = q.key_id), q.seq
            LIMIT 1
            """,
            (per_key_limit,),
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            "UPDATE api_jobs SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE seq = ?",
            (_now(), row["seq"]),
        )
        claimed = conn.execute("SELECT * FROM api_jobs WHERE seq = ?", (row["seq"],)).fetchone()
    return _row(claimed)


def finish_job(store: Store, job_id: str, result: list[dict[str, Any]], run_ids: list[str]) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE api_jobs SET status = 'done', result_json = ?, run_ids_json = ?, finished_at = ?, error = NULL "
            "WHERE id = ?",
            (json.dumps(result), json.dumps(run_ids), _now(), job_id),
        )


def end_job(store: Store, job_id: str, status: str, error: str, *, only_if: str | None = None) -> bool:
    """Fail or cancel a task with its reason; ``only_if``: only when it is still in that status."""
    if status not in ("failed", "cancelled"):
        raise ValueError(f"end_job: status must be failed or cancelled, not {status!r}")
    sql = "UPDATE api_jobs SET status = ?, error = ?, finished_at = ? WHERE id = ?"
    args: tuple[Any, ...] = (status, error, _now(), job_id)
    if only_if is not None:
        sql += " AND status = ?"
        args += (only_if,)
    with store.transaction() as conn:
        return conn.execute(sql, args).rowcount == 1


def requeue(store: Store, job_id: str, attempt: int) -> None:
    """Put a task the server stopped (not the client) back in the queue, without counting that start. Only the
    run that is still the task's latest start (``attempt``) does so: another server may have claimed it since."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE api_jobs SET status = 'queued', started_at = NULL, attempts = attempts - 1 "
            "WHERE id = ? AND status = 'running' AND attempts = ?",
            (job_id, attempt),
        )


def recover(store: Store) -> tuple[int, int]:
    """After a crash: tasks left running go back to the queue (their seed is stored, so they replay), unless the
    server already died in them ``MAX_ATTEMPTS`` times. Returns (requeued, failed)."""
    with store.transaction() as conn:
        failed = conn.execute(
            "UPDATE api_jobs SET status = 'failed', finished_at = ?, error = ? "
            "WHERE status = 'running' AND attempts >= ?",
            (
                _now(),
                f"the server stopped while running this task {MAX_ATTEMPTS} times; not starting it again",
                MAX_ATTEMPTS,
            ),
        ).rowcount
        requeued = conn.execute(
            "UPDATE api_jobs SET status = 'queued', started_at = NULL WHERE status = 'running'"
        ).rowcount
    return int(requeued), int(failed)


def stats(store: Store) -> dict[str, Any]:
    conn = store.connect()
    counts = {
        r["status"]: r["n"]
        for r in conn.execute("SELECT status, COUNT(*) AS n FROM api_jobs GROUP BY status")
    }
    avg = conn.execute(
        "SELECT AVG((julianday(finished_at) - julianday(started_at)) * 86400.0) FROM api_jobs "
        "WHERE status = 'done' AND started_at IS NOT NULL AND finished_at IS NOT NULL"
    ).fetchone()[0]
    return {
        "total": int(sum(counts.values())),
        "queued": int(counts.get("queued", 0)),
        "running": int(counts.get("running", 0)),
        "succeeded": int(counts.get("done", 0)),
        "failed": int(counts.get("failed", 0)),
        "cancelled": int(counts.get("cancelled", 0)),
        "avg_job_seconds": None if avg is None else float(avg),
    }
