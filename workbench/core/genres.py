"""Genre / venue presets (configs/genres.yaml) as typed values: the one loader every feature uses.

A preset gives generation defaults (caption, tempo range, key, time signature, length, instrumental) to the
Generate tab and batch plans, and a delivery spec (loudness target and tolerance, true-peak ceiling, longest
silence, tempo range) to mastering, QC, campaigns and delivery checks. Unknown keys are rejected so that a typo
in the YAML is an error, not a silently ignored setting.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench.core import paths
from workbench.core.errors import ConfigError

GENRES_PATH = paths.CONFIG_DIR / "genres.yaml"
_NUMBERS = ("duration_s", "loudness_lufs", "loudness_tolerance_lu", "true_peak_dbtp", "max_silence_s")
_KEYS = {"label", "caption", "bpm", "key", "time_signature", "instrumental", *_NUMBERS}


@dataclass(frozen=True)
class GenrePreset:
    name: str
    label: str
    caption: str
    bpm_range: tuple[int, int]
    key: str  # e.g. "F major"
    time_signature: str
    duration_s: float
    loudness_lufs: float
    loudness_tolerance_lu: float
    true_peak_dbtp: float
    max_silence_s: float
    instrumental: bool

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


def _number(name: str, entry: dict[str, Any], key: str, path: Path) -> float:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"genres.{name}.{key}", value, f"give a number in {path}")
    return float(value)


def _preset(name: str, entry: Any, path: Path) -> GenrePreset:
    if not isinstance(entry, dict):
        raise ConfigError(f"genres.{name}", entry, f"each genre in {path} must be a mapping of fields")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"genres.{name}", unknown, f"unknown keys in {path}; allowed: {sorted(_KEYS)}")
    bpm = entry.get("bpm")
    if not (isinstance(bpm, list) and len(bpm) == 2 and all(isinstance(v, int | float) for v in bpm)):
        raise ConfigError(f"genres.{name}.bpm", bpm, f"give the tempo range as [low, high] in {path}")
    missing = [k for k in ("caption", "key", "time_signature", *_NUMBERS) if k not in entry]
    if missing:
        raise ConfigError(
            f"genres.{name}.{missing[0]}",
            None,
            f"missing in {path}; every genre needs {sorted(_KEYS - {'label', 'instrumental'})}",
        )
    numbers = {k: _number(name, entry, k, path) for k in _NUMBERS}
    return GenrePreset(
        name=name,
        label=str(entry.get("label", name)),
        caption=str(entry["caption"]),
        bpm_range=(int(bpm[0]), int(bpm[1])),
        key=str(entry["key"]),
        time_signature=str(entry["time_signature"]),
        instrumental=bool(entry.get("instrumental", True)),
        **numbers,
    )


@functools.cache
def load_genres(path: Path = GENRES_PATH) -> dict[str, GenrePreset]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    genres = raw.get("genres") if isinstance(raw, dict) else None
    if not isinstance(genres, dict):
        raise ConfigError("genres", genres, f"{path} must have a top-level 'genres:' mapping")
    return {name: _preset(name, entry, Path(path)) for name, entry in genres.items()}
