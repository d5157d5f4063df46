"""Evaluation library: per-track analysis, delivery checks, set metrics, preference statistics and reports.

Import-light on purpose: names are resolved on first use (PEP 562), so ``import evals`` (and the CLI's parser,
which attaches ``eval report`` from ``workbench.cli.eval_report``) pulls in neither torch nor scipy until needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "analyze_audio": "evals.audio.analysis",  # per-track analysis
    "analyze_file": "evals.audio.analysis",
    "analyze_campaign": "evals.preference.campaign_analysis",  # campaign report: evals.report.report.write_report
    "DecisionRule": "evals.preference.decision_rule",  # preference statistics and decisions
    "decide": "evals.preference.decision",
    "check_delivery": "evals.audio.delivery",
    "Vote": "evals.preference.preference",
    "standings": "evals.preference.preference",
    "win_matrix": "evals.preference.preference",
    "Recipe": "evals.audio.recipe",
    "DeliveryResult": "evals.audio.result",
    "TrackAnalysis": "evals.audio.result",
    "read_votes_file": "evals.preference.vote_io",
}
__all__ = [
    "DecisionRule",
    "DeliveryResult",
    "Recipe",
    "TrackAnalysis",
    "Vote",
    "analyze_campaign",
    "analyze_audio",
    "analyze_file",
    "check_delivery",
    "decide",
    "read_votes_file",
    "standings",
    "win_matrix",
]

if TYPE_CHECKING:
    from evals.audio.analysis import analyze_audio, analyze_file
    from evals.audio.delivery import check_delivery
    from evals.audio.recipe import Recipe
    from evals.audio.result import DeliveryResult, TrackAnalysis
    from evals.preference.campaign_analysis import analyze_campaign
    from evals.preference.decision import decide
    from evals.preference.decision_rule import DecisionRule
    from evals.preference.preference import Vote, standings, win_matrix
    from evals.preference.vote_io import read_votes_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evals' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
