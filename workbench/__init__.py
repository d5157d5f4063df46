"""ACE Workbench: a research workbench around ACE-Step 1.5 on diffusers.

The public API is small: ``Engine`` runs typed requests (``workbench.engine.requests``) and returns ``RunResult``s;
``Recorder`` writes files, sidecars and store rows; ``Store`` is the shared SQLite store. Imports are lazy so that
``import workbench`` (and the CLI's ``--help``) stays fast and does not pull in torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Engine": "workbench.engine.engine",
    "RunResult": "workbench.engine.engine",
    "Take": "workbench.engine.engine",
    "Progress": "workbench.engine.engine",
    "Recorder": "workbench.records",
    "Store": "workbench.core.store",
    "Tracker": "workbench.core.tracking",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
