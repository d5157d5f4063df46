"""The rater service: what a logged-in rater is served, how a vote is stored, the listening gate.

Exactly-once votes: the browser sends the ``pair_id`` it was served with every vote. Under one lock (a campaign is
served by one process: the server holds its ``lease``, checked in every write transaction), the vote row (UNIQUE
pair_id, ON CONFLICT DO NOTHING) and the next served pair are committed in one transaction before the reply
leaves; a retry, a double click or a reconnect that re-sends the same vote finds the pair answered and gets the
rater's current open pair back instead of a second vote.

Access: logins go through the ``throttle``; sessions and clip URLs through ``access`` (a URL serves only its
rater, until the pair is answered or the URL expires); each served clip is a fresh dithered rendering of the
stored stimulus (``audio_prep.render_served``), the same bytes for all range requests of one serve.

Resume: a rater's open (unanswered) pair is stored, so a reload, a reconnect or a server restart serves the same
pair again; nothing about the session lives only in the browser.

Listening gate, enforced here and not only in the browser: each clip must have been fetched from the clip route at
least ``min_listen_s`` before the vote, the pair must have been on screen for both clips' minimum in sequence
(the player pauses one clip when the other starts), and the browser's own count of played seconds must reach the
minimum for each clip. Fetch times are kept in memory: after a restart the rater simply plays the clips again.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evals.preference.preference import Outcome
from workbench.campaigns import audio_prep, db
from workbench.campaigns.access import DEFAULT_CLIP_TTL_S, ClipGrants, Grant, SessionBook
from workbench.campaigns.config import CampaignConfig
from workbench.campaigns.lease import ServerLease
from workbench.campaigns.schedule import ClipRef, PairChoice, Planner
from workbench.campaigns.throttle import LoginThrottle, Refusal
from workbench.core.errors import InputError
from workbench.core.store import Store

CLIP_ROUTE = "ab/clip"  # relative, so it works under a root path and through a share link
GATE_SLACK_S = 0.25  # timer jitter between the browser's clock and ours
RENDER_CACHE = 48  # freshly dithered clips kept for range requests: about 2 per active rater at 10 s clips
LEASE_LOST = (
    "this rating server no longer holds the campaign (another server took it over), so nothing was stored; "
    "reload the page"
)


@dataclass(frozen=True)
class LoginResult:
    """``generation``: the code generation the session is tied to (None: refused); ``refusal``: throttled."""

    generation: str | None
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.generation is not None


@dataclass(frozen=True)
class PairView:
    """Everything the rater's browser gets about a trial: opaque ids and URLs, no names, no paths."""

    pair_id: str
    url_left: str
    url_right: str
    done: int
    quota: int
    finished: bool
    message: str = ""
    closed: bool = False  # the organiser closed the campaign: no more trials for anyone


class RaterService:
    def __init__(
        self,
        store: Store,
        campaign: str,
        *,
        stream: Callable[[dict[str, object]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        lease: ServerLease | None = None,
        throttle: LoginThrottle | None = None,
        clip_ttl_s: float = DEFAULT_CLIP_TTL_S,
        seed: int | None = None,
    ) -> None:
        record = db.get_campaign(store, campaign)
        if record.status == "closed":
            raise InputError(
                "campaign", campaign, f"is closed; `workbench campaign reopen {campaign}` takes votes again"
            )
        if record.status != "open":
            raise InputError(
                "campaign", campaign, f"is {record.status}, not open; finish `workbench campaign create`"
            )
        self.store = store
        self.name = campaign
        self.config: CampaignConfig = record.config
        self.stream = stream
        self.clock = clock
        self.lease = lease
        self.throttle = throttle or LoginThrottle(clock=clock)
        self.sessions = SessionBook()
        self.grants = ClipGrants(clip_ttl_s, clock)
        self._lock = threading.Lock()
        # The schedule's randomness must not be predictable; ``seed`` is for tests that need a fixed schedule.
        self._rng = random.Random(secrets.randbits(64) if seed is None else seed)
        self._fetched: dict[tuple[str, str], float] = {}
        self._shown: dict[str, float] = {}  # pair_id -> when it was last served (monotonic)
        self._paths: dict[str, str] = {}
        self._dither_key = secrets.token_bytes(16) if seed is None else seed.to_bytes(16, "little")
        self._rendered: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._render_lock = threading.Lock()
        self._answered: Counter[str] = Counter()
        self._total = 0
        self._load()

    # --- start-up --------------------------------------------------------------------------------------------
    def _load(self) -> None:
        clips = db.load_clips(self.store, self.name)
        self._paths = {c.id: c.served_path for c in clips}
        refs = [ClipRef(c.id, c.system, c.prompt_id, c.take) for c in clips if c.kind == "clip"]
        degraded = {c.source_clip: c.id for c in clips if c.kind == "degraded" and c.source_clip}
        self.planner = Planner(self.config, refs, degraded)
        outcomes = {r["pair_id"]: r["outcome"] for r in db.vote_rows(self.store, self.name)}
        for pair in db.load_served(self.store, self.name):
            self.planner.observe_served(pair.pair_id, pair.rater, pair.choice)
            if pair.pair_id in outcomes:
                self.planner.observe_answer(pair.pair_id, pair.rater, pair.choice, outcomes[pair.pair_id])
                self._answered[pair.rater] += 1
        self._total = sum(self._answered.values())

    # --- rater API -------------------------------------------------------------------------------------------
    def login(self, rater: str, code: str) -> bool:
        return self.attempt_login("", rater, code).ok

    def attempt_login(self, ip: str, rater: str, code: str) -> LoginResult:
        """Check a code under the throttle: a locked address or rater is refused before any hashing."""
        refusal = self.throttle.refusal(ip, rater)
        if refusal is not None:
            return LoginResult(None, refusal)
        generation = db.login_generation(self.store, self.name, rater, code)
        self.throttle.record(ip, rater, generation is not None)
        return LoginResult(generation)

    def session_rater(self, token: str) -> str | None:
        """The rater of a live session token; None if unknown or issued before the rater's code was reset."""
        return self.sessions.check(token, lambda rater: db.code_generation(self.store, self.name, rater))

    @property
    def instructions(self) -> str:
        return self.config.instructions

    def current(self, rater: str) -> PairView:
        """The rater's open pair (resume), or a newly served one, or the finish screen."""
        with self._lock:
            return self._current_locked(rater, "")

    def vote(
        self,
        rater: str,
        pair_id: str,
        outcome: str,
        *,
        fit_left: int | None = None,
        fit_right: int | None = None,
        comment: str = "",
        listened_left_s: float | None = None,
        listened_right_s: float | None = None,
    ) -> PairView:
        vote = _vote_input(
            outcome, fit_left, fit_right, comment, listened_left_s, listened_right_s, self.config
        )
        with self._lock:
            conn = self.store.connect()
            pair = db.get_served(conn, pair_id)
            if pair is None or pair.rater != rater or pair.campaign != self.name:
                raise InputError("pair_id", pair_id, "is not a pair served to you; reload the page")
            if pair.answered_at is not None:
                return self._current_locked(rater, "Your vote was recorded.")
            refusal = self._gate(pair, vote)
            if refusal:
                return self._view(pair, refusal)
            with self.store.transaction() as tx:
                self._check_lease(tx)
                if not db.is_open(tx, self.name):
                    # closed between serving this pair and the vote: the final report is already fixed, so the
                    # vote is not stored (a late vote would change a verdict that was read as final)
                    return self._finished(rater)
                db.insert_vote(tx, pair, self.config.genre, vote)
                nxt = self._serve_locked(tx, rater, pending=1)
            # Counters move only after the commit succeeded, so a failed commit leaves them true.
            self._answered[rater] += 1
            self._total += 1
            self.planner.observe_answer(pair.pair_id, rater, pair.choice, vote.outcome)
            if nxt is not None:
                self._after_serve(nxt)
            self._fetched.pop((pair_id, "left"), None)
            self._fetched.pop((pair_id, "right"), None)
            self.grants.revoke_pair(pair_id)
            view = self._view(nxt, "Vote recorded.") if nxt else self._finished(rater)
        if self.stream is not None:
            self.stream(
                {"pair_id": pair.pair_id, "rater": rater, "outcome": vote.outcome, "total": self._total}
            )
        return view

    def open_clip(self, token: str, rater: str | None) -> Path | None:
        """The stored stimulus behind a clip URL token, for the rater it was issued to while it is live (else
        None); records when the rater started playing."""
        grant = self._open(token, rater)
        return None if grant is None else Path(grant.path)

    def _open(self, token: str, rater: str | None) -> Grant | None:
        grant = self.grants.resolve(token, rater)
        if grant is None or not Path(grant.path).is_file():
            return None
        self._fetched.setdefault((grant.pair_id, grant.side), self.clock())
        return grant

    def clip_bytes(self, token: str, rater: str | None) -> bytes | None:
        """The WAV bytes a clip URL serves: this pair side's own dithered rendering of the stimulus (the same
        bytes for every range request of one serve, different bytes in every other pair). None: no such grant."""
        grant = self._open(token, rater)
        if grant is None:
            return None
        key = (grant.pair_id, grant.side)
        with self._render_lock:
            data = self._rendered.get(key)
            if data is not None:
                self._rendered.move_to_end(key)
                return data
        digest = hashlib.blake2b(
            f"{grant.pair_id}/{grant.side}".encode(), key=self._dither_key, digest_size=8
        )
        data = audio_prep.render_served(Path(grant.path), int.from_bytes(digest.digest(), "little"))
        with self._render_lock:
            self._rendered[key] = data
            while len(self._rendered) > RENDER_CACHE:
                self._rendered.popitem(last=False)
        return data

    # --- internals (hold self._lock) --------------------------------------------------------------------------
    def _check_lease(self, tx: sqlite3.Connection) -> None:
        if self.lease is not None and not self.lease.held_in(tx):
            raise InputError("server", self.name, LEASE_LOST)

    def _quota_reached(self, rater: str, pending: int = 0) -> bool:
        """``pending``: a vote in the open transaction, not yet counted."""
        return (
            self._answered[rater] + pending >= self.config.votes_per_rater
            or self._total + pending >= self.config.effective_vote_target
        )

    def _current_locked(self, rater: str, message: str) -> PairView:
        conn = self.store.connect()
        pair = db.open_pair(conn, self.name, rater)
        if pair is not None and db.is_open(conn, self.name):
            self._shown.setdefault(pair.pair_id, self.clock())
            return self._view(pair, message)
        if self._quota_reached(rater):
            return self._finished(rater)
        with self.store.transaction() as tx:
            self._check_lease(tx)
            nxt = self._serve_locked(tx, rater)
        if nxt is None:
            return self._finished(rater)
        self._after_serve(nxt)
        return self._view(nxt, message)

    def _serve_locked(self, tx: sqlite3.Connection, rater: str, pending: int = 0) -> db.ServedPair | None:
        if self._quota_reached(rater, pending) or not db.is_open(tx, self.name):
            return None
        seq = db.served_count(tx, self.name, rater)
        choice: PairChoice | None = self.planner.next_pair(rater, seq, self._rng)
        if choice is None:
            return None
        return db.insert_served(tx, self.name, rater, seq, choice)

    def _after_serve(self, pair: db.ServedPair) -> None:
        self.planner.observe_served(pair.pair_id, pair.rater, pair.choice)
        self._shown[pair.pair_id] = self.clock()

    def _gate(self, pair: db.ServedPair, vote: db.VoteInput) -> str:
        need = self.config.min_listen_s
        if need <= 0:
            return ""
        now = self.clock()
        for side, label, reported in (
            ("left", "A", vote.listened_left_s),
            ("right", "B", vote.listened_right_s),
        ):
            started = self._fetched.get((pair.pair_id, side))
            if (
                started is None
                or now - started < need - GATE_SLACK_S
                or (reported or 0.0) < need - GATE_SLACK_S
            ):
                return f"Please listen to clip {label} for at least {need:g} s before voting."
        shown = self._shown.setdefault(
            pair.pair_id, now
        )  # after a restart the clock starts at the first vote
        if now - shown < 2 * need - GATE_SLACK_S:
            return f"Please listen to both clips for at least {need:g} s each before voting."
        return ""

    def _view(self, pair: db.ServedPair, message: str) -> PairView:
        return PairView(
            pair_id=pair.pair_id,
            url_left=f"{CLIP_ROUTE}/{self._token(pair, 'left')}",
            url_right=f"{CLIP_ROUTE}/{self._token(pair, 'right')}",
            done=self._answered[pair.rater],
            quota=self.config.votes_per_rater,
            finished=False,
            message=message,
        )

    def _token(self, pair: db.ServedPair, side: str) -> str:
        clip = pair.choice.clip_left if side == "left" else pair.choice.clip_right
        return self.grants.token_for(pair.pair_id, side, pair.rater, self._paths[clip])

    def _finished(self, rater: str) -> PairView:
        closed = not db.is_open(self.store.connect(), self.name)
        return PairView("", "", "", self._answered[rater], self.config.votes_per_rater, True, "", closed)

    def progress(self) -> dict[str, int]:
        with self._lock:
            return {
                "votes": self._total,
                "target": self.config.effective_vote_target,
                "raters": len(self._answered),
            }


def _vote_input(
    outcome: str,
    fit_left: int | None,
    fit_right: int | None,
    comment: str,
    listened_left_s: float | None,
    listened_right_s: float | None,
    config: CampaignConfig,
) -> db.VoteInput:
    answer = Outcome.parse("outcome", outcome)
    fits: list[int | None] = []
    for name, value in (("fit_left", fit_left), ("fit_right", fit_right)):
        if value in (None, ""):
            fits.append(None)
            continue
        try:
            number = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(name, value, "a fit rating is a whole number from 1 to 5, or empty") from None
        if not 1 <= number <= 5:
            raise InputError(name, value, "a fit rating is a whole number from 1 to 5, or empty")
        fits.append(number if config.fit_ratings else None)
    text = (comment or "").strip()[:2000] if config.comments else ""
    listened = [None if v is None else max(0.0, float(v)) for v in (listened_left_s, listened_right_s)]
    return db.VoteInput(answer.value, fits[0], fits[1], text, listened[0], listened[1])
