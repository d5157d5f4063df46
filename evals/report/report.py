"""Campaign decision report: Markdown + self-contained HTML, CSV / JSON exports, and W&B logging when tracking is on.

Files written to the output folder:
    report.md, plots/*.png   the report with its figures beside it (tables: evals.report.tables)
    report.html              the same report in one file (figures inlined)
    decisions.csv            genre, candidate, baseline, verdict, win rate and interval, votes, delivery, reasons
    standings.csv            scope (overall or genre), system, rating, interval, votes, win rate, both-bad rate, rank
    win_matrix.csv           scope, system, opponent, win rate, votes
    raters.csv               per-rater screening (gold, repeats, left rate, exclusion and why)
    report.json              all of the above in one document
    votes.csv                every vote read, including those of excluded raters (for reproduction)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evals.preference.campaign_analysis import CampaignAnalysis
from evals.preference.preference import Vote
from evals.preference.vote_io import write_votes_file
from evals.report.plots import distribution_plot, standings_plot, win_matrix_plot
from evals.report.render import Block, to_html, to_markdown
from evals.report.tables import decision_rows, json_clean, rater_rows, standings_rows, win_rows, write_csv


@dataclass
class ReportFiles:
    out_dir: Path
    markdown: Path
    html: Path
    json: Path
    csv: dict[str, Path]
    plots: dict[str, Path]


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.1%}"


def _scopes(a: CampaignAnalysis, overall: Any, by_genre: dict[str, Any]) -> dict[str, Any]:
    """Overall plus each genre; just the genre when there is only one (a campaign usually has one)."""
    return dict(by_genre) if len(by_genre) == 1 else {"overall": overall, **by_genre}


DECISION_COLUMNS = (
    "genre",
    "candidate",
    "verdict",
    "win rate [interval]",
    "decisive / ties",
    "votes / raters / prompts",
    "without screening",
    "delivery",
    "reasons",
)
DECISION_HEADERS: dict[str, str] = {}


def _num(x: float, digits: int = 2) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def assumptions(a: CampaignAnalysis) -> list[str]:
    """What the verdicts rest on, in words: the "Assumptions and caveats" block of every report."""
    r = a.rule
    items = []
    hs = [d.head_to_head for d in a.decisions if d.head_to_head.votes]
    if hs:
        raters = sorted({h.raters for h in hs})
        prompts = sorted({h.prompts for h in hs})
        items.append(
            f"Verdicts rest on {'/'.join(map(str, raters))} raters and {'/'.join(map(str, prompts))} prompts per "
            f"head-to-head (the rule needs at least {r.min_raters} and {r.min_prompts}). Raters and prompts are "
            "treated as samples from a wider population of listeners and briefs: the interval counts both as "
            "clusters (two-way cluster-robust standard error, t quantiles with min(raters, prompts) - 1 degrees "
            "of freedom). If the question really is 'these prompts only', the interval is conservative."
        )
        items.append(
            "Rater ICC "
            + ", ".join(f"{h.genre}/{h.candidate} {_num(h.rater_icc)}" for h in hs)
            + "; prompt ICC "
            + ", ".join(f"{h.genre}/{h.candidate} {_num(h.prompt_icc)}" for h in hs)
            + "; design effect "
            + ", ".join(f"{h.genre}/{h.candidate} {_num(h.design_effect)}" for h in hs)
            + " (variance relative to independent votes)."
        )
        items.append(
            "Ties count half a win. Decisive share (candidate's wins among non-tie votes) and tie rate: "
            + ", ".join(
                f"{h.genre}/{h.candidate} {_pct(h.decisive_share)} decisive, {_pct(h.tie_rate)} ties"
                for h in hs
            )
            + f". At a tie rate t, the {r.min_win_rate:.0%} margin equals a decisive share of "
            f"({r.min_win_rate:.2f} - t/2) / (1 - t): with many ties a candidate that loses most audible "
            "comparisons can still sit on the margin."
        )
    if r.interval == "sequential":
        plan = (
            f"{r.planned_votes} head-to-head votes, looks at "
            + ", ".join(
                str(max(1, math.ceil(r.planned_votes * (k + 1) / r.looks - 1e-9))) for k in range(r.looks)
            )
            if r.planned_votes
            else "no planned_votes given, so one analysis of the votes there are (read it once)"
        )
        items.append(
            f"Design: group-sequential, {r.looks} planned looks with O'Brien-Fleming-type alpha spending; {plan}. "
            "Stopping between looks, or adding looks, voids the error guarantee."
        )
    elif r.interval == "fixed":
        items.append(
            "Design: one fixed-n analysis; valid only if read once at a vote count fixed in advance."
        )
    else:
        items.append(
            "Design: anytime-valid confidence sequence on votes divided by the design effect; may be re-read "
            "at any time, but it needs about three times the votes of a fixed design."
        )
    cands = len(a.candidates)
    if cands > 1 and r.multiplicity == "holm" and r.primary is None:
        items.append(
            f"{cands} candidates per genre: Holm's step-down keeps the chance of any false PASS at "
            f"{(1 - r.confidence) / 2:.1%} per genre."
        )
    elif cands > 1 and r.primary is not None:
        items.append(f"Primary candidate {r.primary} at the full level; the others at 1/{cands} of it each.")
    elif cands > 1:
        items.append(f"{cands} candidates per genre with no multiplicity correction: false PASSes add up.")
    excluded = len(a.excluded_raters)
    items.append(
        f"Screening excluded {excluded} of {len(a.quality)} raters ({excluded / max(1, len(a.quality)):.0%}); "
        "the 'without screening' column gives every verdict on all raters' votes."
    )
    changed = [d for d in a.decisions if d.verdict_without_screening not in (None, d.verdict)]
    items.append(
        "Sensitivity: "
        + (
            "; ".join(
                f"{d.genre}/{d.candidate} {d.verdict} -> {d.verdict_without_screening} without screening"
                for d in changed
            )
            if changed
            else "no verdict changes when the screening is switched off."
        )
    )
    return items


def _table(rows: list[dict[str, Any]], columns: list[str], headers: list[str] | None = None) -> Block:
    return Block("table", header=headers or columns, rows=[[r[c] for c in columns] for r in rows])


def build_blocks(a: CampaignAnalysis, plots: dict[str, bytes]) -> list[Block]:
    r = a.rule
    blocks = [
        Block("h1", f"Campaign report: {a.campaign}"),
        Block(
            "p",
            f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. {a.votes_total} votes read "
            f"({a.gold_total} gold trials, {a.repeats_total} swapped repeats); {a.votes_used} preference votes from "
            f"{len(a.quality) - len(a.excluded_raters)} of {len(a.quality)} raters used. Systems: {', '.join(a.systems)}.",
        ),
    ]
    if a.notes:
        blocks.append(Block("list", items=a.notes))
    blocks.append(Block("h2", "Decisions"))
    if r.min_delivery_pass_rate is None:
        delivery, fail_delivery = " (delivery is not part of this rule)", ""
    else:
        delivery = f" and its delivery pass rate is >= {r.min_delivery_pass_rate:.0%}"
        fail_delivery = " or delivery falls short"
    blocks.append(
        Block(
            "p",
            f"Rule: PASS when the lower end of the candidate's win rate against {a.baseline or '(no baseline)'} "
            f"(ties half, both-bad {'excluded' if r.both_bad == 'exclude' else 'as ties'}) is >= {r.min_win_rate:.0%}"
            f"{delivery}; FAIL when the upper end is below {r.min_win_rate:.0%}{fail_delivery}; otherwise NEED MORE "
            f"VOTES. Interval: {r.interval} at {r.confidence:.0%}; at least {r.min_votes} head-to-head votes from "
            f"{r.min_raters} raters and {r.min_prompts} prompts. See docs/metrics.md, 'How a decision is reached'.",
        )
    )
    if a.decisions:
        rows = decision_rows(a)
        for row in rows:
            row["win rate [interval]"] = (
                f"{_pct(row['win_rate'])} [{_pct(row['ci_low'])}, {_pct(row['ci_high'])}]"
            )
            row["decisive / ties"] = f"{_pct(row['decisive_share'])} / {_pct(row['tie_rate'])}"
            row["votes / raters / prompts"] = f"{row['votes']} / {row['raters']} / {row['prompts']}"
            row["without screening"] = row["verdict_without_screening"] or "–"
            row["delivery"] = (
                f"{_pct(row['delivery_pass_rate'])} of {row['delivery_tracks']}"
                if row["delivery_tracks"]
                else "–"
            )
        blocks.append(
            _table(rows, list(DECISION_COLUMNS), [DECISION_HEADERS.get(c, c) for c in DECISION_COLUMNS])
        )
    blocks += [Block("h3", "Assumptions and caveats"), Block("list", items=assumptions(a))]
    blocks += [
        Block("h2", "Standings"),
        Block("image", "Ratings with 95 % intervals", image=plots["standings"], name="standings.png"),
    ]
    for scope, st in _scopes(a, a.overall, a.by_genre).items():
        blocks.append(Block("h3", f"{scope}: {st.n_votes} votes, {st.n_raters} raters"))
        blocks.append(
            Block(
                "table",
                header=["rank", "system", "rating", "95 % interval", "votes", "win rate", "both bad"],
                rows=[
                    [
                        s.rank,
                        s.system,
                        round(s.rating, 1),
                        f"{s.ci_low:.0f} – {s.ci_high:.0f}" if math.isfinite(s.ci_low) else "–",
                        s.votes,
                        _pct(s.win_rate),
                        _pct(s.both_bad_rate),
                    ]
                    for s in st.standings
                ],
            )
        )
        if st.notes:
            blocks.append(Block("list", items=st.notes))
    bad = ", ".join(f"{g} {_pct(x)}" for g, x in a.both_bad_by_genre.items())
    blocks.append(Block("p", f"Share of preference votes answered 'both bad', per genre: {bad}."))
    if a.fit:
        blocks.append(Block("h3", "Fit for the venue (optional 1-5 ratings per clip)"))
        blocks.append(
            Block(
                "table",
                header=["genre", "system", "mean fit", "ratings"],
                rows=[[f.genre, f.system, round(f.mean, 2), f.n] for f in a.fit],
            )
        )
    if a.by_rater:
        blocks.append(
            Block("h3", "Per rater (one fit each, no intervals): whose taste departs from the rest")
        )
        blocks.append(
            Block(
                "table",
                header=["rater", "votes", *a.systems],
                rows=[
                    [
                        r,
                        st.n_votes,
                        *[round(st.by_system()[s].rating) if s in st.by_system() else "–" for s in a.systems],
                    ]
                    for r, st in a.by_rater.items()
                ],
            )
        )
    blocks.append(Block("h2", "Win-rate matrix"))
    blocks.append(
        Block("image", "Win-rate matrix, all genres", image=plots["win_matrix"], name="win_matrix.png")
    )
    for g in a.genres:
        if f"win_matrix_{g}" in plots:
            blocks.append(
                Block(
                    "image",
                    f"Win-rate matrix, {g}",
                    image=plots[f"win_matrix_{g}"],
                    name=f"win_matrix_{g}.png",
                )
            )
    blocks.append(Block("h2", "Rater agreement"))
    blocks.append(
        Block(
            "p",
            "Votes recoded by system, not screen side; each rater's first answer per (genre, prompt, pair). "
            "Krippendorff's alpha (nominal) over items with >= 2 raters; Fleiss' kappa over the items sharing the most "
            "common number of raters. Near 0 means raters agree no more than chance (typical when systems are close).",
        )
    )
    blocks.append(
        Block(
            "table",
            header=["scope", "alpha", "items", "Fleiss kappa", "items", "raters/item"],
            rows=[
                [s, ag.alpha, ag.alpha_items, ag.kappa, ag.kappa_items, ag.kappa_raters_per_item]
                for s, ag in _scopes(a, a.agreement_overall, a.agreement_by_genre).items()
            ],
        )
    )
    p = a.position
    blocks += [
        Block("h2", "Position bias"),
        Block(
            "p",
            f"Left clip chosen in {p.left} of {p.decisive} decisive votes ({_pct(p.left_rate)}, Wilson 95 % "
            f"[{_pct(p.ci_low)}, {_pct(p.ci_high)}]); exact binomial test against 50 %: p = {p.p_value:.3g}"
            + (
                " - biased; sides are randomised so scores stay fair, but check the rater UI."
                if p.biased()
                else "."
            ),
        ),
        Block("h2", "Raters"),
        _table(
            rater_rows(a),
            [
                "rater",
                "votes",
                "gold_trials",
                "gold_pass_rate",
                "repeats",
                "repeat_consistency",
                "left_rate",
                "tie_rate",
                "excluded",
                "reasons",
            ],
        ),
        Block("h2", "Votes needed"),
        Block("p", _plan_text(a)),
    ]
    if a.power:
        blocks.append(
            Block(
                "table",
                header=[
                    "true win rate",
                    "head-to-head votes needed",
                    "design effect there",
                    "power at this n",
                ],
                rows=[
                    [
                        f"{row.win_rate:.0%}",
                        row.votes if row.votes is not None else "not reachable with these raters and prompts",
                        _num(row.design_effect),
                        _pct(row.power_at_target),
                    ]
                    for row in a.power
                ],
            )
        )
    if a.tracks:
        blocks.append(Block("h2", "Delivery and signal distributions"))
        for key, text in (
            ("loudness", "Integrated loudness (LUFS)"),
            ("tempo", "Tempo (BPM)"),
            ("true_peak", "True peak (dBTP)"),
        ):
            if key in plots:
                blocks.append(Block("image", text, image=plots[key], name=f"{key}.png"))
    return blocks


def _plan_text(a: CampaignAnalysis) -> str:
    if a.plan_inputs is None:
        return "No head-to-head votes yet, so no votes-needed table."
    p = a.plan_inputs
    return (
        f"Head-to-head votes for the rule to PASS with {p.power:.0%} power (one-sided {(1 - p.confidence) / 2:.1%} "
        f"test of the {p.margin:.0%} margin, {'group-sequential with ' + str(p.looks) + ' looks' if p.looks > 1 else 'one analysis'}), "
        f"with this campaign's tie rate {p.tie_rate:.0%}, rater ICC {p.rater_icc:.3f}, prompt ICC {p.prompt_icc:.3f}, "
        f"{p.raters} raters and {p.prompts} prompts. Rater and prompt variance shrink only with more raters and "
        "prompts, so past some point more votes cannot help."
    )


def make_plots(a: CampaignAnalysis) -> dict[str, bytes]:
    plots = {
        "standings": standings_plot(_scopes(a, a.overall, a.by_genre)),
        "win_matrix": win_matrix_plot(a.win_overall, "All genres"),
    }
    if len(a.genres) > 1:
        for g, wm in a.win_by_genre.items():
            plots[f"win_matrix_{g}"] = win_matrix_plot(wm, g)
    for key, attribute, label in (
        ("loudness", "loudness_lufs", "LUFS"),
        ("tempo", "tempo_bpm", "BPM"),
        ("true_peak", "true_peak_dbtp", "dBTP"),
    ):
        png = distribution_plot(a.tracks, attribute, label)
        if png is not None:
            plots[key] = png
    return plots


def write_report(
    a: CampaignAnalysis, out_dir: str | Path, *, votes: list[Vote] | None = None, tracker: Any = None
) -> ReportFiles:
    """Write every file of the report; log tables, figures and the HTML report to ``tracker`` if one is given."""
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    plots = make_plots(a)
    plot_paths = {}
    for key, png in plots.items():
        plot_paths[key] = out / "plots" / f"{key}.png"
        plot_paths[key].write_bytes(png)
    blocks = build_blocks(a, plots)
    md = out / "report.md"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page = out / "report.html"
    page.write_text(to_html(blocks, f"Campaign report: {a.campaign}"), encoding="utf-8")
    tables = {
        "decisions": decision_rows(a),
        "standings": standings_rows(a),
        "win_matrix": win_rows(a),
        "raters": rater_rows(a),
    }
    csvs = {name: write_csv(out / f"{name}.csv", rows) for name, rows in tables.items()}
    if votes is not None:
        csvs["votes"] = write_votes_file(votes, out / "votes.csv")
    doc = {
        "campaign": a.campaign,
        "baseline": a.baseline,
        "candidates": a.candidates,
        "rule": asdict(a.rule),
        "votes_total": a.votes_total,
        "votes_used": a.votes_used,
        "excluded_raters": a.excluded_raters,
        "agreement": {
            "overall": asdict(a.agreement_overall),
            **{g: asdict(x) for g, x in a.agreement_by_genre.items()},
        },
        "position_bias": asdict(a.position),
        "power": [asdict(row) for row in a.power],
        "both_bad_by_genre": a.both_bad_by_genre,
        "fit_ratings": [asdict(f) for f in a.fit],
        "per_rater": {r: {s.system: s.rating for s in st.standings} for r, st in a.by_rater.items()},
        "notes": a.notes,
        **tables,
    }
    js = out / "report.json"
    js.write_text(json.dumps(json_clean(doc), indent=1), encoding="utf-8")
    if tracker is not None:
        log_to_tracker(a, tracker, tables, plot_paths, page)
    return ReportFiles(out, md, page, js, csvs, plot_paths)


def log_to_tracker(
    a: CampaignAnalysis,
    tracker: Any,
    tables: dict[str, list[dict[str, Any]]],
    plots: dict[str, Path],
    page: Path,
) -> None:
    for name, rows in tables.items():
        if rows:
            columns = list(rows[0])
            tracker.log_table(f"report/{name}", columns, [[json_clean(r[c]) for c in columns] for r in rows])
    for key, path in plots.items():
        tracker.log_image(f"report/{key}", path)
    summary: dict[str, Any] = {
        "report/votes_used": a.votes_used,
        "report/raters_excluded": len(a.excluded_raters),
    }
    for d in a.decisions:
        summary[f"decision/{d.genre}/{d.candidate}"] = d.verdict
    tracker.summary(summary)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in a.campaign)
    tracker.log_artifact(f"report-{safe}", "report", page)
