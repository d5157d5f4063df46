"""Metrics & reports tab: analyze uploads or recorded runs (per-track metrics, delivery verdicts per genre,
loudness and tempo distributions), compare two sets by Fréchet distance, and rank campaigns' systems with their
decision report to download (``workbench.ui.metrics_leaderboard``).

The numbers come from ``evals.api``, the calls ``workbench eval`` makes too; this module picks inputs, lays out
the tab and shapes tables.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Module level (not inside build) so Gradio can resolve gr.Progress annotations through the module globals.
import gradio as gr

from evals import api
from workbench.core import paths
from workbench.core.errors import InputError
from workbench.core.genres import load_genres
from workbench.core.store import Store
from workbench.ui import metrics_leaderboard
from workbench.ui.context import TabContext, ui_errors

if TYPE_CHECKING:
    import pandas as pd

    from evals.audio.result import DeliveryResult
    from evals.sets.fad import FadResult

TAB_ID = "metrics"
LABEL = "Metrics & reports"
NEEDS_MODEL = False
MODES = ("full",)

# Per-track table columns (units in the names) and the TrackAnalysis field behind each.
METRIC_COLUMNS: dict[str, str] = {
    "duration_s": "duration_s",
    "loudness_lufs": "integrated_loudness_lufs",
    "true_peak_dbtp": "true_peak_dbtp",
    "lra_lu": "loudness_range_lu",
    "max_short_term_lufs": "max_short_term_lufs",
    "crest_db": "crest_factor_db",
    "tempo_bpm": "tempo_bpm",
    "beat_regularity": "beat_regularity",
    "key": "keyscale",
    "key_confidence": "key_confidence",
    "silence_ratio": "silence_ratio",
    "longest_silence_s": "longest_silence_s",
    "clipped_samples": "clipped_samples",
    "dropouts": "dropouts",
    "stereo_width": "stereo_width",
    "mono_drop_lu": "mono_loudness_drop_lu",
    "centroid_hz": "spectral_centroid_hz",
    "harshness": "harshness_ratio",
    "onsets_per_s": "onset_density_per_s",
}
ID_COLUMNS = ["track", "source", "group", "genre"]
RUN_CHOICES_LIMIT = 200


# --- inputs --------------------------------------------------------------------------------------------------
def upload_inputs(files: Sequence[str] | None) -> list[api.TrackInput]:
    return [api.TrackInput(str(f), Path(f).name, "upload", "upload") for f in files or []]


def run_choices(store: Store, limit: int = RUN_CHOICES_LIMIT) -> list[tuple[str, str]]:
    """(label, run id) of recorded runs, newest first, for a multi-select."""
    out = []
    for row in store.list_runs(limit=limit):
        prompt = (row.prompt or "").strip().replace("\n", " ")
        label = f"{row.created_at[:16]} · {row.genre or '–'} · {prompt[:40] or row.task} · {row.id}"
        out.append((label, row.id))
    return out


def run_inputs(store: Store, run_ids: Sequence[str] | None) -> list[api.TrackInput]:
    out = []
    for run_id in run_ids or []:
        row = store.get_run(run_id)
        if row is None:
            raise InputError("run", run_id, "no such run; refresh the list")
        if not Path(row.audio_path).is_file():
            raise InputError("run", run_id, f"its audio file is gone ({row.audio_path})")
        group = row.model + (f" + {Path(row.lora).name}" if row.lora else "")
        out.append(
            api.TrackInput(row.audio_path, Path(row.audio_path).name, f"run {row.id}", group, row.genre)
        )
    return out


def set_folder(text: str | None, field: str, home: Path) -> Path:
    """A set folder typed by the user (see ``paths.folder_inside`` for the rules)."""
    return paths.folder_inside(text, field, home, empty_fix="give a folder of audio files")


# --- formatting ----------------------------------------------------------------------------------------------
def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else None
    return value


def verdict_text(result: DeliveryResult) -> str:
    if result.passed:
        return "PASS"
    more = f" (+{len(result.reasons) - 1})" if len(result.reasons) > 1 else ""
    return f"FAIL: {result.reasons[0]}{more}" if result.reasons else "FAIL"


def track_table(tracks: Sequence[api.AnalyzedTrack], genres: Sequence[str]) -> pd.DataFrame:
    """One row per track: identity, one delivery column per genre, then the metrics."""
    import pandas as pd

    rows = []
    for t in tracks:
        row: dict[str, Any] = {
            "track": t.item.name,
            "source": t.item.source,
            "group": t.item.group,
            "genre": t.item.genre or "",
        }
        for g in genres:
            row[f"delivery {g}"] = verdict_text(t.delivery[g])
        for column, attribute in METRIC_COLUMNS.items():
            row[column] = rounded(getattr(t.analysis, attribute))
        rows.append(row)
    columns = ID_COLUMNS + [f"delivery {g}" for g in genres] + list(METRIC_COLUMNS)
    return pd.DataFrame(rows, columns=columns)


def write_tracks_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The table's CSV download; track names are upload file names, which may read as spreadsheet formulas."""
    from workbench.core.cells import safe_frame

    safe_frame(frame).to_csv(path, index=False)
    return path


def delivery_summary(tracks: Sequence[api.AnalyzedTrack], genres: Sequence[str]) -> str:
    """Markdown: per genre, how many tracks pass and the most common failed check."""
    if not genres:
        return f"Analyzed {len(tracks)} track(s). Pick genres to see delivery verdicts."
    lines = [f"Analyzed {len(tracks)} track(s). Delivery per genre (configs/genres.yaml):"]
    for g in genres:
        results = [t.delivery[g] for t in tracks]
        passed = sum(r.passed for r in results)
        failed_checks: dict[str, int] = {}
        for r in results:
            for check in r.checks:
                if not check.passed and not check.skipped:
                    failed_checks[check.name] = failed_checks.get(check.name, 0) + 1
        common = max(failed_checks.items(), key=lambda kv: kv[1], default=None)
        tail = f"; most often failed: {common[0]} ({common[1]}×)" if common else ""
        lines.append(f"- **{g}**: {passed}/{len(results)} pass{tail}")
    return "\n".join(lines)


def distribution_pngs(tracks: Sequence[api.AnalyzedTrack]) -> dict[str, bytes | None]:
    """Loudness and tempo distributions per group (the report's box plots, one panel per genre)."""
    from evals.preference.track_results import from_analysis
    from evals.report.plots import distribution_plot

    results = [from_analysis(t.analysis, t.item.group, t.item.genre or "no genre") for t in tracks]
    return {
        "loudness": distribution_plot(results, "loudness_lufs", "integrated loudness (LUFS)"),
        "tempo": distribution_plot(results, "tempo_bpm", "tempo (BPM)"),
    }


def write_png(data: bytes | None, folder: Path, name: str) -> str | None:
    if data is None:
        return None
    path = folder / name
    path.write_bytes(data)
    return str(path)


def fad_text(result: FadResult) -> str:
    """Markdown for a ``logmel`` comparison: the distance at its n, the noise floor and what they say."""
    sampled = ""
    if result.subsampled_from:
        sampled = f" (subsampled at random from {result.subsampled_from[0]} and {result.subsampled_from[1]})"
    floor = "– (needs 4 clips)" if result.noise_floor is None else f"{result.noise_floor:.4f}"
    from evals.sets.fad import fad_verdict

    verdict = f" {fad_verdict(result)}" if result.permutation_p is not None else ""
    return (
        f"**FAD ({result.backend}) = {result.fad:.4f}** at **n = {result.n_clips}** clips per set{sampled}.  \n"
        f"Reference noise floor (B split in half, mean of 5 splits): {floor}.{verdict}  \n"
        f"Diversity (mean pairwise distance): A {result.diversity_a:.4f}, B {result.diversity_b:.4f}.  \n"
        "`logmel` is the weight-free embedding (log-mel statistics): it detects a shift in spectral balance and "
        "dynamics, not musical quality, and its values are not comparable with published (VGGish/CLAP) FAD. "
        "Compare FAD only at equal n."
    )


# --- layout and wiring ---------------------------------------------------------------------------------------
def build(ctx: TabContext) -> None:
    gr.Markdown(
        "Objective numbers behind the per-genre decision: what each one means and its limits are in "
        "docs/metrics.md. Delivery verdicts use the genre specs in configs/genres.yaml."
    )
    with gr.Tabs():
        with gr.Tab("Tracks", id="metrics-tracks"):
            _tracks_tab(ctx)
        with gr.Tab("Sets (FAD)", id="metrics-sets"):
            _sets_tab()
        with gr.Tab("Campaign leaderboard", id="metrics-campaigns"):
            metrics_leaderboard.build(ctx)


def _tracks_layout(ctx: TabContext) -> TracksComponents:
    genres = api.genre_choices()
    with gr.Row():
        uploads = gr.File(
            label="Upload audio", file_count="multiple", type="filepath", elem_id="metrics-uploads"
        )
        with gr.Column():
            with gr.Row():
                runs = gr.Dropdown(
                    run_choices(ctx.store),
                    multiselect=True,
                    label="…and/or recorded runs (newest first)",
                    elem_id="metrics-runs",
                    scale=4,
                )
                runs_refresh = gr.Button("↻", scale=0, min_width=40)
            labels = load_genres()  # the names Generate and History show, not the configuration keys
            chosen = gr.CheckboxGroup(
                [(labels[g].label if g in labels else g, g) for g in genres],
                value=genres,
                label="Check delivery for",
                elem_id="metrics-genres",
            )
    analyze = gr.Button("Analyze", variant="primary", elem_id="metrics-analyze")
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
    outputs = [summary, table, loudness_plot, tempo_plot, table_csv]
    return TracksComponents(uploads, runs, runs_refresh, chosen, analyze, outputs)


@dataclass
class TracksComponents:
    uploads: Any
    runs: Any
    runs_refresh: Any
    genres: Any
    analyze: Any
    outputs: list[Any]  # summary, table, loudness plot, tempo plot, CSV file


def on_analyze(
    ctx: TabContext,
    files: list[str] | None,
    run_ids: list[str] | None,
    picked: list[str] | None,
    progress: gr.Progress = gr.Progress(),
) -> list[Any]:
    items = upload_inputs(files) + run_inputs(ctx.store, run_ids)

    def tick(done: int, total: int, name: str) -> None:
        progress((done, total), desc=f"analyzing {name}", unit="tracks")

    tracks = api.analyze_tracks(items, picked or [], progress=tick)
    frame = track_table(tracks, picked or [])
    folder = ctx.new_temp_dir("metrics")
    pngs = distribution_pngs(tracks)
    csv_path = write_tracks_csv(frame, folder / "tracks.csv")
    return [
        delivery_summary(tracks, picked or []),
        frame,
        write_png(pngs["loudness"], folder, "loudness.png"),
        write_png(pngs["tempo"], folder, "tempo.png"),
        str(csv_path),
    ]


def _tracks_tab(ctx: TabContext) -> None:
    c = _tracks_layout(ctx)
    analyze = ui_errors(functools.partial(on_analyze, ctx))
    c.analyze.click(analyze, [c.uploads, c.runs, c.genres], c.outputs, api_visibility="private")

    def choices() -> Any:
        return gr.Dropdown(choices=run_choices(ctx.store))

    c.runs_refresh.click(choices, None, c.runs, queue=False, api_visibility="private")
    ctx.on_page_load([c.runs], choices)  # new runs appear whenever the page is (re)loaded


def _sets_tab() -> None:
    gr.Markdown(
        f"Two folders of audio under WORKBENCH_HOME (`{paths.home()}`; link a catalogue folder there). "
        "B is the reference: its split-half noise floor tells what distance sampling alone produces."
    )
    with gr.Row():
        set_a = gr.Textbox(label="Set A (candidate)", placeholder="batches/spa-1", elem_id="metrics-set-a")
        set_b = gr.Textbox(label="Set B (reference)", placeholder="catalogue/spa", elem_id="metrics-set-b")
        equal_n = gr.Radio(
            ["subsample", "refuse"],
            value="subsample",
            label="Unequal sizes",
            info="FAD is biased by n: subsample the larger set, or refuse",
        )
    compare_btn = gr.Button("Compare", variant="primary", elem_id="metrics-compare")
    set_result = gr.Markdown(elem_id="metrics-set-result")

    @ui_errors
    def on_compare(a: str, b: str, mode: str, progress: gr.Progress = gr.Progress()) -> str:
        progress(0.1, desc="embedding both sets (cached per file)")
        home = paths.home()
        result = api.compare_sets(
            set_folder(a, "set A", home), set_folder(b, "set B", home), "logmel", equal_n=mode
        )
        return fad_text(result)

    compare_btn.click(on_compare, [set_a, set_b, equal_n], set_result, api_visibility="private")
