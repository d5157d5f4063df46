"""Operating-system failures (disk full, read-only, permission) turned into messages that name the path and the fix.

The standard errors say "[Errno 28] No space left on device" or, from libsndfile, only "System error."; a user
needs to know which folder, how much room is left and what to do. ``writable_folder`` checks a folder before
slow work, so a read-only output is found before the model runs rather than after.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from workbench.core.errors import InputError


def _existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def free_text(path: str | os.PathLike[str]) -> str:
    """How much room is left on the file system holding ``path`` (or its nearest existing parent)."""
    try:
        free = shutil.disk_usage(_existing(Path(path))).free
    except OSError:
        return "free space unknown"
    return f"{free / 1e6:.1f} MB free"


def os_error_fix(exc: BaseException, path: str | os.PathLike[str]) -> str:
    """The fix for an OSError (or a libsndfile "System error.") raised while writing ``path``."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if (
        code in (errno.ENOSPC, errno.EDQUOT)
        or "no space" in text
        or "disk is full" in text
        or "disk full" in text
    ):
        return f"the disk is full ({free_text(path)} there); free some space or choose another folder"
    if code == errno.EROFS or "read-only" in text or "readonly" in text:
        return "the folder is on a read-only file system; choose a writable folder"
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in text:
        return "permission denied; choose a folder you can write to, or fix its permissions"
    if "system error" in text:  # libsndfile's whole message for a failed write(2): usually a full disk
        return f"the write failed ({free_text(path)} there; a full disk is the usual cause); free space or choose another folder"
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"cannot write there ({reason})"


def writable_folder(folder: str | os.PathLike[str], field: str = "output folder") -> Path:
    """``folder`` (created if absent) after proving a file can be created in it; else an InputError with the fix."""
    p = Path(folder).expanduser()
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(field, str(p), os_error_fix(exc, p)) from None
    return p


def describe_failure(exc: BaseException) -> str | None:
    """A message naming what failed and the fix, for failures a user's environment causes (a full or read-only
    disk, a broken store, memory), shared by the CLI and the app; None for a bug (the generic line + log)."""
    import sqlite3

    if isinstance(exc, OSError):
        path = exc.filename or "the file"
        return f"{path}: {os_error_fix(exc, exc.filename or '.')}"
    if isinstance(exc, sqlite3.Error):
        from workbench.core import paths
        from workbench.core.store import store_problem

        problem = store_problem(exc, paths.store_path())
        return str(problem) if problem is not None else None
    if isinstance(exc, ValueError) and "embedded null byte" in str(exc):  # os.fspath's refusal; no path given
        return (
            "a file path contains a NUL character (\\0), which no file system allows; remove it and run again"
        )
    if isinstance(exc, MemoryError):
        return "ran out of memory; use shorter audio, fewer takes or a smaller plan, then run again"
    return None
