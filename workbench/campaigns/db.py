"""Campaign rows in the workbench store (tables from migration ``0002_campaigns``): all SQL on those tables.

Reports read votes and clips through ``load_votes`` and ``campaign_clips``, typed as ``evals`` takes them, so
``evals`` never receives a store.

The clip -> system mapping, rater code hashes and served pairs live only here, on the server. Votes are written
with ``INSERT ... ON CONFLICT(pair_id) DO NOTHING`` so a retried, double-clicked or replayed vote for the same
served pair is stored exactly once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from workbench.campaigns.config import CampaignConfig, RaterSpec, config_from_dict
from workbench.campaigns.schedule import PairChoice
from workbench.core.errors import InputError
from workbench.core.store import Store

if TYPE_CHECKING:  # evals pulls in numpy and scipy; the rater server imports this module without needing them
    from evals.preference.preference import Vote
    from evals.preference.track_results import ClipSource

PBKDF2_ROUNDS = 100_000
VOTE_COLUMNS = [
    "id", "pair_id", "campaign", "rater", "genre", "prompt_id", "system_left", "system_right", "clip_left",
    "clip_right", "outcome", "is_gold", "gold_expected", "repeat_of", "fit_left", "fit_right", "comment",
    "listened_left_s", "listened_right_s", "served_at", "created_at",
]  # fmt: skip


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class CampaignRecord:
    config: CampaignConfig
    status: str
    target_lufs: float | None
    created_at: str


@dataclass(frozen=True)
class ClipRow:
    id: str
    campaign: str
    system: str
    prompt_id: str
    take: int
    kind: str
    source_clip: str | None
    source_path: str
    served_path: str
    run_id: str | None
    loudness_lufs: float
    true_peak_dbtp: float
    duration_s: float
    created_at: str


@dataclass(frozen=True)
class ServedPair:
    pair_id: str
    campaign: str
    rater: str
    seq: int
    choice: PairChoice
    token_left: str
    token_right: str
    served_at: str
    answered_at: str | None


def _hash_code(code: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), bytes.fromhex(salt), PBKDF2_ROUNDS).hex()


CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0 O 1 I L, no lower case (so no l): read aloud, typed
CODE_GROUPS, CODE_GROUP_LEN = 3, 4


def new_code() -> str:
    """A login code such as ``KX7P-M4RW-9TQH``: 12 symbols of 31 (59 bits) in groups of four."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LEN))
    return "-".join(symbols[i : i + CODE_GROUP_LEN] for i in range(0, len(symbols), CODE_GROUP_LEN))


def create_campaign(store: Store, config: CampaignConfig) -> dict[str, str]:
    """Insert the campaign and its raters. Returns rater -> login code for codes generated here."""
    public = dataclasses.replace(config, raters=[RaterSpec(r.id) for r in config.raters])
    # The slow parts (serialising the config, one PBKDF2 hash per rater) run before BEGIN IMMEDIATE, so that
    # the store's write lock is held only for the inserts and raters' votes on other campaigns never wait.
    config_json = json.dumps(public.to_dict())
    generated: dict[str, str] = {}
    logins: list[tuple[str, str, str]] = []
    for rater in config.raters:
        code = rater.code or new_code()
        if rater.code is None:
            generated[rater.id] = code
        salt = secrets.token_hex(16)
        logins.append((rater.id, salt, _hash_code(code, salt)))
    with store.transaction() as conn:
        existing = conn.execute("SELECT status FROM campaigns WHERE name = ?", (config.name,)).fetchone()
        if existing is not None:
            hint = f" (it is '{existing[0]}'; remove it with: workbench campaign delete {config.name})"
            raise InputError(
                "name",
                config.name,
                "a campaign with this name exists; pick another name"
                + (hint if existing[0] == "preparing" else ""),
            )
        conn.execute(
            "INSERT INTO campaigns (name, genre, status, config_json, target_lufs, created_at) VALUES (?,?,?,?,?,?)",
            (config.name, config.genre, "preparing", config_json, None, now_iso()),
        )
        for rater_id, salt, code_hash in logins:
            conn.execute(
                "INSERT INTO campaign_raters (campaign, rater, code_salt, code_hash, created_at) VALUES (?,?,?,?,?)",
                (config.name, rater_id, salt, code_hash, now_iso()),
            )
    return generated


def set_status(store: Store, name: str, status: str, target_lufs: float | None = None) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE campaigns SET status = ?, target_lufs = COALESCE(?, target_lufs) WHERE name = ?",
            (status, target_lufs, name),
        )


def change_status(store: Store, name: str, *, to: str, was: str) -> None:
    """Move a campaign from status ``was`` to ``to`` (open <-> closed), or say why not."""
    with store.transaction() as conn:
        row = conn.execute("SELECT status FROM campaigns WHERE name = ?", (name,)).fetchone()
        if row is None:
            get_campaign(store, name)  # raises, naming the known campaigns
        if row["status"] == to:
            raise InputError("campaign", name, f"is already {to}")
        if row["status"] != was:
            raise InputError("campaign", name, f"is {row['status']}; only an {was} campaign can become {to}")
        conn.execute("UPDATE campaigns SET status = ? WHERE name = ?", (to, name))


def is_open(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT status FROM campaigns WHERE name = ?", (name,)).fetchone()
    return row is not None and row["status"] == "open"


def get_campaign(store: Store, name: str) -> CampaignRecord:
    row = store.connect().execute("SELECT * FROM campaigns WHERE name = ?", (name,)).fetchone()
    if row is None:
        known = ", ".join(list_campaigns(store)) or "none yet"
        raise InputError("campaign", name, f"no such campaign (known: {known})")
    config = config_from_dict(json.loads(row["config_json"]))
    return CampaignRecord(config, row["status"], row["target_lufs"], row["created_at"])


def list_campaigns(store: Store) -> list[str]:
    return [r[0] for r in store.connect().execute("SELECT name FROM campaigns ORDER BY created_at")]


def open_campaigns(store: Store) -> list[str]:
    """Names of the open campaigns, newest first."""
    query = "SELECT name FROM campaigns WHERE status = 'open' ORDER BY created_at DESC"
    return [r[0] for r in store.connect().execute(query)]


def check_login(store: Store, campaign: str, rater: str, code: str) -> bool:
    return login_generation(store, campaign, rater, code) is not None


def reset_code(store: Store, campaign: str, rater: str) -> str:
    code, salt = new_code(), secrets.token_hex(16)
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE campaign_raters SET code_salt = ?, code_hash = ? WHERE campaign = ? AND rater = ?",
            (salt, _hash_code(code, salt), campaign, rater),
        )
        if cur.rowcount == 0:
            raise InputError("rater", rater, f"not a rater of campaign {campaign!r}")
    return code


def add_clips(store: Store, rows: list[ClipRow]) -> None:
    names = [f.name for f in dataclasses.fields(ClipRow)]
    with store.transaction() as conn:
        conn.executemany(
            f"INSERT INTO campaign_clips ({','.join(names)}) VALUES ({','.join('?' for _ in names)})",
            [dataclasses.astuple(r) for r in rows],
        )


def load_clips(store: Store, name: str) -> list[ClipRow]:
    rows = store.connect().execute("SELECT * FROM campaign_clips WHERE campaign = ? ORDER BY rowid", (name,))
    return [ClipRow(**dict(r)) for r in rows]


def _served(row: sqlite3.Row) -> ServedPair:
    choice = PairChoice(
        row["prompt_id"], row["clip_left"], row["clip_right"], row["system_left"], row["system_right"],
        bool(row["is_gold"]), row["gold_expected"], row["repeat_of"],
    )  # fmt: skip
    return ServedPair(
        row["pair_id"], row["campaign"], row["rater"], row["seq"], choice, row["token_left"], row["token_right"],
        row["served_at"], row["answered_at"],
    )  # fmt: skip


def load_served(store: Store, campaign: str) -> list[ServedPair]:
    rows = store.connect().execute(
        "SELECT * FROM served_pairs WHERE campaign = ? ORDER BY rowid", (campaign,)
    )
    return [_served(r) for r in rows]


def get_served(conn: sqlite3.Connection, pair_id: str) -> ServedPair | None:
    row = conn.execute("SELECT * FROM served_pairs WHERE pair_id = ?", (pair_id,)).fetchone()
    return _served(row) if row else None


def open_pair(conn: sqlite3.Connection, campaign: str, rater: str) -> ServedPair | None:
    row = conn.execute(
        "SELECT * FROM served_pairs WHERE campaign = ? AND rater = ? AND answered_at IS NULL ORDER BY seq DESC LIMIT 1",
        (campaign, rater),
    ).fetchone()
    return _served(row) if row else None


def served_count(conn: sqlite3.Connection, campaign: str, rater: str) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM served_pairs WHERE campaign = ? AND rater = ?", (campaign, rater)
    )
    return int(row.fetchone()[0])


def insert_served(
    conn: sqlite3.Connection, campaign: str, rater: str, seq: int, choice: PairChoice
) -> ServedPair:
    pair = ServedPair(
        secrets.token_hex(16), campaign, rater, seq, choice, secrets.token_urlsafe(24), secrets.token_urlsafe(24),
        now_iso(), None,
    )  # fmt: skip
    conn.execute(
        "INSERT INTO served_pairs (pair_id, campaign, rater, seq, prompt_id, clip_left, clip_right, system_left, "
        "system_right, is_gold, gold_expected, repeat_of, token_left, token_right, served_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            pair.pair_id, campaign, rater, seq, choice.prompt_id, choice.clip_left, choice.clip_right,
            choice.system_left, choice.system_right, int(choice.is_gold), choice.gold_expected, choice.repeat_of,
            pair.token_left, pair.token_right, pair.served_at,
        ),
    )  # fmt: skip
    return pair


@dataclass(frozen=True)
class VoteInput:
    outcome: str
    fit_left: int | None = None
    fit_right: int | None = None
    comment: str = ""
    listened_left_s: float | None = None
    listened_right_s: float | None = None


def insert_vote(conn: sqlite3.Connection, pair: ServedPair, genre: str, vote: VoteInput) -> bool:
    """Store the vote and mark the pair answered, in the caller's transaction. False if it was already stored."""
    created = now_iso()
    c = pair.choice
    cur = conn.execute(
        "INSERT INTO votes (pair_id, campaign, rater, genre, prompt_id, system_left, system_right, clip_left, "
        "clip_right, outcome, is_gold, gold_expected, repeat_of, fit_left, fit_right, comment, listened_left_s, "
        "listened_right_s, served_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(pair_id) DO NOTHING",
        (
            pair.pair_id, pair.campaign, pair.rater, genre, c.prompt_id, c.system_left, c.system_right, c.clip_left,
            c.clip_right, vote.outcome, int(c.is_gold), c.gold_expected, c.repeat_of, vote.fit_left, vote.fit_right,
            vote.comment, vote.listened_left_s, vote.listened_right_s, pair.served_at, created,
        ),
    )  # fmt: skip
    if cur.rowcount == 0:
        return False
    conn.execute("UPDATE served_pairs SET answered_at = ? WHERE pair_id = ?", (created, pair.pair_id))
    return True


def vote_rows(store: Store, campaign: str) -> list[dict[str, Any]]:
    rows = store.connect().execute(
        "SELECT * FROM votes WHERE campaign = ? ORDER BY created_at, id", (campaign,)
    )
    return [dict(r) for r in rows]


def load_votes(store: Store, campaign: str) -> list[Vote]:
    """All votes of one campaign, oldest first, as evals reads them; an error naming the campaigns that have votes."""
    from evals.preference.vote_io import votes_from_records

    rows = vote_rows(store, campaign)
    if not rows:
        known = [
            r[0] for r in store.connect().execute("SELECT DISTINCT campaign FROM votes ORDER BY 1 LIMIT 20")
        ]
        raise InputError(
            "campaign",
            campaign,
            f"no votes stored for this campaign (campaigns with votes: {', '.join(known) or 'none'})",
        )
    return votes_from_records(rows, "votes")


def campaign_clips(store: Store, campaign: str) -> list[ClipSource]:
    """(source path, system, genre) of a campaign's clips, gold-trial degraded copies left out."""
    from evals.preference.track_results import ClipSource

    rows = (
        store.connect()
        .execute(
            "SELECT c.source_path, c.system, k.genre FROM campaign_clips c JOIN campaigns k ON c.campaign = k.name "
            "WHERE c.campaign = ? AND c.kind = 'clip' ORDER BY c.system, c.prompt_id, c.take",
            (campaign,),
        )
        .fetchall()
    )
    if not rows:
        raise InputError("campaign", campaign, "no clips stored for this campaign")
    return [ClipSource(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def answered_count(conn: sqlite3.Connection, campaign: str, rater: str | None = None) -> int:
    if rater is None:
        return int(conn.execute("SELECT COUNT(*) FROM votes WHERE campaign = ?", (campaign,)).fetchone()[0])
    row = conn.execute(
        "SELECT COUNT(*) FROM votes WHERE campaign = ? AND rater = ?", (campaign, rater)
    ).fetchone()
    return int(row[0])


def served_path_for_token(store: Store, token: str) -> tuple[str, str] | None:
    """(pair_id, side) for a clip URL token, or None."""
    row = (
        store.connect()
        .execute(
            "SELECT pair_id, token_left FROM served_pairs WHERE token_left = ? OR token_right = ?",
            (token, token),
        )
        .fetchone()
    )
    if row is None:
        return None
    return row["pair_id"], "left" if row["token_left"] == token else "right"


def delete_campaign(store: Store, name: str) -> None:
    """Remove a campaign that has no votes (a failed or abandoned set-up). Votes are never deleted."""
    with store.transaction() as conn:
        if answered_count(conn, name):
            raise InputError("campaign", name, "has votes; export them instead of deleting the campaign")
        for table in ("served_pairs", "campaign_clips", "campaign_raters"):
            conn.execute(f"DELETE FROM {table} WHERE campaign = ?", (name,))
        conn.execute("DELETE FROM campaigns WHERE name = ?", (name,))


# --- rater login generations ------------------------------------------------------------------------------------
# A rater's code salt changes with every reset, so it names the code a session logged in with: a session whose
# salt is no longer the rater's is revoked (``campaigns.sessions``).


def login_generation(store: Store, campaign: str, rater: str, code: str) -> str | None:
    """The salt of the rater's current code if ``code`` is it, else None (same hashing work either way)."""
    row = (
        store.connect()
        .execute(
            "SELECT code_salt, code_hash FROM campaign_raters WHERE campaign = ? AND rater = ?",
            (campaign, rater),
        )
        .fetchone()
    )
    if row is None:
        _hash_code(code, "00" * 16)
        return None
    ok = hmac.compare_digest(_hash_code(code, row["code_salt"]), row["code_hash"])
    return str(row["code_salt"]) if ok else None


def campaign_raters(store: Store, campaign: str) -> list[str]:
    rows = store.connect().execute(
        "SELECT rater FROM campaign_raters WHERE campaign = ? ORDER BY rowid", (campaign,)
    )
    return [str(r[0]) for r in rows]


def code_generation(store: Store, campaign: str, rater: str) -> str | None:
    row = (
        store.connect()
        .execute("SELECT code_salt FROM campaign_raters WHERE campaign = ? AND rater = ?", (campaign, rater))
        .fetchone()
    )
    return None if row is None else str(row["code_salt"])


# --- rater server leases (migration 0003_rater_leases) ----------------------------------------------------------


@dataclass(frozen=True)
class LeaseRow:
    campaign: str
    holder: str
    host: str
    pid: int
    port: int | None
    started_at: str
    heartbeat_at: float
    expires_at: float


def get_lease(conn: sqlite3.Connection, campaign: str) -> LeaseRow | None:
    row = conn.execute("SELECT * FROM rater_leases WHERE campaign = ?", (campaign,)).fetchone()
    return LeaseRow(**dict(row)) if row else None


def put_lease(conn: sqlite3.Connection, lease: LeaseRow) -> None:
    """Insert or replace the campaign's lease (the caller's transaction decided it may)."""
    names = [f.name for f in dataclasses.fields(LeaseRow)]
    conn.execute(
        f"INSERT OR REPLACE INTO rater_leases ({','.join(names)}) VALUES ({','.join('?' for _ in names)})",
        dataclasses.astuple(lease),
    )


def renew_lease(store: Store, campaign: str, holder: str, now: float, expires_at: float) -> bool:
    """Extend the lease if ``holder`` still has it; False once another server took it over."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE rater_leases SET heartbeat_at = ?, expires_at = ? WHERE campaign = ? AND holder = ?",
            (now, expires_at, campaign, holder),
        )
    return cur.rowcount == 1


def set_lease_port(store: Store, campaign: str, holder: str, port: int) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE rater_leases SET port = ? WHERE campaign = ? AND holder = ?", (port, campaign, holder)
        )


def release_lease(store: Store, campaign: str, holder: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM rater_leases WHERE campaign = ? AND holder = ?", (campaign, holder))


def holds_lease(conn: sqlite3.Connection, campaign: str, holder: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM rater_leases WHERE campaign = ? AND holder = ?", (campaign, holder)
    ).fetchone()
    return row is not None
