"""Content digests of files: the one SHA-256 reader used to identify adapters and dataset clips."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20  # read 1 MiB at a time so a multi-GB checkpoint never sits in memory whole


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
