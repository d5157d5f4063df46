"""``workbench eval report CAMPAIGN``: the per-genre decision report from a campaign's votes.

Votes come from the workbench store (the campaign's ``votes`` table) or, with ``--votes FILE``, from an export
(CSV / JSON / JSONL / Parquet with the columns listed in evals/preference/vote_io.py). Registered by workbench/cli/eval.py
through ``add_report_parser``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError


def add_report_parser(eval_subparsers: Any) -> None:
    p = eval_subparsers.add_parser(
        "report",
        help="per-genre PASS / FAIL / NEED MORE VOTES report from a campaign's votes",
        description=(
            "Score a blind A/B campaign (Bradley-Terry with rater-clustered intervals, agreement, rater screening) "
            "and decide per genre whether each candidate may replace the baseline. Writes report.md, report.html, "
            "CSV and JSON exports to --out."
        ),
    )
    p.add_argument(
        "campaign",
        metavar="CAMPAIGN",
        nargs="+",
        help="campaign name(s); several (e.g. one per genre) are reported together, decided per genre",
    )
    p.add_argument(
        "--votes",
        metavar="FILE",
        help="read votes from an export (.csv/.json/.jsonl/.parquet) instead of the store",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default: WORKBENCH_HOME/reports/CAMPAIGN)")
    p.add_argument("--baseline", metavar="SYSTEM", help="the system to replace (e.g. the licensed catalogue)")
    p.add_argument(
        "--candidate",
        metavar="SYSTEM",
        action="append",
        help="system to judge against the baseline (repeatable; default: all others)",
    )
    p.add_argument(
        "--tracks",
        metavar="FILE",
        help="per-track results (.csv/.json: system, genre, delivery_pass, loudness_lufs, tempo_bpm)",
    )
    p.add_argument(
        "--clips", metavar="FILE", help="CSV of clips (path, system, genre) to analyze and delivery-check"
    )
    p.add_argument(
        "--analyze-clips",
        action="store_true",
        help="analyze and delivery-check the campaign's own source clips from the store (before loudness matching)",
    )
    p.add_argument(
        "--rule",
        metavar="FILE",
        help="YAML with DecisionRule fields (see docs/metrics.md); flags below override it",
    )
    p.add_argument(
        "--min-win-rate", type=float, help="lower bound the candidate's win rate must reach (default 0.45)"
    )
    p.add_argument(
        "--min-delivery-pass-rate",
        help="share of the candidate's tracks that must pass delivery, or 'none' (default 0.95)",
    )
    p.add_argument(
        "--interval",
        choices=("sequential", "fixed", "anytime"),
        help="group-sequential design (default), fixed-n (read once) or anytime-valid interval",
    )
    p.add_argument(
        "--planned-votes",
        type=int,
        help="head-to-head votes per candidate at the design's last look (default: from the campaign's plan in "
        "the store; without it, one analysis of the votes there are)",
    )
    p.add_argument("--looks", type=int, help="planned looks of the sequential design (default 4)")
    p.add_argument(
        "--final",
        action="store_true",
        help="the campaign is closed: the last look takes the votes there are (default: a closed campaign in the store)",
    )
    p.add_argument("--bootstrap-rounds", type=int, help="rater bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, help="bootstrap seed (default 0)")
    p.add_argument(
        "--tracking",
        choices=("auto", "online", "offline", "off"),
        default="off",
        help="log the report to W&B (default off)",
    )
    p.set_defaults(func=run_report)


def _rule(args: argparse.Namespace) -> Any:
    from evals.api import load_rule

    overrides: dict[str, Any] = {}
    if args.min_win_rate is not None:
        overrides["min_win_rate"] = args.min_win_rate
    if args.min_delivery_pass_rate is not None:
        text = str(args.min_delivery_pass_rate).strip().lower()
        try:
            overrides["min_delivery_pass_rate"] = None if text in ("none", "null", "off") else float(text)
        except ValueError:
            raise InputError(
                "--min-delivery-pass-rate", args.min_delivery_pass_rate, "a share such as 0.95, or 'none'"
            ) from None
    for name in ("interval", "bootstrap_rounds", "seed", "planned_votes", "looks"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.final:
        overrides["final"] = True
    return load_rule(args.rule, overrides, "--rule")


def _with_campaign_plan(rule: Any, args: argparse.Namespace, names: list[str]) -> Any:
    """The design registered at ``campaign create`` (its plan section), unless the flags or --rule set one."""
    import dataclasses

    from workbench.campaigns import db
    from workbench.campaigns.planning import planned_head_to_head
    from workbench.core.store import Store

    store = Store()
    try:
        records = [db.get_campaign(store, name) for name in names]
    except InputError:
        return rule  # votes without a campaign record (e.g. imported rows): the rule as given
    changes: dict[str, Any] = {}
    if args.planned_votes is None and rule.planned_votes == 0:
        changes["planned_votes"] = min(planned_head_to_head(r.config) for r in records)
    plan = records[0].config.plan
    if args.rule is None:
        if args.interval is None:
            changes["interval"] = plan.interval
        if args.looks is None:
            changes["looks"] = plan.looks
        if args.min_win_rate is None:
            changes["min_win_rate"] = plan.min_win_rate
        changes["confidence"] = plan.confidence
        changes["planning_win_rate"] = plan.planning_win_rate
    if not args.final and all(r.status == "closed" for r in records):
        changes["final"] = True
    return dataclasses.replace(rule, **changes) if changes else rule


def run_report(args: argparse.Namespace) -> int:
    from evals.api import campaign_report, safe_name, votes_of
    from evals.preference.track_results import read_clip_list, read_track_results
    from evals.preference.vote_io import read_votes_file
    from workbench.core import paths

    rule = _rule(args)
    names: list[str] = list(args.campaign)
    if args.votes:
        votes = votes_of(read_votes_file(args.votes), names, args.votes)
    else:
        from workbench.campaigns.db import load_votes
        from workbench.core.store import Store

        votes = [v for name in names for v in load_votes(Store(), name)]
        rule = _with_campaign_plan(rule, args, names)
        rule.validate()
    tracks = read_track_results(args.tracks) if args.tracks else []
    clips = read_clip_list(args.clips) if args.clips else []
    if args.analyze_clips:
        from workbench.campaigns.db import campaign_clips
        from workbench.core.store import Store

        clips += [c for name in names for c in campaign_clips(Store(), name)]
    if clips:
        print(f"analyzing {len(clips)} clips for delivery checks ...")
    report = campaign_report(
        votes,
        title=" + ".join(names),
        baseline=args.baseline,
        candidates=args.candidate,
        rule=rule,
        tracks=tracks,
        clips=clips,
    )
    safe = safe_name(names)
    out = Path(args.out) if args.out else paths.reports_dir() / safe
    tracker = None
    if args.tracking != "off":
        from workbench.core.tracking import Tracker

        tracker = Tracker(
            out / "tracking",
            name=f"report-{safe}",
            job_type="campaign-report",
            config=dataclasses.asdict(rule),
            mode=args.tracking,
        )
    try:
        files = report.write(out, tracker)
    finally:
        if tracker is not None:
            tracker.finish()
    for d in report.analysis.decisions:
        print(f"{d.genre:<14} {d.candidate:<20} {d.verdict:<16} {'; '.join(d.reasons)}")
    for note in report.analysis.notes:
        print(f"note: {note}")
    print(f"report: {files.html}")
    return 0
