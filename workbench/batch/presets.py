"""Genre presets (configs/genres.yaml) as typed values: musical defaults for plans, delivery targets for QC.

A plan row that names a genre gets the genre's caption, tempo, key, time signature, length and vocal setting as
defaults (anything the row sets wins), and its items are mastered and checked against the genre's delivery spec.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench import paths
from workbench.errors import ConfigError

GENRES_PATH = paths.CONFIG_DIR / "genres.yaml"
_KEYS = {
    "label",
    "caption",
    "bpm",
    "key",
    "time_signature",
    "duration_s",
    "loudness_lufs",
    "loudness_tolerance_lu",
    "true_peak_dbtp",
    "max_silence_s",
    "instrumental",
}


@dataclass(frozen=True)
class GenrePreset:
    name: str
    label: str
    caption: str
    bpm_range: tuple[int, int]
    key: str
    time_signature: str
    duration_s: float
    loudness_lufs: float
    loudness_tolerance_lu: float
    true_peak_dbtp: float
    max_silence_s: float
    instrumental: bool

    @property
    def bpm(self) -> int:
        """The tempo a row gets when it names the genre but no bpm: the middle of the genre's range."""
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


def _preset(name: str, entry: dict[str, Any], path: Path) -> GenrePreset:
    unknown = set(entry) - _KEYS
    missing = _KEYS - set(entry)
    if unknown or missing:
        raise ConfigError(
            f"genres.{name}",
            sorted(unknown or missing),
            f"{'unknown' if unknown else 'missing'} keys in {path}; expected {sorted(_KEYS)}",
        )
    bpm = entry["bpm"]
    if not (isinstance(bpm, list) and len(bpm) == 2):
        raise ConfigError(f"genres.{name}.bpm", bpm, "give the tempo range as [low, high]")
    return GenrePreset(
        name=name,
        label=str(entry["label"]),
        caption=str(entry["caption"]),
        bpm_range=(int(bpm[0]), int(bpm[1])),
        key=str(entry["key"]),
        time_signature=str(entry["time_signature"]),
        duration_s=float(entry["duration_s"]),
        loudness_lufs=float(entry["loudness_lufs"]),
        loudness_tolerance_lu=float(entry["loudness_tolerance_lu"]),
        true_peak_dbtp=float(entry["true_peak_dbtp"]),
        max_silence_s=float(entry["max_silence_s"]),
        instrumental=bool(entry["instrumental"]),
    )


@functools.cache
def load_genres(path: Path = GENRES_PATH) -> dict[str, GenrePreset]:
    raw = yaml.safe_load(path.read_text()) or {}
    genres = raw.get("genres")
    if not isinstance(genres, dict):
        raise ConfigError("genres", genres, f"{path} must have a top-level 'genres:' mapping")
    return {name: _preset(name, entry, path) for name, entry in genres.items()}
