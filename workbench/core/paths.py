"""Where the workbench keeps its files.

Everything lives under one home folder (``WORKBENCH_HOME``, default ``~/.cache/ace-workbench``) so that a test can
point the whole app at a temporary folder with one environment variable. Every folder in it is named here:

    models/  runs/  runs/lora/  lora-data/  loras/  plans/  batches/  campaigns/  reports/  ui-cache/
    cache/embeddings/  rater-serves-nothing/  workbench.sqlite
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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
    """Generated runs (audio and sidecars), one folder per run."""
    return home() / "runs"


def lora_runs_dir(runs: Path | None = None) -> Path:
    """LoRA training runs, ``<runs>/lora/<name>`` (``runs``: the app's runs folder, default the home's)."""
    return (runs if runs is not None else runs_dir()) / "lora"


def lora_datasets_dir() -> Path:
    """Datasets saved for LoRA training, one folder per dataset. Created on first use."""
    return _created(home() / "lora-data")


def loras_dir() -> Path:
    """Adapters installed for Generate's LoRA picker."""
    return home() / "loras"


def plans_dir() -> Path:
    """Batch plans uploaded in the Batch tab. Created on first use."""
    return _created(home() / "plans")


def batches_dir() -> Path:
    """Batch outputs written from the Batch tab, one folder per plan. Created on first use."""
    return _created(home() / "batches")


def campaigns_dir() -> Path:
    """Blind A/B campaigns' clips, one folder per campaign."""
    return home() / "campaigns"


def reports_dir() -> Path:
    """Campaign reports written by ``workbench eval report`` without ``--out``."""
    return home() / "reports"


def ui_cache_dir() -> Path:
    """The app's temporary files (uploads, previews), served to the browser."""
    return home() / "ui-cache"


def embeddings_cache_dir() -> Path:
    """Cached audio embeddings for set metrics (FAD)."""
    return home() / "cache" / "embeddings"


def store_path() -> Path:
    return home() / "workbench.sqlite"


def _created(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def folder_inside(
    text: str | None, field: str, base: Path | None = None, *, empty_fix: str = "give a folder"
) -> Path:
    """A folder a user typed, relative to ``base`` (default: the workbench home) or absolute inside it.

    The app serves and scans only its own folders, so a typed path may not wander over the server's disk. The
    path is normalised without resolving links, so a folder linked into the home (``ln -s /music/spa …``) works.
    """
    text = (text or "").strip()
    if not text:
        raise InputError(field, text, f"{empty_fix} under WORKBENCH_HOME")
    root = Path(os.path.normpath((base or home()).absolute()))
    raw = Path(text).expanduser()
    folder = Path(os.path.normpath(raw if raw.is_absolute() else root / raw))
    if folder != root and root not in folder.parents:
        raise InputError(
            field, text, f"must be inside WORKBENCH_HOME ({root}); copy or link the folder there"
        )
    if not folder.is_dir():
        raise InputError(field, text, f"no such folder under {root}")
    return folder
