"""The generation form the tabs and API endpoints share: its common components, with defaults from the request
dataclasses, and the parsing of Gradio's form values into request fields (presets: workbench.core.genres)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import gradio as gr

from workbench.core.errors import InputError
from workbench.core.keyscale import KEYSCALES
from workbench.engine.requests import TIME_SIGNATURES, LoraRef

KEYS = KEYSCALES
AUTO = "auto"
AUDIO_FORMATS = ("wav", "flac", "mp3")
DEFAULT_FORMAT = AUDIO_FORMATS[0]
LORA_SUFFIXES = (".safetensors",)
# Where the faces start and a request dataclass has no (or another) default, named once for the tabs and the API.
INSTRUMENTAL_FIRST = True  # most captions describe background music; lyrics are an explicit choice
FIRST_REPAINT_END_S = 1.0  # a one-second repaint window: a quick first try on any source (Repaint.end_s is 0)
FIRST_TARGET_LUFS = -18.0  # MasteringSpec.target_lufs has no default (None keeps the level)


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of a request dataclass, so the faces do not retype it."""
    for f in dataclasses.fields(cls):
        if f.name == name and f.default is not dataclasses.MISSING:
            return f.default
    raise LookupError(f"{cls.__name__}.{name} has no default")


# --- shared components (build them inside the tab's layout) ----------------------------------------------------
def format_choice(label: str = "Output format") -> gr.Radio:
    return gr.Radio(list(AUDIO_FORMATS), value=DEFAULT_FORMAT, label=label)


def key_choice() -> gr.Dropdown:
    return gr.Dropdown([AUTO, *KEYS], value=AUTO, label="Key")


def time_signature_choice() -> gr.Dropdown:
    return gr.Dropdown([AUTO, *TIME_SIGNATURES], value=AUTO, label="Time sig.")


def seed_number(label: str, elem_id: str) -> gr.Number:
    """The seed field of every tab: a whole Number; empty (shown as "random", never as 0) means a random seed."""
    return gr.Number(None, label=label, precision=0, placeholder="random", elem_id=elem_id)


def seed_steps_format(seed_label: str, seed_id: str) -> tuple[gr.Number, gr.Number, gr.Radio]:
    """The row the source tasks share: seed, steps (empty = the model's default) and output format."""
    with gr.Row():
        seed = seed_number(seed_label, seed_id)
        steps = gr.Number(None, label="Steps", precision=0, placeholder="model default")
        audio_format = format_choice()
    return seed, steps, audio_format


# --- form values -> request fields -----------------------------------------------------------------------------


def optional_int(field: str, value: Any, *, zero_is_none: bool = False) -> int | None:
    """Gradio Number gives None, floats or (via the API) strings; the requests want int or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    exact = _exact_int(value)  # ints (and integer text) never pass through float: 2**53 + 1 stays itself
    if exact is not None:
        return None if zero_is_none and exact == 0 else exact
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, "must be a whole number, or empty") from None
    if not math.isfinite(number) or number != int(number):
        raise InputError(field, value, "must be a whole number, or empty")
    if zero_is_none and number == 0:
        return None
    return int(number)


def _exact_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,30}\s*", value):
        return int(value)
    return None


def optional_float(field: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, "must be a number, or empty") from None


def choice_or_none(value: Any) -> str | None:
    return None if value in (None, "", AUTO) else str(value)


def scan_loras(folder: Path) -> list[str]:
    """Adapter names in the LoRA folder: sub-folders (diffusers/PEFT layouts) and .safetensors files."""
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.iterdir() if p.is_dir() or p.suffix in LORA_SUFFIXES]
    return sorted(n for n in names if not n.startswith("."))


def lora_from_name(folder: Path, name: str | None, scale: Any) -> LoraRef | None:
    """A LoRA picked by name from the LoRA folder. Names only: a path cannot escape the folder."""
    if not name:
        return None
    if name not in scan_loras(folder):
        raise InputError(
            "lora",
            name,
            f"not in the LoRA folder {folder}; available: {', '.join(scan_loras(folder)) or 'none'}",
        )
    return LoraRef(str(folder / name), float(scale if scale is not None else 1.0))


def lora_from_path(path: str, scale: Any) -> LoraRef | None:
    path = (path or "").strip()
    if not path:
        return None
    return LoraRef(path, float(scale if scale is not None else 1.0))


def common_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The request fields every task shares, from a dict of form values keyed by request field names."""
    seed = None if values.get("random_seed") else optional_int("seed", values.get("seed"))
    return dict(
        prompt=str(values.get("prompt") or ""),
        lyrics=str(values.get("lyrics") or ""),
        instrumental=bool(values.get("instrumental", False)),
        bpm=optional_int("bpm", values.get("bpm"), zero_is_none=True),
        keyscale=choice_or_none(values.get("keyscale")),
        time_signature=choice_or_none(values.get("time_signature")),
        # Gradio shows an empty Number as 0; 0 steps or shift is never valid, so it means "model default" here.
        steps=optional_int("steps", values.get("steps"), zero_is_none=True),
        guidance_scale=optional_float("guidance_scale", values.get("guidance_scale")),
        shift=optional_float("shift", values.get("shift")) or None,
        seed=seed,
        genre=choice_or_none(values.get("genre")),
    )


def check_format(value: Any) -> str:
    fmt = str(value or DEFAULT_FORMAT)
    if fmt not in AUDIO_FORMATS:
        raise InputError("output_format", value, f"choose one of {', '.join(AUDIO_FORMATS)}")
    return fmt


def parse_strengths(text: str) -> list[float]:
    """'0.2, 0.5, 0.8' -> [0.2, 0.5, 0.8]; each within 0..1, at most 5."""
    items = [t for t in str(text or "").replace(";", ",").split(",") if t.strip()]
    if not items:
        raise InputError("strengths", text, "give one or more strengths between 0 and 1, e.g. 0.2, 0.5, 0.8")
    out = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise InputError("strengths", item, "each strength must be a number between 0 and 1") from None
        if not 0.0 <= value <= 1.0:
            raise InputError("strengths", value, "each strength must be between 0 and 1")
        out.append(value)
    if len(out) > 5:
        raise InputError("strengths", text, "at most 5 strengths per sweep")
    return out
