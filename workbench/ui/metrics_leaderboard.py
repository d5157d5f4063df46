"""The Metrics tab's "Campaign leaderboard": standings, win rates and per-genre decisions of one or more
campaigns in the store, with their decision report to download.

It offers what ``workbench eval report`` does where a form makes it cheap: several campaigns reported together,
chosen candidates, a rule file and a delivery check of the campaigns' own clips. The work is
``evals.api.campaign_report``; this module loads votes and clips from the store, lays out the sub-tab and shapes
tables.
"""

from __future__ import annotations

import functools
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from evals import api
from workbench.campaigns import db
from workbench.core.errors import InputError
from workbench.core.store import Store
from workbench.ui.context import TabContext, ui_errors

if TYPE_CHECKING:
    import pandas as pd

    from evals.preference.campaign_analysis import CampaignAnalysis

DEFAULT_ROUNDS = 1000
STANDINGS_COLUMNS = [
    "scope",
    "rank",
    "system",
    "rating",
    "ci_low",
    "ci_high",
    "votes",
    "win_rate",
    "both_bad_rate",
]
DECISION_COLUMNS = [
    "genre",
    "candidate",
    "baseline",
    "verdict",
    "win rate [95% interval]",
    "votes",
    "delivery",
    "reasons",
]


# --- from the store ------------------------------------------------------------------------------------------
def _names(campaigns: str | Sequence[str] | None) -> list[str]:
    names = [campaigns] if isinstance(campaigns, str) else list(campaigns or [])
    names = [n for n in names if n]
    if not names:
        raise InputError("campaign", campaigns, "pick a campaign")
    return names


def campaign_systems(store: Store, campaigns: str | Sequence[str] | None) -> list[str]:
    from evals.preference.preference import systems_of

    return list(systems_of(v for name in _names(campaigns) for v in db.load_votes(store, name)))


def leaderboard(
    store: Store,
    campaigns: str | Sequence[str] | None,
    baseline: str | None = None,
    *,
    candidates: Sequence[str] | None = None,
    rule_file: str | None = None,
    delivery_check: bool = False,
    bootstrap_rounds: int = DEFAULT_ROUNDS,
    progress: Callable[[int, int], None] | None = None,
) -> api.CampaignReport:
    """The decision report of the campaigns' votes in the store (``evals.api.campaign_report``)."""
    names = _names(campaigns)
    votes = [v for name in names for v in db.load_votes(store, name)]
    clips = [c for name in names for c in db.campaign_clips(store, name)] if delivery_check else []
    rule = api.load_rule(rule_file, {"bootstrap_rounds": int(bootstrap_rounds)})
    return api.campaign_report(
        votes,
        title=" + ".join(names),
        baseline=baseline or None,
        candidates=list(candidates) if candidates else None,
        rule=rule,
        clips=clips,
        progress=progress,
    )


# --- formatting ----------------------------------------------------------------------------------------------
def _rounded(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _pct(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.1%}"


def summary(a: CampaignAnalysis) -> str:
    kept = len(a.quality) - len(a.excluded_raters)
    lines = [
        f"**{a.campaign}**: {a.votes_used} preference votes from {kept} of {len(a.quality)} raters "
        f"({a.votes_total} votes read). Ratings on the 400-point Bradley–Terry scale with 95 % rater-bootstrap "
        "intervals; rank 1 + the number of systems clearly above."
    ]
    lines += [f"- {note}" for note in a.notes]
    return "\n".join(lines)


def standings_table(a: CampaignAnalysis) -> pd.DataFrame:
    import pandas as pd

    scopes = {"overall": a.overall, **a.by_genre}
    rows = [
        {
            "scope": scope,
            "rank": s.rank,
            "system": s.system,
            "rating": _rounded(s.rating),
            "ci_low": _rounded(s.ci_low),
            "ci_high": _rounded(s.ci_high),
            "votes": s.votes,
            "win_rate": _rounded(s.win_rate),
            "both_bad_rate": _rounded(s.both_bad_rate),
        }
        for scope, st in scopes.items()
        for s in st.standings
    ]
    return pd.DataFrame(rows, columns=STANDINGS_COLUMNS)


def decisions_table(a: CampaignAnalysis) -> pd.DataFrame:
    import pandas as pd

    from evals.report.tables import decision_rows

    rows = [
        {
            "genre": r["genre"],
            "candidate": r["candidate"],
            "baseline": r["baseline"],
            "verdict": r["verdict"],
            "win rate [95% interval]": f"{_pct(r['win_rate'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]",
            "votes": r["votes"],
            "delivery": f"{_pct(r['delivery_pass_rate'])} of {r['delivery_tracks']}"
            if r["delivery_tracks"]
            else "–",
            "reasons": r["reasons"],
        }
        for r in decision_rows(a)
    ]
    return pd.DataFrame(rows, columns=DECISION_COLUMNS)


def standings_png(a: CampaignAnalysis) -> bytes:
    from evals.report.plots import standings_plot

    return standings_plot({"overall": a.overall, **a.by_genre} if len(a.by_genre) > 1 else dict(a.by_genre))


def write_report_files(report: api.CampaignReport, out_dir: Path) -> list[str]:
    """The report into ``out_dir``; returns what a user downloads: the self-contained HTML, and a zip of the
    whole folder (Markdown with its plots, CSV and JSON exports, the votes read)."""
    files = report.write(out_dir)
    archive = shutil.make_archive(str(out_dir.parent / f"{out_dir.name}-report"), "zip", root_dir=out_dir)
    return [str(files.html), archive]


# --- layout and wiring ---------------------------------------------------------------------------------------
@dataclass
class LeaderboardComponents:
    campaign: Any
    baseline: Any
    candidates: Any
    refresh: Any
    rounds: Any
    rule_file: Any
    check: Any
    board: Any
    summary: Any
    decisions: Any
    standings: Any
    plot: Any
    report_files: Any

    @property
    def board_inputs(self) -> list[Any]:
        """``on_board``'s arguments after the context, in order."""
        return [self.campaign, self.baseline, self.candidates, self.rounds, self.rule_file, self.check]

    @property
    def board_outputs(self) -> list[Any]:
        return [self.summary, self.decisions, self.standings, self.plot, self.report_files]


def _choosers(store: Store) -> tuple[Any, Any, Any, Any]:
    with gr.Row():
        campaign = gr.Dropdown(
            db.list_campaigns(store),
            multiselect=True,
            label="Campaign(s): several are reported together, decided per genre",
            elem_id="metrics-campaign",
            scale=3,
        )
        baseline = gr.Dropdown(
            [], label="Baseline (the system to replace)", elem_id="metrics-baseline", scale=3
        )
        candidates = gr.Dropdown(
            [],
            multiselect=True,
            label="Candidates (empty: all others)",
            elem_id="metrics-candidates",
            scale=3,
        )
        refresh = gr.Button("↻", scale=0, min_width=40, elem_id="metrics-campaigns-refresh")
    return campaign, baseline, candidates, refresh


def _options() -> tuple[Any, Any, Any]:
    with gr.Row():
        rounds = gr.Number(
            DEFAULT_ROUNDS,
            label="Bootstrap rounds (overrides the rule file)",
            precision=0,
            minimum=100,
            maximum=10000,
        )
        rule_file = gr.File(
            label="Decision rule (YAML of DecisionRule fields, optional)",
            file_types=[".yaml", ".yml"],
            type="filepath",
            elem_id="metrics-rule",
        )
        check = gr.Checkbox(False, label="Delivery-check the campaigns' clips (slower)")
    return rounds, rule_file, check


def _layout(store: Store) -> LeaderboardComponents:
    campaign, baseline, candidates, refresh = _choosers(store)
    rounds, rule_file, check = _options()
    board = gr.Button("Build leaderboard and report", variant="primary", elem_id="metrics-board")
    board_summary = gr.Markdown(elem_id="metrics-board-summary")
    decisions = gr.Dataframe(
        label="Decisions per genre", interactive=False, wrap=True, elem_id="metrics-decisions"
    )
    standings = gr.Dataframe(label="Standings", interactive=False, elem_id="metrics-standings")
    plot = gr.Image(label="Ratings with intervals", type="filepath", interactive=False)
    report_files = gr.File(
        label="Report (HTML, and a zip with Markdown, plots, CSV, JSON)",
        file_count="multiple",
        interactive=False,
        elem_id="metrics-report",
    )
    return LeaderboardComponents(
        campaign,
        baseline,
        candidates,
        refresh,
        rounds,
        rule_file,
        check,
        board,
        board_summary,
        decisions,
        standings,
        plot,
        report_files,
    )


def on_campaign(store: Store, names: list[str] | None) -> list[Any]:
    if not names:
        return [gr.Dropdown(choices=[], value=None), gr.Dropdown(choices=[], value=[])]
    systems = campaign_systems(store, names)
    return [
        gr.Dropdown(choices=[("— no baseline —", ""), *systems], value=""),
        gr.Dropdown(choices=systems, value=[]),
    ]


def on_board(
    ctx: TabContext,
    names: list[str] | None,
    base: str | None,
    chosen: list[str] | None,
    n_rounds: float,
    rule: str | None,
    with_delivery: bool,
    progress: gr.Progress = gr.Progress(),
) -> list[Any]:
    def tick(done: int, total: int) -> None:
        progress((done, total), desc="delivery-checking clips", unit="clips")

    report = leaderboard(
        ctx.store,
        names,
        base or None,
        candidates=chosen,
        rule_file=rule,
        delivery_check=bool(with_delivery),
        bootstrap_rounds=int(n_rounds or DEFAULT_ROUNDS),
        progress=tick,
    )
    progress(0.9, desc="writing the report")
    folder = ctx.new_temp_dir("report")
    files = write_report_files(report, folder / api.safe_name(_names(names)))
    png = folder / "standings.png"
    png.write_bytes(standings_png(report.analysis))
    return [
        summary(report.analysis),
        decisions_table(report.analysis),
        standings_table(report.analysis),
        str(png),
        files,
    ]


def _wire(ctx: TabContext, c: LeaderboardComponents) -> None:
    choose = ui_errors(functools.partial(on_campaign, ctx.store))
    c.campaign.input(choose, c.campaign, [c.baseline, c.candidates], api_visibility="private")
    c.refresh.click(
        lambda: gr.Dropdown(choices=db.list_campaigns(ctx.store)),
        None,
        c.campaign,
        queue=False,
        api_visibility="private",
    )
    board = ui_errors(functools.partial(on_board, ctx))
    c.board.click(board, c.board_inputs, c.board_outputs, api_visibility="private")


def build(ctx: TabContext) -> None:
    c = _layout(ctx.store)
    _wire(ctx, c)
    # campaigns created since the app was built (CLI, the Blind A/B tab) appear on every page load
    ctx.on_page_load([c.campaign], lambda: gr.update(choices=db.list_campaigns(ctx.store)))
