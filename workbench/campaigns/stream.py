"""Streaming a campaign's votes to its W&B run (and the local JSONL mirror) without slowing the raters down.

The rater service hands each stored vote to ``VoteStream.submit``, which only enqueues. One worker thread reads the
votes back from the store and logs: a counter per vote, and every ``standings_every`` votes the running
Bradley-Terry standings (``evals.preference.standings``, rater-clustered bootstrap) plus the full votes table.
Standings are computed off the request path because a bootstrap takes far longer than a vote may.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

from workbench.campaigns import db
from workbench.store import Store
from workbench.tracking import Tracker

STANDINGS_BOOTSTRAP_ROUNDS = 200  # enough for a running view; the decision report uses the full 1000


def standings_rows(store: Store, campaign: str, rounds: int = STANDINGS_BOOTSTRAP_ROUNDS) -> list[list[Any]]:
    """[system, rating, ci_low, ci_high, votes, win_rate, both_bad_rate, rank] from the stored votes."""
    from evals.preference import standings
    from evals.vote_io import load_votes

    votes = [v for v in load_votes(store, campaign) if not v.is_gold]
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
        config: dict[str, Any] | None = None,
    ) -> None:
        self.store = store  # Store connections are per thread, so the worker gets its own
        self.campaign = campaign
        self.standings_every = max(1, standings_every)
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
            event = self._queue.get()
            if event is None:
                return
            try:
                self._log(event)
            except Exception as exc:  # tracking must never stop a campaign; the store already holds the vote
                self.tracker.notes.append(f"vote stream: {type(exc).__name__}: {exc}")

    def _log(self, event: dict[str, Any]) -> None:
        total = int(event.get("total", self._logged + 1))
        self._logged = total
        self.tracker.log({"votes": total, f"outcome/{event.get('outcome')}": 1}, step=total)
        if total % self.standings_every == 0:
            self.flush_tables(total)

    def flush_tables(self, step: int | None = None) -> None:
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
