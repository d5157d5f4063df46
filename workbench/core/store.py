"""The embedded SQLite store shared by generation, campaigns, batches and reports.

WAL mode lets readers (the UI's history, reports) run while one writer commits. Each thread gets its own
connection because sqlite3 connections must not be shared across threads; ``transaction()`` takes the write
lock up front (BEGIN IMMEDIATE) so a read-then-write sequence cannot be interleaved by another writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.fs_errors import os_error_fix
from workbench.core.migrations import MIGRATIONS

BUSY_TIMEOUT_S = 30.0


@dataclass
class RunRow:
    id: str
    batch_id: str
    take_index: int
    created_at: str
    task: str
    status: str
    model: str
    model_revision: str | None
    prompt: str
    lyrics: str
    genre: str | None
    lora: str | None
    lora_scale: float | None
    seed: int
    duration_s: float
    audio_path: str
    sidecar_path: str
    recipe_json: str

    @property
    def recipe(self) -> dict[str, Any]:
        """The stored recipe; a corrupt one is reported for this run alone (a listing never parses it)."""
        try:
            data = json.loads(self.recipe_json)
        except (json.JSONDecodeError, TypeError) as exc:
            raise InputError(
                "run",
                self.id,
                f"its stored recipe is corrupt ({exc}); the same recipe is in {self.sidecar_path}",
            ) from None
        if not isinstance(data, dict):
            raise InputError("run", self.id, f"its stored recipe is not a mapping; see {self.sidecar_path}")
        return data


_RUN_COLUMNS = [f.name for f in fields(RunRow)]


class StoreError(WorkbenchError):
    """The store file cannot be used (corrupt, from a newer workbench, read-only, disk full); says how to fix it."""


def store_problem(exc: sqlite3.Error, path: Path) -> StoreError | None:
    """A ``StoreError`` naming ``path`` and the fix for the failures a user can meet, else None (a bug)."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text:
        return StoreError(
            f"the store {path} is corrupt ({exc}). Keep it and start a new one: mv '{path}' '{path}.corrupt'; "
            f"recover what can be read with: sqlite3 '{path}.corrupt' .recover | sqlite3 '{path}'"
        )
    if "disk is full" in text or "disk full" in text:
        return StoreError(f"the store {path} cannot grow: {os_error_fix(exc, path)}")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(
            f"the store {path} cannot be opened for writing ({exc}); make its folder writable or set "
            "WORKBENCH_HOME to a writable folder"
        )
    if "disk i/o" in text:
        return StoreError(f"the store {path} hit a disk error ({exc}); check the disk, then run again")
    return None


class Store:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"the store's folder {self.path.parent}: {os_error_fix(exc, self.path)}"
            ) from None
        self._local = threading.local()
        try:
            self._refuse_newer_schema()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            problem = store_problem(exc, self.path)
            if problem is None:
                raise
            self.close()
            raise problem from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _refuse_newer_schema(self) -> None:
        """Read before any write: migrating a store a newer workbench wrote would silently downgrade it."""
        conn = self.connect()
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        known = {name for name, _ in MIGRATIONS}
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        unknown = (
            sorted(r[0] for r in conn.execute("SELECT name FROM schema_migrations") if r[0] not in known)
            if has_table
            else []
        )
        if version > len(MIGRATIONS) or unknown:
            self.close()
            detail = f"schema version {version}, this version knows {len(MIGRATIONS)}"
            if unknown:
                detail += f"; unknown migrations: {', '.join(unknown[:3])}"
            raise StoreError(
                f"this store ({self.path}) was written by a newer workbench ({detail}); it was left unchanged. "
                "Upgrade the workbench, or set WORKBENCH_HOME to another folder to use a separate store"
            )

    def connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
                conn.execute("ROLLBACK")
            problem = store_problem(exc, self.path) if isinstance(exc, sqlite3.OperationalError) else None
            if problem is not None:
                raise problem from None
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            problem = store_problem(exc, self.path)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if problem is None:
                raise
            raise problem from None

    def _migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            for name, sql in MIGRATIONS:
                if name in applied:
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))", (name,)
                )
            conn.execute(f"PRAGMA user_version={len(MIGRATIONS)}")

    def schema_version(self) -> int:
        return int(self.connect().execute("PRAGMA user_version").fetchone()[0])

    # --- runs -------------------------------------------------------------------------------------------------
    def add_runs(self, rows: list[RunRow]) -> None:
        placeholders = ",".join("?" for _ in _RUN_COLUMNS)
        with self.transaction() as conn:
            conn.executemany(
                f"INSERT INTO runs ({','.join(_RUN_COLUMNS)}) VALUES ({placeholders})",
                [tuple(asdict(r)[c] for c in _RUN_COLUMNS) for r in rows],
            )

    def get_run(self, run_id: str) -> RunRow | None:
        row = self.connect().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return RunRow(**dict(row)) if row else None

    def update_recipe(self, run_id: str, recipe_json: str) -> bool:
        """Replace a run's copy of its sidecar (after the sidecar changed, e.g. a mastering pass)."""
        with self.transaction() as conn:
            cursor = conn.execute("UPDATE runs SET recipe_json = ? WHERE id = ?", (recipe_json, run_id))
        return cursor.rowcount == 1

    def list_runs(
        self,
        *,
        text: str | None = None,
        genre: str | None = None,
        model: str | None = None,
        lora: str | None = None,
        task: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 200,
    ) -> list[RunRow]:
        """Newest first. ``text`` matches prompt or lyrics (case-insensitive); dates are ISO strings."""
        where, args = [], []
        if text:
            where.append("(prompt LIKE ? OR lyrics LIKE ?)")
            args += [f"%{text}%", f"%{text}%"]
        for column, value in (("genre", genre), ("model", model), ("task", task)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if lora:
            where.append("lora LIKE ?")
            args.append(f"%{lora}%")
        if since:
            where.append("created_at >= ?")
            args.append(since)
        if until:
            where.append("created_at <= ?")
            args.append(until)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, take_index ASC LIMIT ?"
        rows = self.connect().execute(sql, (*args, limit)).fetchall()
        return [RunRow(**dict(r)) for r in rows]

    def delete_run(self, run_id: str, *, delete_files: bool = True) -> bool:
        """Delete the row and (by default) its audio and sidecar. Files go only after the row is gone."""
        with self.transaction() as conn:
            row = conn.execute("SELECT audio_path, sidecar_path FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if delete_files:
            for p in (row["audio_path"], row["sidecar_path"]):
                Path(p).unlink(missing_ok=True)
        return True
