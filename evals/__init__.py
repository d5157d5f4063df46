"""Evaluation library: per-track analysis, delivery checks, set metrics, preference statistics and reports.

Import-light on purpose (no torch at import time): the CLI, the notebook and the Metrics tab import it.
"""

from evals.analysis import analyze_audio, analyze_file  # noqa: F401  (per-track analysis)
from evals.campaign_analysis import analyse_campaign  # noqa: F401  (campaign report: evals.report.write_report)
from evals.decision import DecisionRule, decide  # noqa: F401  (preference statistics and decisions)
from evals.delivery import check_delivery  # noqa: F401
from evals.preference import Vote, standings, win_matrix  # noqa: F401
from evals.recipe import Recipe  # noqa: F401
from evals.result import DeliveryResult, TrackAnalysis  # noqa: F401
from evals.vote_io import load_votes, read_votes_file  # noqa: F401
