"""Streaming a campaign's votes to its W&B run (and the local JSONL mirror) without slowing the raters down.

The rater service hands each stored vote to ``VoteStream.submit``, which only enqueues. One worker thread reads the
votes back from the store and logs: a counter per vote, and the running Bradley-Terry standings
(``evals.preference.preference.standings``, rater-clustered bootstrap) plus the full votes table every ``standings_every``
votes but at most once per ``min_interval_s`` (and always at close). Standings are computed off the request path
and throttled because a bootstrap costs far more CPU than a vote: on a 2-core server, recomputing them every few
votes took 40 % of the CPU and tripled the raters' tail latency (benchmarks/rating_latency.py).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

from workbench.campaigns import db
from workbench.core.store import Store
from workbench.core.tracking import Tracker

STANDINGS_BOOTSTRAP_ROUNDS = 200  # enough for a running view; the decision report uses the full 1000


def standings_rows(store: Store, campaign: str, rounds: int = STANDINGS_BOOTSTRAP_ROUNDS) -> list[list[Any]]:
    """[system, rating, ci_low, ci_high, votes, win_rate, both_bad_rate, rank] from the stored votes."""
    from evals.preference.preference import standings

    votes = [v for v in db.load_votes(store, campaign) if not v.is_gold]
    if not votes:
        return []
    table = standings(votes, rounds=rounds)
    return [
        [s.system, s.rating, s.ci_low, s.ci_high, s.votes, s.win_rate, s.both_bad_rate, s.rank]
        for s in table.standings
    ]


STANDINGS_COLUMNS = ["system", "rating", "ci_low", "ci_high", "votes", "win_rate", "both_bad_rate", "rank"]


class VoteStream:
    def __init__(
        self,
        store: Store,
        campaign: str,
        run_dir: Path,
        *,
        mode: str | None = None,
        standings_every: int = 10,
        min_interval_s: float = 30.0,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.store = store  # Store connections are per thread, so the worker gets its own
        self.campaign = campaign
        self.standings_every = max(1, standings_every)
        self.min_interval_s = min_interval_s
        self._last_flush = float("-inf")
        self._pending = False
        self.tracker = Tracker(
            run_dir, name=f"campaign-{campaign}", job_type="ab-campaign", config=config or {}, mode=mode
        )
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._logged = 0
        self._worker = threading.Thread(target=self._run, name=f"vote-stream-{campaign}", daemon=True)
        self._worker.start()

    def submit(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            try:
                event = self._queue.get(timeout=max(1.0, self.min_interval_s / 4))
            except queue.Empty:
                event = {}
            if event is None:
                return
            try:
                if event:
                    self._log(event)
                if self._pending and time.monotonic() - self._last_flush >= self.min_interval_s:
                    self.flush_tables(self._logged)
            except Exception as exc:  # tracking must never stop a campaign; the store already holds the vote
                self.tracker.notes.append(f"vote stream: {type(exc).__name__}: {exc}")

    def _log(self, event: dict[str, Any]) -> None:
        total = int(event.get("total", self._logged + 1))
        self._logged = total
        self.tracker.log({"votes": total, f"outcome/{event.get('outcome')}": 1}, step=total)
        if total % self.standings_every == 0:
            self._pending = True

    def flush_tables(self, step: int | None = None) -> None:
        self._pending, self._last_flush = False, time.monotonic()
        rows = standings_rows(self.store, self.campaign)
        if rows:
            self.tracker.log_table("standings", STANDINGS_COLUMNS, rows, step=step)
            self.tracker.log({f"rating/{r[0]}": r[1] for r in rows}, step=step)
        votes = db.vote_rows(self.store, self.campaign)
        self.tracker.log_table(
            "votes", db.VOTE_COLUMNS, [[v[c] for c in db.VOTE_COLUMNS] for v in votes], step=step
        )

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=30)
        try:
            self.flush_tables()
        except Exception as exc:  # e.g. no votes yet: nothing to summarise
            self.tracker.notes.append(f"vote stream close: {exc}")
        self.tracker.finish()
