"""A campaign's progress at a glance: votes against the target, per rater, gold results, balance, standings, and
raters that the BS.1534-style screening in ``evals.preference.rater_quality`` would exclude."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from workbench.campaigns import db
from workbench.core.store import Store


@dataclass
class CampaignStatus:
    name: str
    genre: str
    status: str
    target_lufs: float | None
    votes: int
    vote_target: int
    clips_per_system: dict[str, int]
    per_rater: dict[str, tuple[int, int]]  # rater -> (votes, quota)
    outcomes: dict[str, int]
    gold_trials: int
    gold_passed: int
    pair_counts: dict[str, int]  # "a vs b" -> regular votes
    standings: list[list[Any]] = field(default_factory=list)
    flagged: dict[str, list[str]] = field(
        default_factory=dict
    )  # rater -> reasons (evals.preference.rater_quality rules)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"campaign {self.name} ({self.genre}): {self.status}",
            f"votes {self.votes} / {self.vote_target}"
            + (f"; stimuli at {self.target_lufs:g} LUFS" if self.target_lufs is not None else ""),
            "clips: " + ", ".join(f"{s} {n}" for s, n in self.clips_per_system.items()),
            "raters: " + ", ".join(f"{r} {v}/{q}" for r, (v, q) in self.per_rater.items()),
            "outcomes: " + (", ".join(f"{k} {v}" for k, v in self.outcomes.items()) or "none yet"),
            f"gold trials: {self.gold_passed}/{self.gold_trials} passed",
            "pairs: " + (", ".join(f"{k} {v}" for k, v in self.pair_counts.items()) or "none yet"),
        ]
        for row in self.standings:
            out.append(f"  {row[7]}. {row[0]}: {row[1]:.0f} [{row[2]:.0f}, {row[3]:.0f}] from {row[4]} votes")
        out += [f"rater {r} flagged: {'; '.join(reasons)}" for r, reasons in self.flagged.items()]
        out += [f"warning: {w}" for w in self.warnings]
        return out


def campaign_status(store: Store, name: str, *, with_standings: bool = True) -> CampaignStatus:
    record = db.get_campaign(store, name)
    config = record.config
    clips = db.load_clips(store, name)
    votes = db.vote_rows(store, name)
    per_system = Counter(c.system for c in clips if c.kind == "clip")
    rater_votes = Counter(v["rater"] for v in votes)
    gold = [v for v in votes if v["is_gold"]]
    regular = [v for v in votes if not v["is_gold"]]
    pairs = Counter(" vs ".join(sorted((v["system_left"], v["system_right"]))) for v in regular)
    warnings = []
    durations = {round(c.duration_s, 3) for c in clips}
    if len(durations) > 1:
        warnings.append(
            f"clip durations differ ({min(durations):g}-{max(durations):g} s): set clip_duration_s so length "
            "cannot reveal a system"
        )
    from workbench.campaigns.planning import campaign_plan

    warnings += campaign_plan(config).warnings
    gold_n, _ = config.check_trials
    if gold_n == 0:
        warnings.append("gold_rate is 0: screening cannot catch random clicking in this campaign")
    standings: list[list[Any]] = []
    if with_standings and len({s for v in regular for s in (v["system_left"], v["system_right"])}) >= 2:
        from workbench.campaigns.stream import standings_rows

        standings = standings_rows(store, name)
    flagged: dict[str, list[str]] = {}
    if votes:
        from evals.preference.rater_quality import rater_quality

        flagged = {r: q.reasons for r, q in rater_quality(db.load_votes(store, name)).items() if q.excluded}
    return CampaignStatus(
        name=name,
        genre=config.genre,
        status=record.status,
        target_lufs=record.target_lufs,
        votes=len(votes),
        vote_target=config.effective_vote_target,
        clips_per_system=dict(sorted(per_system.items())),
        per_rater={r.id: (rater_votes[r.id], config.votes_per_rater) for r in config.raters},
        outcomes=dict(sorted(Counter(v["outcome"] for v in votes).items())),
        gold_trials=len(gold),
        gold_passed=sum(1 for v in gold if v["outcome"] == v["gold_expected"]),
        pair_counts=dict(sorted(pairs.items())),
        standings=standings,
        flagged=flagged,
        warnings=warnings,
    )
