"""Genre / venue presets (configs/genres.yaml) as typed values: the one loader every feature uses.

A preset gives generation defaults (caption, tempo range, key, time signature, length, instrumental) to the
Generate tab and batch plans, and a delivery spec (loudness target and tolerance, true-peak ceiling, longest
silence, tempo range) to mastering, QC, campaigns and delivery checks. Unknown keys are rejected so that a typo
in the YAML is an error, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.config import from_mapping, in_file, read_yaml
from workbench.core.errors import ConfigError, InputError

GENRES_PATH = paths.CONFIG_DIR / "genres.yaml"


@dataclass(frozen=True, kw_only=True)
class _Shared:
    """The fields a genre has in the YAML and as a preset alike."""

    caption: str
    key: str  # e.g. "F major"
    time_signature: str
    duration_s: float
    loudness_lufs: float
    loudness_tolerance_lu: float
    true_peak_dbtp: float
    max_silence_s: float
    instrumental: bool = True


@dataclass(frozen=True, kw_only=True)
class GenrePreset(_Shared):
    name: str
    label: str
    bpm_range: tuple[int, int]

    @property
    def bpm(self) -> int:
        """The tempo a request gets when it names the genre but no bpm: the middle of the genre's range."""
        return int(round(sum(self.bpm_range) / 2))

    def request_defaults(self) -> dict[str, object]:
        return {
            "prompt": self.caption,
            "bpm": self.bpm,
            "keyscale": self.key,
            "time_signature": self.time_signature,
            "duration_s": float(self.duration_s),
            "instrumental": self.instrumental,
            "genre": self.name,
        }


@dataclass(frozen=True, kw_only=True)
class _Entry(_Shared):
    """One genre as written in the YAML: ``bpm`` is the tempo range, ``label`` defaults to the genre's name."""

    label: str | None = None
    bpm: tuple[int, int]


def _preset(name: str, entry: Any) -> GenrePreset:
    fields = dataclasses.asdict(from_mapping(_Entry, entry, f"genres.{name}"))
    label, bpm = fields.pop("label"), fields.pop("bpm")
    return GenrePreset(name=name, label=label or name, bpm_range=bpm, **fields)


@functools.cache
def load_genres(path: Path = GENRES_PATH) -> dict[str, GenrePreset]:
    raw = read_yaml(path, "genres file") or {}
    genres = raw.get("genres") if isinstance(raw, dict) else None
    if not isinstance(genres, dict):
        raise ConfigError("genres", genres, f"{path} must have a top-level 'genres:' mapping")
    with in_file(path):
        return {name: _preset(name, entry) for name, entry in genres.items()}


def check_genre(name: object) -> None:
    """Refuses a genre that is not a preset, naming the presets (a request's genre picks its delivery spec)."""
    presets = load_genres()
    if not isinstance(name, str) or name not in presets:
        raise InputError("genre", name, f"unknown genre; known genres: {', '.join(sorted(presets))}")
