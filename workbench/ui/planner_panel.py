"""The LM panel of the Generate tab: Think on/off and the LM, Simple mode ("describe the track"), Format and
Understand, each filling the tab's caption, lyrics and metadata for the user to edit, with a note of the fields
the LM chose. Every call goes through ``ctx.workbench``."""

from __future__ import annotations

import dataclasses
from typing import Any

import gradio as gr

from workbench.engine.requests import Text2Music
from workbench.planner.plans import (
    DEFAULT_LM,
    LYRICS_TOKENS,
    FormatRequest,
    SampleRequest,
    ThinkOptions,
    UnderstandRequest,
    Written,
)
from workbench.planner.registry import load_lm_registry
from workbench.ui import forms
from workbench.ui.context import TabContext, ui_errors

# The Generate form fields the LM's writing fills, in this order.
FILLED = ("prompt", "lyrics", "bpm", "keyscale", "time_signature", "duration_s")
_NAMES = {"caption": "caption", "bpm": "BPM", "duration": "duration", "keyscale": "key",
          "language": "language", "timesignature": "time signature"}  # fmt: skip


def build(ctx: TabContext, form: dict[str, Any]) -> dict[str, Any]:
    """Lay the panel out and wire its buttons to ``form``; returns the fields Generate reads (think, lm, ...)."""
    lms = list(load_lm_registry())
    with gr.Accordion("LM planner (5 Hz LM)", open=False, elem_id="gen-lm-panel"):
        with gr.Row():
            think = gr.Checkbox(False, label="Think: let the LM plan", elem_id="gen-think")
            lm = gr.Dropdown(
                lms, value=DEFAULT_LM if DEFAULT_LM in lms else lms[0], label="LM", elem_id="gen-lm"
            )
            auto_duration = gr.Checkbox(False, label="LM picks the duration", elem_id="gen-lm-duration")
            lyrics_tokens = gr.Number(
                LYRICS_TOKENS, label="Longest lyrics (tokens)", precision=0, elem_id="gen-lm-tokens"
            )
        with gr.Row():
            query = gr.Textbox(label="Describe the track (Simple mode)", scale=4, elem_id="gen-lm-query")
            language = gr.Textbox(
                "",
                label="Vocal language",
                placeholder="e.g. en (empty: the LM picks)",
                scale=1,
                elem_id="gen-lm-language",
            )
            simple = gr.Button("Write the song", elem_id="gen-lm-simple")
        with gr.Row():
            fmt = gr.Button("Format caption + lyrics", elem_id="gen-lm-format")
            audio = gr.Audio(type="filepath", label="Understand: describe this audio", elem_id="gen-lm-audio")
            understand = gr.Button("Understand", elem_id="gen-lm-understand")
        note = gr.Markdown(elem_id="gen-lm-note")
    filled = [form[name] for name in FILLED]
    common = [lm, lyrics_tokens]
    outputs = [*filled, note]

    def on_simple(lm_name: str, tokens: Any, text: str, instrumental: bool, lang: str) -> list[Any]:
        return write_song(ctx, lm_name, tokens, text, instrumental, lang)

    def on_format(lm_name: str, tokens: Any, *values: Any) -> list[Any]:
        return format_inputs(ctx, lm_name, tokens, *values)

    def on_understand(lm_name: str, tokens: Any, path: str | None) -> list[Any]:
        return describe(ctx, lm_name, tokens, path)

    simple.click(
        ui_errors(on_simple),
        [*common, query, form["instrumental"], language],
        outputs,
        api_visibility="private",
    )
    fmt.click(
        ui_errors(on_format),
        [*common, *filled],
        outputs,
        api_visibility="private",
    )
    understand.click(ui_errors(on_understand), [*common, audio], outputs, api_visibility="private")
    return {"think": think, "lm": lm, "lm_auto_duration": auto_duration, "lm_lyrics_tokens": lyrics_tokens}


def write_song(
    ctx: TabContext, lm_name: str, tokens: Any, text: str, instrumental: bool, lang: str
) -> list[Any]:
    request = SampleRequest(
        query=str(text or ""),
        instrumental=bool(instrumental),
        language=str(lang or "").strip() or None,
        lm=lm_name,
        lyrics_tokens=_tokens(tokens),
    )
    return _fill(ctx.workbench.sample_song(request))


def format_inputs(ctx: TabContext, lm_name: str, tokens: Any, *values: Any) -> list[Any]:
    v = dict(zip(FILLED, values, strict=True))
    request = FormatRequest(
        caption=str(v["prompt"] or ""),
        lyrics=str(v["lyrics"] or ""),
        bpm=forms.optional_int("bpm", v["bpm"], zero_is_none=True),
        keyscale=forms.choice_or_none(v["keyscale"]),
        time_signature=forms.choice_or_none(v["time_signature"]),
        lm=lm_name,
        lyrics_tokens=_tokens(tokens),
    )
    return _fill(ctx.workbench.format_inputs(request))


def describe(ctx: TabContext, lm_name: str, tokens: Any, path: str | None) -> list[Any]:
    if not path:
        raise gr.Error("upload an audio file to understand")
    request = UnderstandRequest(audio_path=path, lm=lm_name, lyrics_tokens=_tokens(tokens))
    return _fill(ctx.workbench.understand(request))


def _tokens(value: Any) -> int:
    return forms.optional_int("lm_lyrics_tokens", value) or LYRICS_TOKENS


def _fill(written: Written) -> list[Any]:
    m = written.metadata
    chosen = ", ".join(_NAMES[f] for f in written.chosen) or "nothing"
    note = f"**The LM chose:** {chosen}. Edit anything before generating."
    return [written.caption, written.lyrics, m.bpm, m.keyscale, m.time_signature, m.duration_s, note]


def think_options(values: dict[str, Any]) -> ThinkOptions | None:
    """Generate's Think setting from the form (None: the DiT alone)."""
    return ThinkOptions(lm=str(values["lm"])) if values.get("think") else None


def request_for(request: Text2Music, values: dict[str, Any]) -> Text2Music:
    """With Think and "LM picks the duration", the slider's value is left to the LM."""
    if values.get("think") and values.get("lm_auto_duration"):
        return dataclasses.replace(request, duration_s=None)
    return request


def plan_note(run: Any) -> str:
    """A line for Generate's status: what the LM planned and which of it it chose."""
    plan = getattr(run, "plan", None)
    if plan is None:
        return ""
    m = plan.metadata
    chosen = ", ".join(_NAMES[f] for f in plan.chosen) or "nothing (all fields were given)"
    return (
        f"  \nLM plan ({plan.lm['name']}): {m.bpm} BPM · {m.keyscale} · {m.time_signature}/4 · "
        f"{m.duration_s:g} s · {plan.code_count} codes; the LM chose: {chosen}"
    )
