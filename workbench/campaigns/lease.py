"""One live rater server per campaign: a lease row in the store, renewed by a heartbeat.

The rater service keeps quotas, the no-repeat rule and the served-pair schedule in memory, so two servers on one
campaign each hand out a full quota (a rater cast 12 votes on a quota of 6 that way). A server therefore takes
the campaign's lease before it serves; a second server refuses to start and names the holder (host, pid, port,
since when). The holder renews the lease every ``ttl_s / 3``; a lease not renewed for ``ttl_s`` is stale and the
next server takes it over. A holder on this host whose process no longer exists (``kill -9``) is stale at once,
so a restarted server does not wait out the expiry. Every vote and every newly served pair checks the lease in
its own transaction, so a server that lost its lease (paused past its expiry) stores nothing more.

Times are wall-clock seconds because two processes compare them; ``clock`` is injectable for tests.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from workbench.campaigns import db
from workbench.core.errors import InputError
from workbench.core.store import Store

log = logging.getLogger("workbench.campaigns.lease")

DEFAULT_TTL_S = 30.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def describe(row: db.LeaseRow) -> str:
    port = f" port {row.port}" if row.port else ""
    return f"pid {row.pid} on {row.host}{port} (since {row.started_at})"


class ServerLease:
    def __init__(
        self,
        store: Store,
        campaign: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
        pid: int | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        if not ttl_s > 0:
            raise InputError("ttl_s", ttl_s, "a positive number of seconds")
        self.store = store
        self.campaign = campaign
        self.ttl_s = ttl_s
        self.clock = clock
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.alive = alive
        self.holder = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def _stale(self, row: db.LeaseRow, now: float) -> bool:
        if row.expires_at <= now:
            return True
        return row.host == self.host and not self.alive(row.pid)

    def acquire(self, port: int | None = None) -> None:
        """Take the lease, or raise an ``InputError`` naming the live server that holds it."""
        now = self.clock()
        with self.store.transaction() as conn:
            row = db.get_lease(conn, self.campaign)
            if row is not None and row.holder != self.holder and not self._stale(row, now):
                raise InputError(
                    "campaign",
                    self.campaign,
                    f"is already served by another rater server: {describe(row)}. Stop that server first; a "
                    f"server that died frees the campaign within {self.ttl_s:g} s",
                )
            if row is not None and row.holder != self.holder:
                log.warning("taking over the stale rater lease of %s", describe(row))
            started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            db.put_lease(
                conn,
                db.LeaseRow(
                    self.campaign, self.holder, self.host, self.pid, port, started, now, now + self.ttl_s
                ),
            )
        self.lost = False

    def renew(self) -> bool:
        now = self.clock()
        ok = db.renew_lease(self.store, self.campaign, self.holder, now, now + self.ttl_s)
        if not ok and not self.lost:
            log.error("campaign %s: this server lost its rater lease; it stores no more votes", self.campaign)
        self.lost = not ok
        return ok

    def held_in(self, conn: sqlite3.Connection) -> bool:
        """Inside the caller's transaction: is the lease still ours?"""
        return db.holds_lease(conn, self.campaign, self.holder)

    def set_port(self, port: int) -> None:
        db.set_lease_port(self.store, self.campaign, self.holder, port)

    def start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(self.ttl_s / 3):
                try:
                    self.renew()
                except sqlite3.Error as exc:  # a busy store: the next beat retries well before expiry
                    log.warning("rater lease renewal failed: %s", exc)

        self._thread = threading.Thread(target=beat, name=f"rater-lease-{self.campaign}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        db.release_lease(self.store, self.campaign, self.holder)
