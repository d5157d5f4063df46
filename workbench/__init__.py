"""ACE Workbench: a research workbench around ACE-Step 1.5 on diffusers.

The public API is small: ``Engine`` runs typed requests (``workbench.engine.requests``) and returns ``RunResult``s;
``record`` writes files, sidecars and store rows; ``Workbench`` (``workbench.services``) runs and records for the
faces; ``Store`` is the shared SQLite store. Imports are lazy so that
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
    "record": "workbench.records",
    "RecordedTake": "workbench.records",
    "Workbench": "workbench.services",
    "Store": "workbench.core.store",
    "Tracker": "workbench.core.tracking",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
