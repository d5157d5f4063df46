"""Generate tab: caption / lyrics / genre presets / musical and sampler settings -> takes with their recipes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from workbench.core.errors import InputError
from workbench.core.genres import GenrePreset, load_genres
from workbench.engine.requests import (
    DEFAULT_DURATION_S,
    MAX_DURATION_S,
    MIN_DURATION_S,
    LoraRef,
    Text2Music,
    request_from_dict,
)
from workbench.ui import forms, planner_panel
from workbench.ui.context import GpuJob, TabContext, lora_label, ui_errors
from workbench.ui.results import ResultCard, card_values, result_card

TAB_ID = "generate"
LABEL = "Generate"
NEEDS_MODEL = True
MODES = ("full",)
LORA_SCALE_RANGE = (-2.0, 4.0)
# The settings "Reuse settings" (and History / LoRA "send to Generate") fill, in this order.
REUSE_FIELDS = (
    "prompt",
    "lyrics",
    "instrumental",
    "duration_s",
    "bpm",
    "keyscale",
    "time_signature",
    "steps",
    "guidance_scale",
    "shift",
    "seed",
    "random_seed",
    "batch_size",
    "genre",
    "lora_path",
    "lora_scale",
    "target_lufs",
)
# What a genre preset fills: form field -> preset attribute.
PRESET_FIELDS = {
    "prompt": "caption",
    "bpm": "bpm",
    "keyscale": "key",
    "time_signature": "time_signature",
    "duration_s": "duration_s",
    "instrumental": "instrumental",
    "target_lufs": "loudness_lufs",
}


@dataclass
class GenerateComponents:
    form: dict[str, Any]  # request-field name -> component (the job's set-inputs)
    lora_refresh: Any
    run: Any
    cancel: Any
    status: Any
    cards: list[ResultCard]
    last_lora: Any = None  # gr.State: this session's last run's LoRA, for the status line

    def fields(self, names: tuple[str, ...] | list[str]) -> list[Any]:
        return [self.form[name] for name in names]

    @property
    def outputs(self) -> list[Any]:
        return [self.status] + [c for card in self.cards for c in card.outputs] + [self.last_lora]


def _known_defaults(ctx: TabContext) -> tuple[int | None, float | None, float | None]:
    """Per-variant steps / guidance / shift without waiting for the load: the registry knows them."""
    if ctx.engine.loaded:
        info = ctx.engine.info
        return info.steps, info.guidance_scale, info.shift
    from workbench.engine.models import load_registry

    spec = load_registry().get(ctx.engine.model_name)
    return (spec.steps, spec.guidance_scale, spec.shift) if spec else (None, None, None)


# --- layout ----------------------------------------------------------------------------------------------------
def _text_column(genres: dict[str, GenrePreset]) -> dict[str, Any]:
    genre = gr.Dropdown(
        [("— no preset —", "")] + [(g.label, k) for k, g in genres.items()],
        value="",
        label="Genre preset",
        info="fills caption, tempo, key, duration and loudness target",
        elem_id="gen-genre",
    )
    prompt = gr.Textbox(
        label="Caption",
        lines=3,
        elem_id="gen-caption",
        placeholder="style, instruments, mood — e.g. warm lounge jazz, soft piano",
    )
    instrumental = gr.Checkbox(
        forms.INSTRUMENTAL_FIRST, label="Instrumental (no vocals)", elem_id="gen-instrumental"
    )
    lyrics = gr.Textbox(
        label="Lyrics",
        lines=5,
        interactive=not forms.INSTRUMENTAL_FIRST,
        elem_id="gen-lyrics",
        placeholder="[verse]\n…\n[chorus]\n…  (untick Instrumental to write lyrics)",
    )
    return {"genre": genre, "prompt": prompt, "instrumental": instrumental, "lyrics": lyrics}


def _music_rows(ctx: TabContext) -> dict[str, Any]:
    form: dict[str, Any] = {}
    # A Number, not a Slider: the slider's box silently clamps a typed 0 or 9999 in the browser; out-of-range
    # values must reach the request's check and come back as an error naming the allowed range.
    form["duration_s"] = gr.Number(
        DEFAULT_DURATION_S,
        label="Duration (s)",
        info=f"{MIN_DURATION_S:g}–{MAX_DURATION_S:g} s",
        elem_id="gen-duration",
    )
    with gr.Row():
        form["bpm"] = gr.Number(
            None, label="BPM", placeholder="model decides", precision=0, elem_id="gen-bpm"
        )
        form["keyscale"] = forms.key_choice()
        form["time_signature"] = forms.time_signature_choice()
    steps, guidance, shift = _known_defaults(ctx)
    with gr.Row():
        form["steps"] = gr.Number(steps, label="Steps", precision=0, elem_id="gen-steps")
        form["guidance_scale"] = gr.Number(guidance, label="Guidance", elem_id="gen-guidance")
        form["shift"] = gr.Number(shift, label="Shift", elem_id="gen-shift")
    with gr.Row():
        form["seed"] = forms.seed_number("Seed", "gen-seed")
        form["random_seed"] = gr.Checkbox(True, label="Random seed", elem_id="gen-random-seed")
        form["batch_size"] = gr.Slider(
            1,
            ctx.settings.max_result_slots,
            value=forms.default_of(Text2Music, "batch_size"),
            step=1,
            label="Takes",
            elem_id="gen-batch",
        )
    return form


def _lora_rows(ctx: TabContext) -> tuple[dict[str, Any], Any]:
    with gr.Row():
        lora = gr.Dropdown(
            ["", *forms.scan_loras(ctx.loras_dir)],
            value="",
            label="LoRA",
            info=f"from {ctx.loras_dir}",
            allow_custom_value=False,
        )
        refresh = gr.Button("↻", size="sm", scale=0, min_width=40)
        scale = gr.Slider(
            *LORA_SCALE_RANGE, value=forms.default_of(LoraRef, "scale"), step=0.05, label="LoRA scale"
        )
    path = gr.Textbox(label="…or LoRA path", placeholder="/path/to/adapter or a .safetensors file")
    with gr.Row():
        audio_format = forms.format_choice("Output format")
        target = gr.Number(
            None,
            label="Loudness target (LUFS)",
            placeholder="none",
            info="from the genre; shown in the summary",
            elem_id="gen-target",
        )
    form = {
        "lora": lora,
        "lora_scale": scale,
        "lora_path": path,
        "audio_format": audio_format,
        "target_lufs": target,
    }
    return form, refresh


def _layout(ctx: TabContext, genres: dict[str, GenrePreset]) -> GenerateComponents:
    with gr.Row():
        with gr.Column(scale=3):
            form = _text_column(genres)
        with gr.Column(scale=2):
            form |= _music_rows(ctx)
            lora_form, lora_refresh = _lora_rows(ctx)
            form |= lora_form
    form |= planner_panel.build(ctx, form)
    with gr.Row():
        run = gr.Button("Generate", variant="primary", elem_id="gen-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="gen-cancel")
    status = gr.Markdown(elem_id="gen-status")
    cards = [result_card(ctx, "gen", i) for i in range(ctx.settings.max_result_slots)]
    return GenerateComponents(form, lora_refresh, run, cancel, status, cards, gr.State("none"))


# --- handlers --------------------------------------------------------------------------------------------------
def apply_genre(genres: dict[str, GenrePreset], key: str) -> list[Any]:
    preset = genres.get(key)
    if preset is None:
        return [gr.skip()] * len(PRESET_FIELDS)
    return [getattr(preset, attr) for attr in PRESET_FIELDS.values()]


def request_of(ctx: TabContext, values: dict[str, Any]) -> Text2Music:
    """The form as a request; what the request itself does not refuse but the form must is checked here."""
    if not str(values.get("prompt") or "").strip():
        raise InputError(
            "caption", "", "describe the music (style, instruments, mood), or pick a genre preset"
        )
    duration = values["duration_s"]
    if duration is None:
        span = f"between {MIN_DURATION_S:g} and {MAX_DURATION_S:g} seconds"
        raise InputError("duration_s", None, f"enter a duration {span}")
    scale = values["lora_scale"]
    lora = forms.lora_from_path(values["lora_path"], scale) or forms.lora_from_name(
        ctx.loras_dir, values["lora"], scale
    )
    return Text2Music(
        **forms.common_fields(values),
        duration_s=float(duration),
        batch_size=int(values["batch_size"]),
        lora=lora,
    )


def generate(ctx: TabContext, values: dict[str, Any], job: GpuJob, *, cards: list[ResultCard]) -> list[Any]:
    fmt = forms.check_format(values["audio_format"])
    request = planner_panel.request_for(request_of(ctx, values), values)
    run = ctx.workbench.generate(
        request, audio_format=fmt, think=planner_panel.think_options(values), **job.hooks
    )
    result = run.result
    if not result.ok:
        return [
            f"**Cancelled** after {result.steps_done} of {result.request.steps} steps; nothing was saved."
        ] + [gr.skip()] * (len(cards) * len(cards[0].outputs) + 1)
    target = forms.optional_float("target_lufs", values["target_lufs"]) or None  # empty Number reads 0
    out: list[Any] = [
        f"**Done:** {len(result.takes)} take(s) in {result.timings.get('total_s', 0):.1f} s · "
        f"{result.request.steps} steps · seed {result.request.seed}"
        + "".join(f"  \nnote: {n}" for n in result.notes)
        + planner_panel.plan_note(run)
    ]
    for i, card in enumerate(cards):
        out += (
            card_values(ctx, result, run.takes[i], target_lufs=target)
            if i < len(run.takes)
            else card.hidden()
        )
    used = result.lora if result.request.lora is not None else None
    scale = result.request.lora.scale if result.request.lora is not None else 1.0
    return [*out, "none" if used is None else lora_label(used.source, used.rank, scale)]


def reuse(genres: dict[str, GenrePreset], payload: dict[str, Any] | None) -> list[Any]:
    """A take's recipe back into the form (values in ``REUSE_FIELDS`` order, then the status line).

    The take's own seed (not its batch's first seed) with one take, so Generate makes that take again. The genre
    is shown but its preset is not applied: the recipe's caption, duration and tempo win (the Genre dropdown
    applies a preset only when a person picks one, on ``.input``).
    """
    if not payload or not payload.get("request"):
        raise gr.Error("No settings to reuse yet.")
    r = request_from_dict(payload["request"])
    lora = r.lora or LoraRef("", forms.default_of(LoraRef, "scale"))
    seed = payload.get("seed")
    preset = genres.get(r.genre or "")
    values = {
        "prompt": r.prompt,
        "lyrics": r.lyrics,
        "instrumental": r.instrumental,
        "duration_s": r.duration_s or DEFAULT_DURATION_S,
        "bpm": r.bpm,
        "keyscale": r.keyscale or forms.AUTO,
        "time_signature": r.time_signature or forms.AUTO,
        "steps": r.steps,
        "guidance_scale": r.guidance_scale,
        "shift": r.shift,
        "seed": r.seed if seed is None else seed,
        "random_seed": False,
        "batch_size": 1,
        "genre": r.genre or "",
        "lora_path": lora.path,
        "lora_scale": lora.scale,
        "target_lufs": preset.loudness_lufs if preset else None,  # the summary's target, as when it was made
    }
    source = f"run `{payload['run_id']}`" if payload.get("run_id") else "the recipe"
    note = f" Genre **{preset.label}** is shown as it was; its preset was not re-applied." if preset else ""
    status = f"Settings of {source} loaded (seed {values['seed']}, 1 take).{note}"
    return [*(values[name] for name in REUSE_FIELDS), status]


# --- wiring ----------------------------------------------------------------------------------------------------
def _wire_form(ctx: TabContext, c: GenerateComponents, genres: dict[str, GenrePreset]) -> None:
    # .input, not .change: a preset is applied only when a person picks it, never when Reuse / History's reload
    # sets the dropdown (that would overwrite the restored caption, duration and tempo).
    c.form["genre"].input(
        lambda key: apply_genre(genres, key),
        c.form["genre"],
        c.fields(list(PRESET_FIELDS)),
        api_visibility="private",
        queue=False,
    )
    c.form["instrumental"].change(
        lambda on: gr.Textbox(interactive=not on),
        c.form["instrumental"],
        c.form["lyrics"],
        api_visibility="private",
        queue=False,
    )

    def loras() -> Any:
        return gr.Dropdown(choices=["", *forms.scan_loras(ctx.loras_dir)])

    c.lora_refresh.click(loras, None, c.form["lora"], api_visibility="private", queue=False)
    ctx.on_page_load([c.form["lora"]], loras)  # adapters installed since the app was built


def _wire(ctx: TabContext, c: GenerateComponents, genres: dict[str, GenrePreset]) -> None:
    _wire_form(ctx, c, genres)

    run = functools.partial(generate, cards=c.cards)
    ctx.gpu_action(TAB_ID, c.run, c.cancel, run, c.form, c.outputs, status=c.status).then(
        ctx.model.status_line, c.last_lora, ctx.status, queue=False, api_visibility="private"
    )
    reuse_outputs = [*c.fields(REUSE_FIELDS), c.status]
    restore = functools.partial(reuse, genres)
    for card in c.cards:
        if card.reuse is not None:
            card.reuse.click(
                ui_errors(restore), card.payload, reuse_outputs, queue=False, api_visibility="private"
            )
    if _known_defaults(ctx)[0] is None:  # a folder or hub id: its variant is known only once it is loaded

        def model_defaults() -> list[Any]:
            info = ctx.engine.info
            return [info.steps, info.guidance_scale, info.shift]

        ctx.on_model_ready(c.fields(("steps", "guidance_scale", "shift")), model_defaults)
    # History's "reload settings" lands here.
    ctx.send.receiver("generate", reuse_outputs, restore, TAB_ID)


def build(ctx: TabContext) -> None:
    genres = load_genres()
    _wire(ctx, _layout(ctx, genres), genres)
