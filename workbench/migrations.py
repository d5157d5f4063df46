"""Schema migrations of the workbench store, applied in order, each exactly once.

Migrations are named rather than numbered so that features developed side by side (campaigns, batches, LoRA runs)
can each append theirs without renumbering. Never edit an applied migration: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_runs",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,            -- one row per audio file (a batch of N gives N rows)
            batch_id TEXT NOT NULL,         -- shared by the takes of one Engine.run
            take_index INTEGER NOT NULL,
            created_at TEXT NOT NULL,       -- ISO 8601 UTC
            task TEXT NOT NULL,
            status TEXT NOT NULL,
            model TEXT NOT NULL,
            model_revision TEXT,
            prompt TEXT NOT NULL DEFAULT '',
            lyrics TEXT NOT NULL DEFAULT '',
            genre TEXT,
            lora TEXT,
            lora_scale REAL,
            seed INTEGER NOT NULL,
            duration_s REAL NOT NULL,
            audio_path TEXT NOT NULL,
            sidecar_path TEXT NOT NULL,
            recipe_json TEXT NOT NULL       -- the full sidecar, so the store alone can replay a run
        );
        CREATE INDEX runs_created ON runs(created_at);
        CREATE INDEX runs_batch ON runs(batch_id);
        CREATE INDEX runs_genre ON runs(genre);
        """,
    ),
]
