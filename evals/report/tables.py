"""The report's tables as plain rows (one dict per row): what the CSV exports, report.json, W&B tables and the
notebook all show, so every view of a campaign carries the same numbers."""

from __future__ import annotations

import csv
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evals.preference.campaign_analysis import CampaignAnalysis
from workbench.core.cells import safe_cell


def decision_rows(a: CampaignAnalysis) -> list[dict[str, Any]]:
    rows = []
    for d in a.decisions:
        h = d.head_to_head
        rows.append(
            {
                "genre": d.genre,
                "candidate": d.candidate,
                "baseline": d.baseline,
                "verdict": d.verdict,
                "win_rate": h.win_rate,
                "ci_low": h.ci_low,
                "ci_high": h.ci_high,
                "interval": h.interval,
                "votes": h.votes,
                "raters": h.raters,
                "both_bad": h.both_bad,
                "prompts": h.prompts,
                "decisive_share": h.decisive_share,
                "tie_rate": h.tie_rate,
                "score_sd": h.score_sd,
                "se": h.se,
                "df": h.df,
                "design_effect": h.design_effect,
                "rater_icc": h.rater_icc,
                "prompt_icc": h.prompt_icc,
                "repeated_low": h.repeated_low,  # sequential: the repeated interval, next to the stage-wise one
                "repeated_high": h.repeated_high,
                "median_unbiased": h.median_unbiased,
                "look": f"{h.looks[-1].look}/{a.rule.looks}" if h.looks else "",
                "futile": h.futile,
                "alpha": d.alpha,
                "verdict_without_screening": d.verdict_without_screening,
                "delivery_pass_rate": d.delivery.pass_rate if d.delivery else math.nan,
                "delivery_tracks": d.delivery.tracks if d.delivery else 0,
                "more_votes": d.more_votes,
                "reasons": "; ".join(d.reasons),
            }
        )
    return rows


def standings_rows(a: CampaignAnalysis) -> list[dict[str, Any]]:
    scopes = {"overall": a.overall, **a.by_genre}
    return [{"scope": scope, **asdict(s)} for scope, st in scopes.items() for s in st.standings]


def win_rows(a: CampaignAnalysis) -> list[dict[str, Any]]:
    scopes = {"overall": a.win_overall, **a.win_by_genre}
    return [
        {"scope": scope, "system": s, "opponent": o, "win_rate": rate, "votes": n}
        for scope, wm in scopes.items()
        for s, o, rate, n in wm.rows()
    ]


def rater_rows(a: CampaignAnalysis) -> list[dict[str, Any]]:
    return [
        {
            "rater": q.rater,
            "votes": q.votes,
            "gold_trials": q.gold_trials,
            "gold_pass_rate": q.gold_pass_rate,
            "repeats": q.repeats,
            "repeat_consistency": q.repeat_consistency,
            "repeats_same_side": q.repeats_same_side,
            "repeats_decisive": q.repeats_decisive,
            "left_rate": q.position.left_rate,
            "left_p_value": q.position.p_value,
            "tie_rate": q.tie_rate,
            "excluded": q.excluded,
            "reasons": "; ".join(q.reasons),
        }
        for q in a.quality.values()
    ]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        if rows:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            # System, prompt and rater ids are user-chosen text that a spreadsheet would run as a formula.
            writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)
    return path


def json_clean(value: Any) -> Any:
    """JSON has no NaN: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_clean(v) for v in value]
    return value
