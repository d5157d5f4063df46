"""Login throttling for the rater server: failed codes counted per client address and per rater name, lockout.

Each login check costs a PBKDF2 hash (``db.PBKDF2_ROUNDS``) on the server's CPU. Without a limit, a flood of wrong
codes slows every rater's votes and lets short organiser-chosen codes be guessed. Here a key (an address, or a
rater name, known or not so that refusals reveal nothing about which names exist) that collects ``*_failures``
failed logins within ``window_s`` is locked for ``lockout_s``. While either the address or the name is locked,
attempts are refused before any hash is computed, so a flood costs a dictionary lookup per request.

A successful login clears the rater's own count but not the address's: otherwise an attacker holding one valid
code could reset the counter between guesses at other raters. All state is in memory, which is enough because
one server serves a campaign (``lease``); a restart starts the counts afresh.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.core.errors import InputError

MAX_TRACKED_KEYS = 50_000  # bounds the memory a flood from many addresses can take


@dataclass(frozen=True)
class ThrottlePolicy:
    ip_failures: int = 20  # an office behind one NAT address makes a few honest typos per rater
    rater_failures: int = 8
    window_s: float = 600.0
    lockout_s: float = 900.0

    def __post_init__(self) -> None:
        for name in ("ip_failures", "rater_failures"):
            if getattr(self, name) < 1:
                raise InputError(name, getattr(self, name), "at least 1 failed login before a lockout")
        for name in ("window_s", "lockout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(name, value, "a positive number of seconds")


@dataclass
class _Key:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before its code is checked, and for how long."""

    retry_after_s: float
    reason: str  # "address" or "rater"

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        return f"Too many failed logins; try again in {minutes} minute{'s' if minutes > 1 else ''}."


class LoginThrottle:
    """Thread-safe counters; ``clock`` is injectable so tests drive lockout expiry without sleeping."""

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic):
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._lock = threading.Lock()
        self._ips: dict[str, _Key] = {}
        self._raters: dict[str, _Key] = {}
        self.hash_checks = 0  # codes actually checked (each one a PBKDF2 hash): what a flood costs

    def locked(self, ip: str, rater: str) -> Refusal | None:
        """The lockout this attempt falls under, if any (a look-up only: nothing is counted)."""
        now = self.clock()
        with self._lock:
            return self._locked(ip, rater, now)

    def address_locked(self, ip: str) -> Refusal | None:
        """The lockout of this address alone: checked before a request's body is even read."""
        now = self.clock()
        with self._lock:
            entry = self._ips.get(ip)
            return (
                Refusal(entry.locked_until - now, "address") if entry and entry.locked_until > now else None
            )

    def refusal(self, ip: str, rater: str) -> Refusal | None:
        """None if this attempt may check its code (counted as a hash check); else a ``Refusal``."""
        now = self.clock()
        with self._lock:
            refused = self._locked(ip, rater, now)
            if refused is None:
                self.hash_checks += 1
            return refused

    def _locked(self, ip: str, rater: str, now: float) -> Refusal | None:
        for reason, table, key in (("address", self._ips, ip), ("rater", self._raters, rater)):
            entry = table.get(key)
            if entry is not None and entry.locked_until > now:
                return Refusal(entry.locked_until - now, reason)
        return None

    def record(self, ip: str, rater: str, ok: bool) -> None:
        now = self.clock()
        with self._lock:
            if ok:
                self._raters.pop(rater, None)
                return
            self._fail(self._ips, ip, self.policy.ip_failures, now)
            self._fail(self._raters, rater, self.policy.rater_failures, now)

    def _fail(self, table: dict[str, _Key], key: str, limit: int, now: float) -> None:
        entry = table.get(key)
        if entry is None:
            if len(table) >= MAX_TRACKED_KEYS:
                self._prune(table, now)
            entry = table[key] = _Key()
        if entry.locked_until and entry.locked_until <= now:
            entry.failures.clear()  # a served lockout starts a fresh count
            entry.locked_until = 0.0
        entry.failures.append(now)
        while entry.failures and entry.failures[0] < now - self.policy.window_s:
            entry.failures.popleft()
        if len(entry.failures) >= limit:
            entry.locked_until = now + self.policy.lockout_s

    def _prune(self, table: dict[str, _Key], now: float) -> None:
        """Drop keys neither locked nor with a failure in the window; if all are live, the oldest half."""
        stale = [
            k
            for k, e in table.items()
            if e.locked_until <= now and (not e.failures or e.failures[-1] < now - self.policy.window_s)
        ]
        if not stale:
            by_age = sorted(table, key=lambda k: table[k].failures[-1] if table[k].failures else 0.0)
            stale = by_age[: len(by_age) // 2]
        for k in stale:
            del table[k]
