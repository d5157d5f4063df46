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
    "votes",
    "delivery",
    "sprt",
    "reasons",
)
DECISION_HEADERS = {"sprt": "SPRT"}


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
            f"VOTES. Interval: {r.interval} at {r.confidence:.0%}; at least {r.min_votes} head-to-head votes. "
            "See docs/metrics.md, 'How a decision is reached'.",
        )
    )
    if a.decisions:
        rows = decision_rows(a)
        for row in rows:
            row["win rate [interval]"] = (
                f"{_pct(row['win_rate'])} [{_pct(row['ci_low'])}, {_pct(row['ci_high'])}]"
            )
            row["delivery"] = (
                f"{_pct(row['delivery_pass_rate'])} of {row['delivery_tracks']}"
                if row["delivery_tracks"]
                else "–"
            )
        blocks.append(
            _table(rows, list(DECISION_COLUMNS), [DECISION_HEADERS.get(c, c) for c in DECISION_COLUMNS])
        )
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
        Block(
            "p",
            "Votes to detect a true win rate against 50 % (two-sided alpha 0.05, 80 % power, normal approximation), "
            "and the same scaled by this campaign's tie / both-bad share and the largest rater design effect seen.",
        ),
        Block(
            "table",
            header=["true win rate", "decisive votes", "votes here"],
            rows=[[f"{row.win_rate:.0%}", row.votes, row.votes_with_ties_and_clustering] for row in a.power],
        ),
    ]
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
