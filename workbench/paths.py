"""Where the workbench keeps its files.

Everything lives under one home folder (``WORKBENCH_HOME``, default ``~/.cache/ace-workbench``) so that a test can
point the whole app at a temporary folder with one environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "configs"


def home() -> Path:
    root = os.environ.get("WORKBENCH_HOME") or str(Path.home() / ".cache" / "ace-workbench")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Locally built models (the tiny pipeline) live here."""
    return home() / "models"


def runs_dir() -> Path:
    return home() / "runs"


def store_path() -> Path:
    return home() / "workbench.sqlite"
