"""The Metrics tab's work, without Gradio: analyse tracks (uploads or recorded runs) with delivery verdicts per
genre, compare two sets by Fréchet distance, and build a campaign leaderboard and its report. Every number comes
from ``evals``; this module only selects inputs and shapes tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import InputError

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


@dataclass(frozen=True)
class TrackInput:
    """One track to analyse: where it is, how the table names it and which group/genre it belongs to."""

    path: str
    name: str
    source: str  # "upload" or "run <id>"
    group: str  # for the distribution plots: "upload", or the run's model (+ LoRA)
    genre: str | None = None  # the run's genre, if it was generated with one


@dataclass
class AnalysedTrack:
    item: TrackInput
    analysis: Any  # evals.TrackAnalysis
    delivery: dict[str, Any] = field(default_factory=dict)  # genre -> evals.DeliveryResult


def genre_choices() -> list[str]:
    from evals.audio.delivery import load_delivery_specs

    return sorted(load_delivery_specs())


def upload_inputs(files: Sequence[str] | None) -> list[TrackInput]:
    return [TrackInput(str(f), Path(f).name, "upload", "upload") for f in files or []]


def run_choices(store: Any, limit: int = RUN_CHOICES_LIMIT) -> list[tuple[str, str]]:
    """(label, run id) of recorded runs, newest first, for a multi-select."""
    out = []
    for row in store.list_runs(limit=limit):
        prompt = (row.prompt or "").strip().replace("\n", " ")
        label = f"{row.created_at[:16]} · {row.genre or '–'} · {prompt[:40] or row.task} · {row.id}"
        out.append((label, row.id))
    return out


def run_inputs(store: Any, run_ids: Sequence[str] | None) -> list[TrackInput]:
    out = []
    for run_id in run_ids or []:
        row = store.get_run(run_id)
        if row is None:
            raise InputError("run", run_id, "no such run; refresh the list")
        if not Path(row.audio_path).is_file():
            raise InputError("run", run_id, f"its audio file is gone ({row.audio_path})")
        group = row.model + (f" + {Path(row.lora).name}" if row.lora else "")
        out.append(TrackInput(row.audio_path, Path(row.audio_path).name, f"run {row.id}", group, row.genre))
    return out


def analyse(
    items: Sequence[TrackInput],
    genres: Sequence[str],
    progress: Callable[[int, int, str], None] | None = None,
) -> list[AnalysedTrack]:
    """Analyse each track once, then check it against every chosen genre (a check is cheap; analysis is not)."""
    from evals import analyze_file, check_delivery

    if not items:
        raise InputError("tracks", 0, "upload audio files or pick recorded runs to analyse")
    known = genre_choices()
    for g in genres:
        if g not in known:
            raise InputError("genre", g, f"choose from {', '.join(known)}")
    out = []
    for i, item in enumerate(items):
        if progress is not None:
            progress(i, len(items), item.name)
        analysis = analyze_file(item.path)
        out.append(AnalysedTrack(item, analysis, {g: check_delivery(analysis, g) for g in genres}))
    if progress is not None:
        progress(len(items), len(items), "done")
    return out


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else None
    return value


def verdict_text(result: Any) -> str:
    if result.passed:
        return "PASS"
    more = f" (+{len(result.reasons) - 1})" if len(result.reasons) > 1 else ""
    return f"FAIL: {result.reasons[0]}{more}" if result.reasons else "FAIL"


def track_table(tracks: Sequence[AnalysedTrack], genres: Sequence[str]) -> Any:
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
            row[column] = _rounded(getattr(t.analysis, attribute))
        rows.append(row)
    columns = ID_COLUMNS + [f"delivery {g}" for g in genres] + list(METRIC_COLUMNS)
    return pd.DataFrame(rows, columns=columns)


def delivery_summary(tracks: Sequence[AnalysedTrack], genres: Sequence[str]) -> str:
    """Markdown: per genre, how many tracks pass and the most common failed check."""
    if not genres:
        return f"Analysed {len(tracks)} track(s). Pick genres to see delivery verdicts."
    lines = [f"Analysed {len(tracks)} track(s). Delivery per genre (configs/genres.yaml):"]
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


def distribution_pngs(tracks: Sequence[AnalysedTrack]) -> dict[str, bytes | None]:
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


# --- sets --------------------------------------------------------------------------------------------------
def set_folder(text: str | None, field: str, home: Path) -> Path:
    """A set folder typed by the user (see ``paths.folder_inside`` for the rules)."""
    return paths.folder_inside(text, field, home, empty_fix="give a folder of audio files")


def compare_sets_text(folder_a: Path, folder_b: Path, equal_n: str = "subsample") -> tuple[str, Any]:
    """FAD of set A against reference set B with the weight-free ``logmel`` backend; Markdown and the result."""
    from evals.sets.embeddings import LogMelBackend
    from evals.sets.fad import compare_sets

    result = compare_sets(folder_a, folder_b, LogMelBackend(), equal_n=equal_n)
    sampled = ""
    if result.subsampled_from:
        sampled = f" (subsampled at random from {result.subsampled_from[0]} and {result.subsampled_from[1]})"
    floor = "– (needs 4 clips)" if result.noise_floor is None else f"{result.noise_floor:.4f}"
    verdict = ""
    if result.noise_floor is not None:
        verdict = (
            " A is **not distinguishable** from B at this n."
            if result.fad <= result.noise_floor
            else " A sits **further from B** than B's own halves do."
        )
    text = (
        f"**FAD ({result.backend}) = {result.fad:.4f}** at **n = {result.n_clips}** clips per set{sampled}.  \n"
        f"Reference noise floor (B split in half, mean of 5 splits): {floor}.{verdict}  \n"
        f"Diversity (mean pairwise distance): A {result.diversity_a:.4f}, B {result.diversity_b:.4f}.  \n"
        "`logmel` is the weight-free embedding (log-mel statistics): it detects a shift in spectral balance and "
        "dynamics, not musical quality, and its values are not comparable with published (VGGish/CLAP) FAD. "
        "Compare FAD only at equal n."
    )
    return text, result


# --- campaigns -----------------------------------------------------------------------------------------------
def campaign_names(store: Any) -> list[str]:
    from workbench.campaigns import db

    return db.list_campaigns(store)


def campaign_systems(store: Any, campaign: str) -> list[str]:
    from evals.preference.preference import systems_of
    from workbench.campaigns import db

    return list(systems_of(db.load_votes(store, campaign)))


@dataclass
class Leaderboard:
    analysis: Any  # evals.preference.campaign_analysis.CampaignAnalysis
    votes: list[Any]

    def summary(self) -> str:
        a = self.analysis
        kept = len(a.quality) - len(a.excluded_raters)
        lines = [
            f"**{a.campaign}**: {a.votes_used} preference votes from {kept} of {len(a.quality)} raters "
            f"({a.votes_total} votes read). Ratings on the 400-point Bradley–Terry scale with 95 % rater-bootstrap "
            "intervals; rank 1 + the number of systems clearly above."
        ]
        lines += [f"- {note}" for note in a.notes]
        return "\n".join(lines)

    def standings(self) -> Any:
        import pandas as pd

        a = self.analysis
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

    def decisions(self) -> Any:
        import pandas as pd

        from evals.report.tables import decision_rows

        def pct(x: float) -> str:
            return "–" if x is None or not math.isfinite(x) else f"{x:.1%}"

        rows = [
            {
                "genre": r["genre"],
                "candidate": r["candidate"],
                "baseline": r["baseline"],
                "verdict": r["verdict"],
                "win rate [95% interval]": f"{pct(r['win_rate'])} [{pct(r['ci_low'])}, {pct(r['ci_high'])}]",
                "votes": r["votes"],
                "delivery": f"{pct(r['delivery_pass_rate'])} of {r['delivery_tracks']}"
                if r["delivery_tracks"]
                else "–",
                "reasons": r["reasons"],
            }
            for r in decision_rows(self.analysis)
        ]
        return pd.DataFrame(rows, columns=DECISION_COLUMNS)

    def standings_png(self) -> bytes:
        from evals.report.plots import standings_plot

        a = self.analysis
        return standings_plot(
            {"overall": a.overall, **a.by_genre} if len(a.by_genre) > 1 else dict(a.by_genre)
        )


def leaderboard(
    store: Any,
    campaign: str | None,
    baseline: str | None = None,
    *,
    delivery_check: bool = False,
    bootstrap_rounds: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Leaderboard:
    """Standings, win rates and (with a baseline) per-genre decisions of a campaign in the store."""
    from evals.preference.campaign_analysis import analyse_campaign
    from evals.preference.decision import DecisionRule
    from evals.preference.track_results import analyse_clips
    from workbench.campaigns.db import campaign_clips, load_votes

    if not campaign:
        raise InputError("campaign", campaign, "pick a campaign")
    votes = load_votes(store, campaign)
    tracks = analyse_clips(campaign_clips(store, campaign), progress) if delivery_check else []
    rule = DecisionRule(bootstrap_rounds=int(bootstrap_rounds))
    analysis = analyse_campaign(votes, campaign=campaign, baseline=baseline or None, rule=rule, tracks=tracks)
    return Leaderboard(analysis, votes)


def write_report_files(board: Leaderboard, out_dir: Path) -> list[str]:
    """evals' report into ``out_dir``; returns what a user downloads: the self-contained HTML, and a zip of the
    whole folder (Markdown with its plots, CSV and JSON exports, the votes read)."""
    import shutil

    from evals.report.report import write_report

    files = write_report(board.analysis, out_dir, votes=board.votes)
    archive = shutil.make_archive(str(out_dir.parent / f"{out_dir.name}-report"), "zip", root_dir=out_dir)
    return [str(files.html), archive]
