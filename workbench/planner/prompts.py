"""The LM's prompts, written as ACE-Step 1.5 writes them, and reading its metadata block back.

Every template follows ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py (the ``build_formatted_prompt*``
methods) with the instructions of ace-step/ACE-Step-1.5@f30aee4:acestep/constants.py (``DEFAULT_LM_*``). The
chat format is the LM tokenizer's own chat template (``apply_chat_template``), as upstream renders it. A change
to any of them must bump ``TEMPLATES_VERSION``: it is recorded with every plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TEMPLATES_VERSION = "ace-step-1.5@f30aee4/1"
NO_INPUT = "NO USER INPUT"  # upstream's default negative prompt and empty-input placeholder

# ace-step/ACE-Step-1.5@f30aee4:acestep/constants.py
GENERATE_INSTRUCTION = "Generate audio semantic tokens based on the given conditions:"
UNDERSTAND_INSTRUCTION = (
    "Understand the given musical conditions and describe the audio semantics accordingly:"
)
INSPIRE_INSTRUCTION = "Expand the user's input into a more detailed and specific musical description:"
REWRITE_INSTRUCTION = "Format the user's input into a more detailed and specific musical description:"

# The order the metadata block is written in: yaml.dump(sort_keys=True) of these keys
# (ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py ``_format_metadata_as_cot``).
COT_FIELDS = ("bpm", "caption", "duration", "keyscale", "language", "timesignature")

Messages = list[dict[str, str]]


def _system(instruction: str) -> dict[str, str]:
    return {"role": "system", "content": f"# Instruction\n{instruction}\n\n"}


def meaningful_negative(negative_prompt: str) -> bool:
    return bool(negative_prompt.strip()) and negative_prompt.strip() != NO_INPUT


def think_messages(caption: str, lyrics: str) -> Messages:
    """Phase 1 (the metadata block), conditional prompt."""
    return [
        _system(GENERATE_INSTRUCTION),
        {"role": "user", "content": f"# Caption\n{caption}\n\n# Lyric\n{lyrics}\n"},
    ]


def think_negative_messages(lyrics: str, negative_prompt: str) -> Messages:
    """Phase 1, unconditional prompt for LM CFG: the negative prompt as caption, or no caption at all."""
    if meaningful_negative(negative_prompt):
        user = f"# Caption\n{negative_prompt}\n\n# Lyric\n{lyrics}\n"
    else:
        user = f"# Lyric\n{lyrics}\n"
    return [_system(GENERATE_INSTRUCTION), {"role": "user", "content": user}]


def codes_messages(caption: str, lyrics: str, cot: str) -> Messages:
    """Phase 2 (the codes): the metadata block sits in the assistant's turn and the codes continue it."""
    return [
        _system(GENERATE_INSTRUCTION),
        {"role": "user", "content": f"# Caption\n{caption}\n\n# Lyric\n{lyrics}\n"},
        {"role": "assistant", "content": cot},
    ]


def codes_negative_messages(caption: str, lyrics: str, negative_prompt: str) -> Messages:
    """Phase 2, unconditional prompt: an empty metadata block; the negative prompt replaces the caption."""
    shown = negative_prompt if meaningful_negative(negative_prompt) else caption
    return codes_messages(shown, lyrics, "<think>\n</think>")


def understand_messages(codes: str) -> Messages:
    return [_system(UNDERSTAND_INSTRUCTION), {"role": "user", "content": codes}]


def sample_messages(query: str, instrumental: bool) -> Messages:
    flag = "true" if instrumental else "false"
    return [_system(INSPIRE_INSTRUCTION), {"role": "user", "content": f"{query}\n\ninstrumental: {flag}"}]


def format_messages(caption: str, lyrics: str) -> Messages:
    return [
        _system(REWRITE_INSTRUCTION),
        {"role": "user", "content": f"# Caption\n{caption}\n\n# Lyric\n{lyrics}"},
    ]


def render(tokenizer: Any, messages: Messages) -> str:
    """The chat-formatted prompt. A conversation ending in the assistant's turn is continued (the codes phase),
    so it gets no generation prompt and ends on a newline, as upstream's ``build_formatted_prompt_with_cot``."""
    continued = messages[-1]["role"] == "assistant"
    text = str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=not continued))
    if continued and not text.endswith("\n"):
        text += "\n"
    return text


def cot_text(metadata: dict[str, Any]) -> str:
    """The metadata block as the LM was trained to see it: YAML with sorted keys inside <think> tags."""
    import yaml

    items: dict[str, Any] = {}
    for key in COT_FIELDS:
        value = metadata.get(key)
        if value is None:
            continue
        if key == "timesignature" and isinstance(value, str) and value.endswith("/4"):
            value = value.split("/")[0]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        items[key] = value
    body = yaml.safe_dump(items, allow_unicode=True, sort_keys=True).strip() if items else ""
    return f"<think>\n{body}\n</think>"


@dataclass(frozen=True)
class LmOutput:
    """What a decoded LM turn said: its metadata block (as text values) and the text after it."""

    fields: dict[str, str]
    after: str


_LYRIC_HEADER = re.compile(r"^#\s*Lyrics?\s*\n", re.IGNORECASE)


def read_output(text: str) -> LmOutput:
    """Split an LM turn into ``key: value`` metadata and the text after ``</think>`` (lyrics, for format,
    sample and understand), without the "# Lyric" header and the end-of-turn token."""
    head, _, after = text.partition("</think>")
    fields: dict[str, str] = {}
    for line in head.replace("<think>", "").split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip() in COT_FIELDS:
            fields[key.strip()] = value.strip()
    after = after.replace("<|im_end|>", "").replace("<|endoftext|>", "").strip()
    return LmOutput(fields, _LYRIC_HEADER.sub("", after).strip())
