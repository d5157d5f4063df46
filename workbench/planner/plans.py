"""The planner's typed inputs and outputs. Every face (UI, CLI, batches, campaigns, the REST API) builds one of the
requests and gets one of the results; ``Plan`` round-trips through the run's sidecar for replay."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.planner.decoding import Sampling

DEFAULT_LM = "lm-1.7B"  # the 1.7B LM is the production setting (and upstream's bundled one)
PlanProgress = Callable[[str, int, int], None]  # (phase, tokens written, tokens at most)

# Free text the LM may write: a caption line and lyrics. Upstream bounds a turn only by the context
# (ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py ``max_model_len - 64``); these keep a turn of a
# wandering LM short. They are recorded with each plan, so replanning writes the same tokens.
CAPTION_TOKENS = 256
LYRICS_TOKENS = 2048
# The DiT reads at most 2048 lyric tokens (ace-step/ACE-Step-1.5@f30aee4:acestep/handler.py, the lyric prompt is
# tokenized with ``max_length=2048``), so longer lyrics would be cut silently after planning.
LYRICS_TOKEN_LIMIT = 2048


@dataclass(frozen=True)
class Metadata:
    """A song's plan-level metadata, as the LM writes it (duration in whole seconds)."""

    bpm: int
    keyscale: str
    time_signature: str
    duration_s: float
    language: str
    caption: str = ""


@dataclass(frozen=True)
class PlanRequest:
    """Think: the caption and what the user fixed; ``None`` fields are the LM's to choose."""

    caption: str
    lyrics: str = ""
    instrumental: bool = False
    bpm: int | None = None
    keyscale: str | None = None
    time_signature: str | None = None
    duration_s: float | None = None
    language: str | None = None
    seed: int = 0
    lm: str = DEFAULT_LM
    sampling: Sampling = field(default_factory=Sampling)
    caption_tokens: int = CAPTION_TOKENS

    @property
    def lyrics_for_lm(self) -> str:
        return "[Instrumental]" if self.instrumental or not self.lyrics.strip() else self.lyrics


@dataclass(frozen=True)
class Plan:
    """What the LM planned: metadata, the fields it chose (the rest were the user's) and the audio codes."""

    metadata: Metadata
    chosen: tuple[str, ...]
    codes: str
    code_count: int
    seed: int
    sampling: Sampling
    lm: dict[str, Any]  # LmInfo.to_dict(): name, folder, revision, device, dtype, max_model_len
    templates_version: str
    caption_tokens: int
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        from workbench.core.config import from_mapping

        return from_mapping(cls, data, what="plan field")


@dataclass(frozen=True)
class FormatRequest:
    """Format (upstream /format_input): caption + lyrics -> an enhanced caption, formatted lyrics, metadata."""

    caption: str
    lyrics: str = ""
    bpm: int | None = None
    keyscale: str | None = None
    time_signature: str | None = None
    duration_s: float | None = None
    language: str | None = None
    temperature: float = 0.85
    seed: int = 0
    lm: str = DEFAULT_LM
    lyrics_tokens: int = LYRICS_TOKENS
    caption_tokens: int = CAPTION_TOKENS


@dataclass(frozen=True)
class SampleRequest:
    """Simple mode (upstream /v1/create_sample): a one-line description -> a whole song's inputs."""

    query: str
    instrumental: bool = False
    language: str | None = None
    temperature: float = 0.85
    seed: int = 0
    lm: str = DEFAULT_LM
    lyrics_tokens: int = LYRICS_TOKENS
    caption_tokens: int = CAPTION_TOKENS


@dataclass(frozen=True)
class UnderstandRequest:
    """Understand: audio codes (or an audio file the engine's audio tokenizer turns into codes) -> caption,
    lyrics and metadata. Temperature 0.3 as upstream's ``understand_audio_from_codes``."""

    codes: str = ""
    audio_path: str = ""
    temperature: float = 0.3
    seed: int = 0
    lm: str = DEFAULT_LM
    lyrics_tokens: int = LYRICS_TOKENS
    caption_tokens: int = CAPTION_TOKENS


@dataclass(frozen=True)
class Written:
    """The result of Format, Simple mode and Understand: song inputs for the user to edit."""

    caption: str
    lyrics: str
    metadata: Metadata
    chosen: tuple[str, ...]  # the fields the LM wrote (the others were given)
    instrumental: bool = False
    lm: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ThinkOptions:
    """How a face asks for Think on a text2music request: which LM and how it samples."""

    lm: str = DEFAULT_LM
    sampling: Sampling = field(default_factory=Sampling)
    caption_tokens: int = CAPTION_TOKENS

    @classmethod
    def from_plan(cls, plan: dict[str, Any], lm: str | None = None) -> ThinkOptions:
        """The options a recorded plan was made with (``--replan``), optionally on another LM."""
        from workbench.core.config import from_mapping

        sampling = from_mapping(Sampling, plan["sampling"], what="plan sampling field")
        return cls(lm=lm or plan["lm"]["name"], sampling=sampling, caption_tokens=int(plan["caption_tokens"]))
