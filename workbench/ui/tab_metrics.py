"""Metrics & reports tab: analyse uploads or recorded runs (per-track metrics, delivery verdicts per genre,
loudness and tempo distributions), compare two sets by Fréchet distance, and rank a campaign's systems with its
decision report to download.

A thin face on ``evals`` through ``workbench.ui.metrics_views`` (the CLI ``workbench eval`` runs the same code).
"""

from __future__ import annotations

from typing import Any

# Module level (not inside build) so Gradio can resolve gr.Progress annotations through the module globals.
import gradio as gr

from workbench.core import paths
from workbench.ui import metrics_views as mv
from workbench.ui.context import TabContext, ui_errors

TAB_ID = "metrics"
LABEL = "Metrics & reports"
NEEDS_MODEL = False
MODES = ("full",)


def build(ctx: TabContext) -> None:
    genres = mv.genre_choices()
    gr.Markdown(
        "Objective numbers behind the per-genre decision: what each one means and its limits are in "
        "docs/metrics.md. Delivery verdicts use the genre specs in configs/genres.yaml."
    )
    with gr.Tabs():
        with gr.Tab("Tracks", id="metrics-tracks"):
            with gr.Row():
                uploads = gr.File(
                    label="Upload audio", file_count="multiple", type="filepath", elem_id="metrics-uploads"
                )
                with gr.Column():
                    with gr.Row():
                        runs = gr.Dropdown(
                            mv.run_choices(ctx.store),
                            multiselect=True,
                            label="…and/or recorded runs (newest first)",
                            elem_id="metrics-runs",
                            scale=4,
                        )
                        runs_refresh = gr.Button("↻", scale=0, min_width=40)
                    chosen = gr.CheckboxGroup(
                        genres, value=genres, label="Check delivery for", elem_id="metrics-genres"
                    )
            analyse_btn = gr.Button("Analyse", variant="primary", elem_id="metrics-analyse")
            summary = gr.Markdown(elem_id="metrics-summary")
            table = gr.Dataframe(
                label="Per-track metrics (click a column header to sort)",
                interactive=False,
                wrap=False,
                pinned_columns=1,
                elem_id="metrics-table",
            )
            with gr.Row():
                loudness_plot = gr.Image(label="Loudness", type="filepath", interactive=False, buttons=[])
                tempo_plot = gr.Image(label="Tempo", type="filepath", interactive=False, buttons=[])
            table_csv = gr.File(label="Table as CSV", interactive=False)
        with gr.Tab("Sets (FAD)", id="metrics-sets"):
            gr.Markdown(
                f"Two folders of audio under WORKBENCH_HOME (`{paths.home()}`; link a catalogue folder there). "
                "B is the reference: its split-half noise floor tells what distance sampling alone produces."
            )
            with gr.Row():
                set_a = gr.Textbox(
                    label="Set A (candidate)", placeholder="batches/spa-1", elem_id="metrics-set-a"
                )
                set_b = gr.Textbox(
                    label="Set B (reference)", placeholder="catalogue/spa", elem_id="metrics-set-b"
                )
                equal_n = gr.Radio(
                    ["subsample", "refuse"],
                    value="subsample",
                    label="Unequal sizes",
                    info="FAD is biased by n: subsample the larger set, or refuse",
                )
            compare_btn = gr.Button("Compare", variant="primary", elem_id="metrics-compare")
            set_result = gr.Markdown(elem_id="metrics-set-result")
        with gr.Tab("Campaign leaderboard", id="metrics-campaigns"):
            with gr.Row():
                campaign = gr.Dropdown(
                    mv.campaign_names(ctx.store), label="Campaign", elem_id="metrics-campaign", scale=3
                )
                baseline = gr.Dropdown(
                    [], label="Baseline (the system to replace)", elem_id="metrics-baseline", scale=3
                )
                campaigns_refresh = gr.Button("↻", scale=0, min_width=40, elem_id="metrics-campaigns-refresh")
            with gr.Row():
                rounds = gr.Number(1000, label="Bootstrap rounds", precision=0, minimum=100, maximum=10000)
                check = gr.Checkbox(False, label="Delivery-check the campaign's clips (slower)")
            board_btn = gr.Button("Build leaderboard and report", variant="primary", elem_id="metrics-board")
            board_summary = gr.Markdown(elem_id="metrics-board-summary")
            decisions = gr.Dataframe(
                label="Decisions per genre", interactive=False, wrap=True, elem_id="metrics-decisions"
            )
            standings = gr.Dataframe(label="Standings", interactive=False, elem_id="metrics-standings")
            standings_plot = gr.Image(label="Ratings with intervals", type="filepath", interactive=False)
            report_files = gr.File(
                label="Report (HTML, and a zip with Markdown, plots, CSV, JSON)",
                file_count="multiple",
                interactive=False,
                elem_id="metrics-report",
            )

    # --- tracks --------------------------------------------------------------------------------------------
    @ui_errors
    def on_analyse(
        files: list[str] | None,
        run_ids: list[str] | None,
        picked: list[str] | None,
        progress: gr.Progress = gr.Progress(),
    ) -> list[Any]:
        items = mv.upload_inputs(files) + mv.run_inputs(ctx.store, run_ids)

        def tick(done: int, total: int, name: str) -> None:
            progress((done, total), desc=f"analysing {name}", unit="tracks")

        tracks = mv.analyse(items, picked or [], tick)
        frame = mv.track_table(tracks, picked or [])
        folder = ctx.new_temp_dir("metrics")
        pngs = mv.distribution_pngs(tracks)
        csv_path = folder / "tracks.csv"
        frame.to_csv(csv_path, index=False)
        return [
            mv.delivery_summary(tracks, picked or []),
            frame,
            mv.write_png(pngs["loudness"], folder, "loudness.png"),
            mv.write_png(pngs["tempo"], folder, "tempo.png"),
            str(csv_path),
        ]

    analyse_btn.click(
        on_analyse,
        [uploads, runs, chosen],
        [summary, table, loudness_plot, tempo_plot, table_csv],
        api_visibility="private",
    )
    runs_refresh.click(
        lambda: gr.Dropdown(choices=mv.run_choices(ctx.store)),
        None,
        runs,
        queue=False,
        api_visibility="private",
    )
    # New runs appear whenever the page is (re)loaded.
    ctx.on_page_load([runs], lambda: gr.Dropdown(choices=mv.run_choices(ctx.store)))

    # --- sets ----------------------------------------------------------------------------------------------
    @ui_errors
    def on_compare(a: str, b: str, mode: str, progress: gr.Progress = gr.Progress()) -> str:
        progress(0.1, desc="embedding both sets (cached per file)")
        home = paths.home()
        text, _result = mv.compare_sets_text(
            mv.set_folder(a, "set A", home), mv.set_folder(b, "set B", home), mode
        )
        return text

    compare_btn.click(on_compare, [set_a, set_b, equal_n], set_result, api_visibility="private")

    # --- campaigns ----------------------------------------------------------------------------------------
    @ui_errors
    def on_campaign(name: str | None) -> Any:
        if not name:
            return gr.Dropdown(choices=[], value=None)
        return gr.Dropdown(choices=[("— no baseline —", ""), *mv.campaign_systems(ctx.store, name)], value="")

    campaign.input(on_campaign, campaign, baseline, api_visibility="private")
    campaigns_refresh.click(
        lambda: gr.Dropdown(choices=mv.campaign_names(ctx.store)),
        None,
        campaign,
        queue=False,
        api_visibility="private",
    )

    @ui_errors
    def on_board(
        name: str | None,
        base: str | None,
        n_rounds: float,
        with_delivery: bool,
        progress: gr.Progress = gr.Progress(),
    ) -> list[Any]:
        def tick(done: int, total: int) -> None:
            progress((done, total), desc="delivery-checking clips", unit="clips")

        board = mv.leaderboard(
            ctx.store,
            name,
            base or None,
            delivery_check=bool(with_delivery),
            bootstrap_rounds=int(n_rounds or 1000),
            progress=tick,
        )
        progress(0.9, desc="writing the report")
        folder = ctx.new_temp_dir("report")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in str(name))
        files = mv.write_report_files(board, folder / safe)
        return [
            board.summary(),
            board.decisions(),
            board.standings(),
            mv.write_png(board.standings_png(), folder, "standings.png"),
            files,
        ]

    board_btn.click(
        on_board,
        [campaign, baseline, rounds, check],
        [board_summary, decisions, standings, standings_plot, report_files],
        api_visibility="private",
    )
