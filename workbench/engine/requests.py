"""Typed requests, one dataclass per task. Every caller (UI, CLI, batches, campaigns) builds one of these.

`validate()` checks everything that can be checked without audio or model; the engine checks the rest (windows
against the source length) before the model is touched. Each error names the field, the value and the allowed
range. `to_dict()` / `request_from_dict()` round-trip through JSON sidecars, so any result can be replayed.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.core.config import from_mapping, number, whole
from workbench.core.errors import InputError
from workbench.core.genres import check_genre
from workbench.core.keyscale import is_written_keyscale

MIN_DURATION_S = 1.0
MAX_DURATION_S = (
    600.0  # ACE-Step 1.5 generates 10 s to 10 min; short clips are allowed for previews and tests
)
MAX_BATCH = 16
MAX_STEPS = 200
MAX_SEED = 2**63 - 1
DEFAULT_DURATION_S = 30.0
DEFAULT_CROSSFADE_MS = 50.0
MAX_CROSSFADE_MS = 2000.0
# Track classes the ACE-Step 1.5 lego / extract / complete instructions were trained with.
TRACK_NAMES = (
    "vocals",
    "backing_vocals",
    "drums",
    "bass",
    "guitar",
    "keyboard",
    "percussion",
    "strings",
    "synth",
    "fx",
    "brass",
    "woodwinds",
)
TIME_SIGNATURES = ("2", "3", "4", "6")
# The lyric languages the model was trained with, as ace-step/ACE-Step-1.5@f30aee4:acestep/constants.py
# ``VALID_LANGUAGES`` lists them ("unknown" included); the LM planner's vocabulary is this same tuple.
VOCAL_LANGUAGES = (
    "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en",
    "es", "fa", "fi", "fr", "he", "hi", "hr", "ht", "hu", "id",
    "is", "it", "ja", "ko", "la", "lt", "ms", "ne", "nl", "no",
    "pa", "pl", "pt", "ro", "ru", "sa", "sk", "sr", "sv", "sw",
    "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh",
    "unknown",
)  # fmt: skip
_AUDIO_CODE_RE = re.compile(r"<\|audio_code_(\d+)\|>")


@dataclass(frozen=True)
class LoraRef:
    """An adapter to apply for one request: a folder, a file or a hub id, and its strength."""

    path: str
    scale: float = 1.0

    def validate(self) -> None:
        if not self.path or not str(self.path).strip():
            raise InputError("lora.path", self.path, "give an adapter folder, .safetensors file or hub id")
        if not (
            isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and -2.0 <= self.scale <= 4.0
        ):
            raise InputError(
                "lora.scale", self.scale, "use a number between -2 and 4 (1.0 = trained strength)"
            )


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """Fields shared by every task. ``None`` means "the model's default" and is resolved by the engine."""

    task: ClassVar[str] = ""
    needs_source: ClassVar[bool] = False

    prompt: str = ""
    lyrics: str = ""
    instrumental: bool = False
    vocal_language: str = "en"
    duration_s: float | None = None
    bpm: int | None = None
    keyscale: str | None = None
    time_signature: str | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    shift: float | None = None
    # The fraction of the schedule (0 = start, 1 = end) where CFG applies; None = the model preset's.
    cfg_interval_start: float | None = None
    cfg_interval_end: float | None = None
    seed: int | None = None
    batch_size: int = 1
    lora: LoraRef | None = None
    genre: str | None = None

    def validate(self) -> None:
        if not isinstance(self.prompt, str):
            raise InputError("prompt", self.prompt, "must be text")
        if len(self.prompt) > 2000:
            raise InputError("prompt", self.prompt, "is longer than 2000 characters; shorten the caption")
        if len(self.lyrics) > 8000:
            raise InputError("lyrics", self.lyrics[:40], "are longer than 8000 characters")
        if self.vocal_language not in VOCAL_LANGUAGES:
            raise InputError(
                "vocal_language",
                self.vocal_language,
                f"not a language code the model knows; use one of {', '.join(VOCAL_LANGUAGES)}",
            )
        if self.genre is not None:
            check_genre(self.genre)
        if self.duration_s is not None:
            number("duration_s", self.duration_s, MIN_DURATION_S, MAX_DURATION_S, " seconds")
        if self.bpm is not None:
            whole("bpm", self.bpm, 30, 300, empty_ok=True)
        if self.keyscale is not None and not is_written_keyscale(self.keyscale):
            raise InputError("keyscale", self.keyscale, "write it like 'C major', 'F# minor' or 'Bb major'")
        if self.time_signature is not None and self.time_signature not in TIME_SIGNATURES:
            raise InputError(
                "time_signature", self.time_signature, f"choose one of {', '.join(TIME_SIGNATURES)}"
            )
        if self.steps is not None:
            whole("steps", self.steps, 1, MAX_STEPS)
        if self.guidance_scale is not None:
            number("guidance_scale", self.guidance_scale, 0.0, 30.0)
        if self.shift is not None:
            number("shift", self.shift, 0.1, 10.0)
        for name in ("cfg_interval_start", "cfg_interval_end"):
            if getattr(self, name) is not None:
                number(name, getattr(self, name), 0.0, 1.0)
        if (
            self.cfg_interval_start is not None
            and self.cfg_interval_end is not None
            and self.cfg_interval_start > self.cfg_interval_end
        ):
            raise InputError(
                "cfg_interval_start", self.cfg_interval_start, "must not be after cfg_interval_end"
            )
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED
        ):
            raise InputError("seed", self.seed, f"must be a whole number between 0 and {MAX_SEED}, or empty")
        whole("batch_size", self.batch_size, 1, MAX_BATCH)
        if self.seed is not None and self.seed + self.batch_size - 1 > MAX_SEED:
            raise InputError(
                "seed",
                self.seed,
                f"the {self.batch_size} takes would use seeds up to {self.seed + self.batch_size - 1}, past the "
                f"largest {MAX_SEED}; use a seed <= {MAX_SEED - self.batch_size + 1}",
            )
        if self.lora is not None:
            self.lora.validate()

    @property
    def lyrics_for_model(self) -> str:
        return "[Instrumental]" if self.instrumental or not self.lyrics.strip() else self.lyrics

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["task"] = self.task
        return data


@dataclass(frozen=True, kw_only=True)
class Text2Music(GenerationRequest):
    task: ClassVar[str] = "text2music"


@dataclass(frozen=True, kw_only=True)
class SourceRequest(GenerationRequest):
    """A task that transforms an audio file. ``duration_s`` defaults to the source's length."""

    needs_source: ClassVar[bool] = True
    src: str = ""

    def validate(self) -> None:
        super().validate()
        if not self.src:
            raise InputError("src", self.src, f"task '{self.task}' needs a source audio file")


def _check_crossfade(value: float) -> None:
    number("crossfade_ms", value, 0.0, MAX_CROSSFADE_MS, " ms")


@dataclass(frozen=True, kw_only=True)
class Repaint(SourceRequest):
    """Regenerate [start_s, end_s) of the source; everything outside stays sample-identical."""

    task: ClassVar[str] = "repaint"
    start_s: float = 0.0
    end_s: float = 0.0
    crossfade_ms: float = DEFAULT_CROSSFADE_MS

    def validate(self) -> None:
        super().validate()
        number("start_s", self.start_s, 0.0, MAX_DURATION_S, " seconds")
        number("end_s", self.end_s, 0.0, MAX_DURATION_S, " seconds")
        if self.end_s <= self.start_s:
            raise InputError("end_s", self.end_s, f"must be greater than start_s ({self.start_s:g} s)")
        _check_crossfade(self.crossfade_ms)


@dataclass(frozen=True, kw_only=True)
class Extend(SourceRequest):
    """Outpaint: add ``extend_s`` seconds of new music before (left) or after (right) the source."""

    task: ClassVar[str] = "extend"
    side: str = "right"
    extend_s: float = 10.0
    crossfade_ms: float = DEFAULT_CROSSFADE_MS

    def validate(self) -> None:
        super().validate()
        if self.side not in ("left", "right"):
            raise InputError("side", self.side, "choose 'left' (before the source) or 'right' (after it)")
        number("extend_s", self.extend_s, 1.0, MAX_DURATION_S, " seconds")
        _check_crossfade(self.crossfade_ms)


@dataclass(frozen=True, kw_only=True)
class StyleTransfer(SourceRequest):
    """Cover: re-render the source in the style of the prompt. strength 1 = follow the source structure fully."""

    task: ClassVar[str] = "cover"
    strength: float = 0.5
    reference: str | None = None  # optional timbre reference audio

    def validate(self) -> None:
        super().validate()
        number("strength", self.strength, 0.0, 1.0)


def _check_track(name: str, value: str) -> None:
    if value not in TRACK_NAMES:
        raise InputError(name, value, f"choose one of {', '.join(TRACK_NAMES)}")


@dataclass(frozen=True, kw_only=True)
class Lego(SourceRequest):
    """Add a named track to the source, optionally only within [start_s, end_s)."""

    task: ClassVar[str] = "lego"
    track: str = "drums"
    start_s: float | None = None
    end_s: float | None = None

    def validate(self) -> None:
        super().validate()
        _check_track("track", self.track)
        if self.start_s is not None:
            number("start_s", self.start_s, 0.0, MAX_DURATION_S, " seconds")
        if self.end_s is not None:
            number("end_s", self.end_s, 0.0, MAX_DURATION_S, " seconds")
            if self.end_s <= (self.start_s or 0.0):
                raise InputError(
                    "end_s", self.end_s, f"must be greater than start_s ({self.start_s or 0:g} s)"
                )


@dataclass(frozen=True, kw_only=True)
class Extract(SourceRequest):
    """Have the model render one named stem of the source."""

    task: ClassVar[str] = "extract"
    track: str = "vocals"

    def validate(self) -> None:
        super().validate()
        _check_track("track", self.track)


@dataclass(frozen=True, kw_only=True)
class Complete(SourceRequest):
    """Complete a partial arrangement (e.g. a solo piano) with the named track classes."""

    task: ClassVar[str] = "complete"
    tracks: tuple[str, ...] = ("drums", "bass")

    def validate(self) -> None:
        super().validate()
        if not self.tracks:
            raise InputError("tracks", self.tracks, f"name at least one of {', '.join(TRACK_NAMES)}")
        for t in self.tracks:
            _check_track("tracks", t)


@dataclass(frozen=True, kw_only=True)
class AudioCodes(GenerationRequest):
    """Render 5 Hz semantic codes (``<|audio_code_N|>`` tokens, e.g. from the ACE-Step LM). Length follows the codes."""

    task: ClassVar[str] = "audio_codes"
    codes: str = ""

    def validate(self) -> None:
        super().validate()
        found = _AUDIO_CODE_RE.findall(self.codes)
        if not found:
            raise InputError(
                "codes", self.codes, "give <|audio_code_N|> tokens (N from 0 to 63999), e.g. from the LM"
            )
        bad = [int(n) for n in found if int(n) > 63999]
        if bad:
            raise InputError("codes", bad[0], "audio code ids must be between 0 and 63999")

    @property
    def code_count(self) -> int:
        return len(_AUDIO_CODE_RE.findall(self.codes))


REQUEST_TYPES: dict[str, type[GenerationRequest]] = {
    cls.task: cls for cls in (Text2Music, Repaint, Extend, StyleTransfer, Lego, Extract, Complete, AudioCodes)
}
TASKS = tuple(REQUEST_TYPES)
TASK_ALIASES = {"style_transfer": "cover", "inpaint": "repaint", "outpaint": "extend", "codes": "audio_codes"}


def request_type(task: str) -> type[GenerationRequest]:
    cls = REQUEST_TYPES.get(TASK_ALIASES.get(task, task))
    if cls is None:
        raise InputError("task", task, f"choose one of {', '.join(TASKS)}")
    return cls


def request_from_dict(data: dict[str, Any]) -> GenerationRequest:
    """Build a request from a dict (sidecar, YAML, UI), typed by its fields. Unknown keys are rejected, not
    silently dropped; ranges are left to ``validate()``."""
    data = dict(data)
    cls = request_type(str(data.pop("task", "text2music")))
    return from_mapping(cls, data, what=f"field for task '{cls.task}'")
