"""The calls the faces make: the Metrics tab and ``workbench eval`` run these, then only format what they return.

- ``analyze_tracks``: per-track analysis, each track checked against several genres' delivery specs at once;
- ``compare_sets``: Fréchet distance between two sets of audio with an embedding backend named by the user;
- ``campaign_report``: the decision report of one or more campaigns' votes, optionally delivery-checking clips;
  ``CampaignReport.write`` puts its files (Markdown, HTML, CSV, JSON, plots) into a folder.

The faces read votes and clips (``workbench.campaigns.db``, export files) and pass them in: nothing here sees
the store.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.config import read_yaml
from workbench.core.errors import InputError

if TYPE_CHECKING:
    from evals.audio.recipe import Recipe
    from evals.audio.result import DeliveryResult, TrackAnalysis
    from evals.preference.campaign_analysis import CampaignAnalysis
    from evals.preference.decision_rule import DecisionRule
    from evals.preference.preference import Vote
    from evals.preference.track_results import ClipSource, TrackResult
    from evals.report.report import ReportFiles
    from evals.sets.embeddings import EmbeddingBackend
    from evals.sets.fad import FadResult


# --- tracks --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackInput:
    """One track to analyze: where it is, how a table names it and which group/genre it belongs to."""

    path: str
    name: str
    source: str  # e.g. "upload", "run <id>", "file"
    group: str  # for distribution plots: "upload", or the run's model (+ LoRA)
    genre: str | None = None  # the genre it was generated for, if any


@dataclass(frozen=True)
class AnalyzedTrack:
    item: TrackInput
    analysis: TrackAnalysis
    delivery: dict[str, DeliveryResult] = field(default_factory=dict)  # genre -> verdict

    def for_genre(self, genre: str) -> TrackAnalysis:
        """The analysis with one genre's verdict attached, as ``analyze_file(path, genre=genre)`` returns it."""
        return dataclasses.replace(self.analysis, genre=genre, delivery=self.delivery[genre])


def genre_choices() -> list[str]:
    from evals.audio.delivery import load_delivery_specs

    return sorted(load_delivery_specs())


def file_inputs(paths: Sequence[str | os.PathLike[str]], source: str = "file") -> list[TrackInput]:
    """Files or folders of audio (searched recursively) as track inputs named by their file names."""
    from evals.sets.files import list_audio

    files = [f for p in paths for f in list_audio(p)]
    return [TrackInput(str(f), f.name, source, source) for f in files]


def analyze_tracks(
    items: Sequence[TrackInput],
    genres: Sequence[str] = (),
    *,
    recipe: Recipe | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[AnalyzedTrack]:
    """Analyze each track once, then check it against every genre given (a check is cheap; analysis is not)."""
    from evals.audio.analysis import analyze_file
    from evals.audio.delivery import check_delivery, delivery_spec

    if not items:
        raise InputError("tracks", 0, "upload audio files or pick recorded runs to analyze")
    for g in genres:
        delivery_spec(g)  # an unknown genre fails before the work, not after it
    out = []
    for i, item in enumerate(items):
        if progress is not None:
            progress(i, len(items), item.name)
        analysis = analyze_file(item.path, recipe=recipe)
        out.append(AnalyzedTrack(item, analysis, {g: check_delivery(analysis, g) for g in genres}))
    if progress is not None:
        progress(len(items), len(items), "done")
    return out


# --- sets ----------------------------------------------------------------------------------------------------
def compare_sets(
    set_a: str | os.PathLike[str],
    set_b: str | os.PathLike[str],
    backend: str | EmbeddingBackend = "logmel",
    *,
    equal_n: str = "subsample",
    seed: int = 0,
    **options: object,
) -> FadResult:
    """FAD of set A against the reference set B; ``backend`` is a name from ``evals.sets.backends.BACKENDS``
    (built with ``options``, e.g. ``model=`` for clap) or a backend object."""
    from evals.sets import fad
    from evals.sets.backends import get_backend

    chosen = get_backend(backend, **options) if isinstance(backend, str) else backend
    return fad.compare_sets(set_a, set_b, chosen, equal_n=equal_n, seed=seed)


# --- campaigns -----------------------------------------------------------------------------------------------
def load_rule(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None, field_name: str = "rule"
) -> DecisionRule:
    """A ``DecisionRule`` from a YAML file of its fields (or the defaults), with ``overrides`` on top."""
    from evals.preference.decision_rule import rule_from_dict

    data: Any = {}
    if path:
        file = Path(path)
        if not file.is_file():
            raise InputError(field_name, str(path), "file not found; give a YAML file of DecisionRule fields")
        data = read_yaml(file, field_name) or {}
    if overrides and isinstance(data, dict):  # anything else is rule_from_dict's error to report
        data = {**data, **overrides}
    return rule_from_dict(data)


@dataclass(frozen=True)
class CampaignReport:
    analysis: CampaignAnalysis
    votes: list[Vote]
    tracks: list[TrackResult]  # per-track results the delivery verdicts used (given and measured)

    def write(self, out_dir: str | os.PathLike[str], tracker: Any = None) -> ReportFiles:
        """Every file of the report into ``out_dir``; tables, figures and the HTML also to ``tracker`` if given."""
        from evals.report.report import write_report

        return write_report(self.analysis, Path(out_dir), votes=self.votes, tracker=tracker)


def campaign_report(
    votes: Sequence[Vote],
    *,
    title: str | None = None,
    baseline: str | None = None,
    candidates: Sequence[str] | None = None,
    rule: DecisionRule | None = None,
    tracks: Sequence[TrackResult] = (),
    clips: Sequence[ClipSource] = (),
    progress: Callable[[int, int], None] | None = None,
) -> CampaignReport:
    """Delivery-check ``clips`` (adding to ``tracks``), then screen raters, score and decide per genre."""
    from evals.preference.campaign_analysis import analyze_campaign
    from evals.preference.track_results import analyze_clips

    all_tracks = [*tracks, *(analyze_clips(clips, progress) if clips else [])]
    vote_list = list(votes)
    analysis = analyze_campaign(
        vote_list, campaign=title, baseline=baseline, candidates=candidates, rule=rule, tracks=all_tracks
    )
    return CampaignReport(analysis, vote_list, all_tracks)


def votes_of(votes: Sequence[Vote], campaigns: Sequence[str], source: str) -> list[Vote]:
    """The votes of the named campaigns from an export holding several; an error naming what it holds."""
    out: list[Vote] = []
    for name in campaigns:
        mine = [v for v in votes if v.campaign == name]
        if not mine:
            found = ", ".join(sorted({v.campaign for v in votes})[:10])
            raise InputError("campaign", name, f"no votes of this campaign in {source} (it holds: {found})")
        out += mine
    return out


def safe_name(names: Sequence[str]) -> str:
    """A folder name for a report of these campaigns."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in "+".join(names))
