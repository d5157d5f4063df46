"""Evaluation library: per-track analysis, delivery checks, set metrics, preference statistics and reports.

Import-light on purpose: names are resolved on first use (PEP 562), so ``import evals`` (and the CLI's parser,
which attaches ``eval report`` from ``evals.cli_report``) pulls in neither torch nor scipy until needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "analyze_audio": "evals.analysis",  # per-track analysis
    "analyze_file": "evals.analysis",
    "analyse_campaign": "evals.campaign_analysis",  # campaign report: evals.report.write_report
    "DecisionRule": "evals.decision",  # preference statistics and decisions
    "decide": "evals.decision",
    "check_delivery": "evals.delivery",
    "Vote": "evals.preference",
    "standings": "evals.preference",
    "win_matrix": "evals.preference",
    "Recipe": "evals.recipe",
    "DeliveryResult": "evals.result",
    "TrackAnalysis": "evals.result",
    "load_votes": "evals.vote_io",
    "read_votes_file": "evals.vote_io",
}
__all__ = [
    "DecisionRule",
    "DeliveryResult",
    "Recipe",
    "TrackAnalysis",
    "Vote",
    "analyse_campaign",
    "analyze_audio",
    "analyze_file",
    "check_delivery",
    "decide",
    "load_votes",
    "read_votes_file",
    "standings",
    "win_matrix",
]

if TYPE_CHECKING:
    from evals.analysis import analyze_audio, analyze_file
    from evals.campaign_analysis import analyse_campaign
    from evals.decision import DecisionRule, decide
    from evals.delivery import check_delivery
    from evals.preference import Vote, standings, win_matrix
    from evals.recipe import Recipe
    from evals.result import DeliveryResult, TrackAnalysis
    from evals.vote_io import load_votes, read_votes_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evals' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
