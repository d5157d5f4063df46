"""Which files make up a set of audio: a folder searched recursively, or one file."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.errors import InputError

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".aiff", ".aif")


def list_audio(source: str | os.PathLike[str]) -> list[Path]:
    """Audio files of a set: a folder (searched recursively, sorted) or a single file."""
    root = Path(source)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError("set", str(root), "not found; give a folder of audio files")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InputError("set", str(root), f"holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files
