"""Auto-label: the 5 Hz LM's Understand (audio -> the pipeline's audio tokenizer -> 5 Hz codes -> LM -> caption
and metadata) fills a clip's empty caption, bpm, key and time signature. A value the user gave is never changed;
every filled one is listed in the record's ``estimated`` and the LM that wrote it in ``labelled_by``.

Opt-in (``workbench lora prepare --auto-label``, the LoRA tab's "Auto-label" box): it loads the DiT and the LM and
costs one LM turn per clip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABELLED = ("caption", "bpm", "key", "time_signature")  # the fields the LM may fill
# Understand also writes lyrics; a dataset never takes them (a guess at the words is no label to train on), so the
# LM's turn ends after one lyric token.
LYRICS_TOKENS = 1


@dataclass(frozen=True)
class Label:
    """What the LM heard in one clip, in the dataset's field names."""

    caption: str
    bpm: int | None
    key: str | None
    time_signature: str | None
    lm: str  # "name@revision" of the LM that wrote it


Labeller = Callable[[Path], Label]


def understand_labeller(
    engine: Any, planner: Any, lm: str, *, seed: int = 0, caption_tokens: int | None = None
) -> Labeller:
    """A labeller on ``engine``'s audio tokenizer and ``planner``'s LM (the same two steps as
    ``Workbench.understand``); a fixed seed, so rebuilding a dataset labels it the same way."""
    from workbench.planner.audio_codes import audio_to_codes
    from workbench.planner.plans import CAPTION_TOKENS, UnderstandRequest

    def label(path: Path) -> Label:
        codes = audio_to_codes(engine, path)
        asked = UnderstandRequest(
            codes=codes,
            lm=lm,
            seed=seed,
            lyrics_tokens=LYRICS_TOKENS,
            caption_tokens=CAPTION_TOKENS if caption_tokens is None else caption_tokens,
        )
        written = planner.understand(asked)
        m = written.metadata
        info = written.lm or {}
        return Label(
            caption=written.caption.strip(),
            bpm=m.bpm,
            key=m.keyscale or None,
            time_signature=m.time_signature or None,
            lm=f"{info.get('name', lm)}@{info.get('revision', '')}".rstrip("@"),
        )

    return label


def fill(given: dict[str, Any], label: Label) -> tuple[dict[str, Any], list[str]]:
    """``given`` with its empty LABELLED fields taken from ``label``; returns (values, the fields filled)."""
    out = dict(given)
    filled = []
    for name in LABELLED:
        value = getattr(label, name)
        if _empty(out.get(name)) and not _empty(value):
            out[name] = value
            filled.append(name)
    return out, filled


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
