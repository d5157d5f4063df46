"""Evaluation library: per-track analysis, delivery checks, set metrics, preference statistics and reports.

Import-light on purpose (no torch at import time): the CLI, the notebook and the Metrics tab import it.
"""

from evals.decision import DecisionRule, decide  # noqa: F401  (preference statistics and decisions)
from evals.preference import Vote, standings, win_matrix  # noqa: F401
from evals.vote_io import load_votes, read_votes_file  # noqa: F401
