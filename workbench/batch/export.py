"""Library-ready files: mastering to the genre's delivery spec, tags, and atomic writes.

Tags are written with mutagen because libsndfile writes no ID3 frames to MP3 and has no fields for BPM, key or
free-form values (model, LoRA, seed). WAV and MP3 get ID3 (WAV in its ``id3 `` chunk, which players and
library tools read), FLAC gets Vorbis comments. The file is written and tagged under a hidden temporary name
and then renamed, so a killed run never leaves a partial or untagged file under the final name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.audio.mastering import MasteringSpec
from workbench.core import audio_io
from workbench.core.audio_io import Audio
from workbench.core.config import from_mapping, number
from workbench.core.errors import InputError
from workbench.core.genres import GenrePreset

AI_NOTE = "AI-generated"
TAG_KEYS = ("title", "artist", "genre", "bpm", "key", "comment", "ai_generated", "model", "lora", "seed")


@dataclass(frozen=True)
class ExportSettings:
    """How finished tracks are written. Load from the plan's ``export:`` mapping with ``from_dict``."""

    format: str = "wav"  # wav (32-bit float), flac (24-bit) or mp3
    master: bool = True  # master to the genre's delivery spec (rows without a genre use target_lufs below)
    target_lufs: float | None = None  # loudness for rows without a genre; None leaves their level alone
    true_peak_dbtp: float | None = -1.0  # ceiling for rows without a genre
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    artist: str = "ACE Workbench (AI-generated)"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ExportSettings:
        settings = from_mapping(cls, data or {}, "export", what="export setting")
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.format not in audio_io.WRITE_FORMATS:
            raise InputError(
                "export.format", self.format, f"choose one of {', '.join(audio_io.WRITE_FORMATS)}"
            )
        for name in ("fade_in_s", "fade_out_s"):
            number(f"export.{name}", getattr(self, name), 0, unit=" seconds")
        spec = self.spec_for(None)
        if spec is not None:
            spec.validate()

    def spec_for(self, preset: GenrePreset | None) -> MasteringSpec | None:
        """The delivery spec of the row's genre, else the plan-wide target; None when mastering is off."""
        if not self.master:
            return None
        if preset is not None:
            return MasteringSpec(preset.loudness_lufs, preset.true_peak_dbtp, self.fade_in_s, self.fade_out_s)
        return MasteringSpec(self.target_lufs, self.true_peak_dbtp, self.fade_in_s, self.fade_out_s)


def id3_key(keyscale: str | None) -> str | None:
    """'F# minor' -> 'F#m' (the ID3 TKEY form: up to three characters)."""
    if not keyscale:
        return None
    parts = keyscale.replace("♯", "#").replace("♭", "b").split()
    if len(parts) != 2:
        return None
    return parts[0] + ("m" if parts[1] == "minor" else "")


def tags_for(
    *, title: str, genre_label: str | None, request: Any, model: str, seed: int, artist: str
) -> dict[str, str]:
    lora = request.lora
    lora_text = f"{lora.path} (scale {lora.scale:g})" if lora else "none"
    tags = {
        "title": title,
        "artist": artist,
        "genre": genre_label or "",
        "bpm": "" if request.bpm is None else str(request.bpm),
        "key": request.keyscale or "",
        "comment": f"{AI_NOTE} with ACE-Step 1.5; model {model}; LoRA {lora_text}; seed {seed}",
        "ai_generated": "yes",
        "model": model,
        "lora": lora_text,
        "seed": str(seed),
    }
    return tags


def _tag_id3(tags_obj: Any, tags: dict[str, str]) -> None:
    from mutagen.id3 import COMM, TBPM, TCON, TIT2, TKEY, TPE1, TXXX

    tags_obj.add(TIT2(encoding=3, text=tags["title"]))
    tags_obj.add(TPE1(encoding=3, text=tags["artist"]))
    if tags["genre"]:
        tags_obj.add(TCON(encoding=3, text=tags["genre"]))
    if tags["bpm"]:
        tags_obj.add(TBPM(encoding=3, text=tags["bpm"]))
    key = id3_key(tags["key"])
    if key:
        tags_obj.add(TKEY(encoding=3, text=key))
    tags_obj.add(COMM(encoding=3, lang="eng", desc="", text=tags["comment"]))
    for name in ("ai_generated", "model", "lora", "seed", "key"):
        if tags[name]:
            tags_obj.add(TXXX(encoding=3, desc=name, text=tags[name]))


def write_tags(path: Path, tags: dict[str, str]) -> None:
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "flac":
        from mutagen.flac import FLAC

        flac = FLAC(str(path))
        for name, value in tags.items():
            if value:
                flac[name.upper()] = value
        flac["INITIALKEY"] = id3_key(tags["key"]) or ""
        flac.save()
        return
    from mutagen.mp3 import MP3
    from mutagen.wave import WAVE

    tagged: Any = MP3(str(path)) if fmt == "mp3" else WAVE(str(path))
    if tagged.tags is None:
        tagged.add_tags()
    _tag_id3(tagged.tags, tags)
    tagged.save()


def read_tags(path: str | Path) -> dict[str, str]:
    """The tags written by ``write_tags``, under the same names, whatever the format."""
    p = Path(path)
    if p.suffix.lower() == ".flac":
        from mutagen.flac import FLAC

        flac = FLAC(str(p))
        return {k: flac[k.upper()][0] for k in TAG_KEYS if k.upper() in flac}
    import mutagen

    f = mutagen.File(str(p))
    id3 = f.tags if f is not None else None
    if id3 is None:
        return {}
    out: dict[str, str] = {}
    for frame, name in (("TIT2", "title"), ("TPE1", "artist"), ("TCON", "genre"), ("TBPM", "bpm")):
        if frame in id3:
            out[name] = str(id3[frame].text[0])
    comments = id3.getall("COMM")
    if comments:
        out["comment"] = str(comments[0].text[0])
    for frame in id3.getall("TXXX"):
        out[frame.desc] = str(frame.text[0])
    return out


def write_tagged(path: Path, audio: Audio, tags: dict[str, str]) -> Path:
    """Write + tag under a hidden name in the same folder, then rename: the final name only ever holds a whole file."""
    staging = path.with_name(f".{path.stem}.staging{path.suffix}")
    try:
        audio_io.write_audio(staging, audio)
        write_tags(staging, tags)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return path
