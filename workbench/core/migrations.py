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
    (
        "0002_campaigns",
        """
        CREATE TABLE campaigns (
            name TEXT PRIMARY KEY,
            genre TEXT NOT NULL,
            status TEXT NOT NULL,           -- 'preparing' | 'open' | 'closed'
            config_json TEXT NOT NULL,      -- the validated CampaignConfig (rater codes removed)
            target_lufs REAL,               -- the loudness every stimulus was matched to
            created_at TEXT NOT NULL
        );
        CREATE TABLE campaign_clips (
            id TEXT PRIMARY KEY,            -- random: the clip -> system mapping exists only here
            campaign TEXT NOT NULL REFERENCES campaigns(name),
            system TEXT NOT NULL,
            prompt_id TEXT NOT NULL,
            take INTEGER NOT NULL,
            kind TEXT NOT NULL,             -- 'clip' or 'degraded' (the gold-trial copy of source_clip)
            source_clip TEXT,
            source_path TEXT NOT NULL,      -- generated take or imported file
            served_path TEXT NOT NULL,      -- the anonymised copy (random name, bare WAV)
            run_id TEXT,                    -- runs.id of a generated take
            loudness_lufs REAL NOT NULL,
            true_peak_dbtp REAL NOT NULL,
            duration_s REAL NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX campaign_clips_campaign ON campaign_clips(campaign, kind);
        CREATE TABLE campaign_raters (
            campaign TEXT NOT NULL REFERENCES campaigns(name),
            rater TEXT NOT NULL,
            code_salt TEXT NOT NULL,
            code_hash TEXT NOT NULL,        -- PBKDF2 of the login code (the code itself is never stored)
            created_at TEXT NOT NULL,
            PRIMARY KEY (campaign, rater)
        );
        CREATE TABLE served_pairs (
            pair_id TEXT PRIMARY KEY,       -- random: the idempotency key of the vote answering it
            campaign TEXT NOT NULL REFERENCES campaigns(name),
            rater TEXT NOT NULL,
            seq INTEGER NOT NULL,           -- 0-based position in the rater's session
            prompt_id TEXT NOT NULL,
            clip_left TEXT NOT NULL,
            clip_right TEXT NOT NULL,
            system_left TEXT NOT NULL,
            system_right TEXT NOT NULL,
            is_gold INTEGER NOT NULL DEFAULT 0,
            gold_expected TEXT,
            repeat_of TEXT,
            token_left TEXT NOT NULL UNIQUE,  -- random URL tokens of the two clips for this serve only
            token_right TEXT NOT NULL UNIQUE,
            served_at TEXT NOT NULL,
            answered_at TEXT,
            UNIQUE (campaign, rater, seq)
        );
        CREATE INDEX served_pairs_rater ON served_pairs(campaign, rater, answered_at);
        CREATE TABLE votes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pair_id TEXT NOT NULL UNIQUE REFERENCES served_pairs(pair_id),
            campaign TEXT NOT NULL,
            rater TEXT NOT NULL,
            genre TEXT NOT NULL,
            prompt_id TEXT NOT NULL,
            system_left TEXT NOT NULL,
            system_right TEXT NOT NULL,
            clip_left TEXT NOT NULL,
            clip_right TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('left', 'right', 'tie', 'both_bad')),
            is_gold INTEGER NOT NULL DEFAULT 0,
            gold_expected TEXT,
            repeat_of TEXT,
            fit_left INTEGER CHECK (fit_left IS NULL OR fit_left BETWEEN 1 AND 5),
            fit_right INTEGER CHECK (fit_right IS NULL OR fit_right BETWEEN 1 AND 5),
            comment TEXT NOT NULL DEFAULT '',
            listened_left_s REAL,
            listened_right_s REAL,
            served_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX votes_campaign ON votes(campaign, created_at);
        """,
    ),
    (
        "0003_rater_leases",
        """
        CREATE TABLE rater_leases (
            campaign TEXT PRIMARY KEY,      -- one live rater server per campaign
            holder TEXT NOT NULL,           -- random id of the server process holding it
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            port INTEGER,
            started_at TEXT NOT NULL,
            heartbeat_at REAL NOT NULL,     -- wall clock (s since the epoch) of the last renewal
            expires_at REAL NOT NULL        -- a lease not renewed by then may be taken over
        );
        """,
    ),
    (
        "0004_api_jobs",
        """
        CREATE TABLE api_jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
            id TEXT NOT NULL UNIQUE,        -- the task id the API hands out
            key_id TEXT NOT NULL,           -- which API key submitted it (a hash, never the key)
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            request_json TEXT NOT NULL,     -- the validated request with its seed fixed, so a resume replays it
            audio_format TEXT NOT NULL,
            warnings_json TEXT NOT NULL DEFAULT '[]',
            result_json TEXT,               -- the result items (file, seed, run id, ...)
            run_ids_json TEXT,              -- runs.id of each take: the task's results in History
            error TEXT,                     -- why it failed or was cancelled
            attempts INTEGER NOT NULL DEFAULT 0,  -- starts (a task the server died in twice is failed)
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        );
        CREATE INDEX api_jobs_status ON api_jobs(status, seq);
        """,
    ),
]
