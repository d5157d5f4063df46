"""Who may reach what on the rater server: login sessions and clip grants.

Sessions: Gradio keeps a cookie token -> user name map in memory and never forgets a token. The rater server
records, for every token it issued, the generation of the rater's code at login (its salt, which every reset
changes). A request whose session was issued under an older generation is refused and its token dropped, so
``workbench campaign code NAME RATER`` (from any process) logs that rater out everywhere.

Clip grants: a clip URL is ``ab/clip/<token>``. A token names one side of one served pair, is valid only for the
rater the pair was served to, and only until the pair is answered or ``ttl_s`` after it was issued (a page load
issues fresh ones). The token alone is therefore not a credential: a leaked URL is useless without that rater's
session, and yesterday's URLs are dead.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_CLIP_TTL_S = 1800.0


@dataclass(frozen=True)
class Grant:
    pair_id: str
    side: str  # "left" | "right"
    rater: str
    path: str
    expires_at: float


class ClipGrants:
    def __init__(
        self, ttl_s: float = DEFAULT_CLIP_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._by_token: dict[str, Grant] = {}
        self._by_side: dict[tuple[str, str], str] = {}  # (pair_id, side) -> its live token

    def token_for(self, pair_id: str, side: str, rater: str, path: str) -> str:
        """The live token of this pair side (the same while valid, so a re-render keeps a playing URL)."""
        now = self.clock()
        with self._lock:
            token = self._by_side.get((pair_id, side))
            grant = self._by_token.get(token) if token else None
            if grant is not None and grant.expires_at > now:
                return token  # type: ignore[return-value]
            if token:
                self._by_token.pop(token, None)
            self._prune(now)
            token = secrets.token_urlsafe(24)
            self._by_token[token] = Grant(pair_id, side, rater, path, now + self.ttl_s)
            self._by_side[(pair_id, side)] = token
            return token

    def resolve(self, token: str, rater: str | None) -> Grant | None:
        """The grant behind a token if it is live and ``rater`` is the one it was issued to; else None."""
        grant = self._by_token.get(token)
        if grant is None or rater is None or grant.rater != rater or grant.expires_at <= self.clock():
            return None
        return grant

    def revoke_pair(self, pair_id: str) -> None:
        with self._lock:
            for side in ("left", "right"):
                token = self._by_side.pop((pair_id, side), None)
                if token:
                    self._by_token.pop(token, None)

    def _prune(self, now: float) -> None:
        if len(self._by_token) < 4096:
            return
        for token, grant in list(self._by_token.items()):
            if grant.expires_at <= now:
                del self._by_token[token]
                self._by_side.pop((grant.pair_id, grant.side), None)


class SessionBook:
    """Gradio session token -> (rater, code generation at login)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[str, str]] = {}

    def add(self, token: str, rater: str, generation: str) -> None:
        with self._lock:
            self._sessions[token] = (rater, generation)

    def check(self, token: str, current: Callable[[str], str | None]) -> str | None:
        """The session's rater if it was issued under the rater's current code, else None (then forgotten).

        ``current(rater)`` reads the rater's code generation from the store, so a reset made by another process
        takes effect on the next request."""
        entry = self._sessions.get(token)
        if entry is None:
            return None
        rater, generation = entry
        if current(rater) != generation:
            with self._lock:
                self._sessions.pop(token, None)
            return None
        return rater
