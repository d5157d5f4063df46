"""Removing a campaign that has no votes: its store rows and its files, so a failed set-up can be re-created.

A create that fails part-way (a bad clip, a full disk) is rolled back by the same function; if even the roll-back
fails (the disk is still full), the error names the command that finishes it later.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from workbench.campaigns import db
from workbench.campaigns.stimuli import campaign_dir
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.fs_errors import os_error_fix
from workbench.core.store import Store


@dataclass(frozen=True)
class Removed:
    name: str
    files: int  # files removed from the campaign's folder


def remove_campaign(store: Store, name: str) -> Removed:
    """Delete ``name``'s rows (refused once it has votes: export them instead) and its folder of clips."""
    db.get_campaign(store, name)  # an unknown name is named with the known ones
    db.delete_campaign(store, name)
    folder = campaign_dir(name)
    files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
    try:
        shutil.rmtree(folder, ignore_errors=False)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise InputError(
            "campaign folder", str(folder), f"could not be removed: {os_error_fix(exc, folder)}"
        ) from None
    return Removed(name, files)


def roll_back(store: Store, name: str, cause: BaseException) -> None:
    """Undo a failed create; if that fails too, raise an error naming both causes and the command to finish."""
    try:
        remove_campaign(store, name)
    except Exception as exc:  # the roll-back must report, not hide, whatever stopped it
        raise WorkbenchError(
            f"campaign '{name}' could not be created ({cause}) and cleaning it up failed too ({exc}); once the "
            f"cause is fixed, run: workbench campaign delete {name}"
        ) from None
