"""Generate tab: caption / lyrics / genre presets / musical and sampler settings -> takes with their recipes."""

from __future__ import annotations

from typing import Any

# Module level, not inside build(): Gradio resolves gr.Request / gr.SelectData annotations through the
# module globals, and with postponed annotations a local import leaves them unresolvable (never injected).
import gradio as gr

from workbench.core.genres import load_genres
from workbench.engine.requests import DEFAULT_DURATION_S, MAX_DURATION_S, Text2Music
from workbench.ui import forms
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, progress_adapter, session_key, ui_errors
from workbench.ui.results import card_values, result_card

TAB_ID = "generate"
LABEL = "Generate"
NEEDS_MODEL = True
MODES = ("full",)


def _known_defaults(ctx: TabContext) -> tuple[int | None, float | None, float | None]:
    """Per-variant steps / guidance / shift without waiting for the load: the registry knows them."""
    if ctx.engine.loaded:
        info = ctx.engine.info
        return info.steps, info.guidance_scale, info.shift
    from workbench.engine.models import load_registry

    spec = load_registry().get(ctx.engine.model_name)
    return (spec.steps, spec.guidance_scale, spec.shift) if spec else (None, None, None)


def build(ctx: TabContext) -> None:
    genres = load_genres()
    slots = ctx.settings.max_result_slots
    with gr.Row():
        with gr.Column(scale=3):
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
            instrumental = gr.Checkbox(True, label="Instrumental (no vocals)", elem_id="gen-instrumental")
            lyrics = gr.Textbox(
                label="Lyrics",
                lines=5,
                interactive=False,
                elem_id="gen-lyrics",
                placeholder="[verse]\n…\n[chorus]\n…  (untick Instrumental to write lyrics)",
            )
        with gr.Column(scale=2):
            duration = gr.Slider(
                1,
                MAX_DURATION_S,
                value=DEFAULT_DURATION_S,
                step=1,
                label="Duration (s)",
                elem_id="gen-duration",
            )
            with gr.Row():
                bpm = gr.Number(None, label="BPM", info="empty = model decides", precision=0, minimum=0)
                keyscale = forms.key_choice()
                time_signature = forms.time_signature_choice()
            defaults = _known_defaults(ctx)
            with gr.Row():
                steps = gr.Number(defaults[0], label="Steps", precision=0, elem_id="gen-steps")
                guidance = gr.Number(defaults[1], label="Guidance", elem_id="gen-guidance")
                shift = gr.Number(defaults[2], label="Shift", elem_id="gen-shift")
            with gr.Row():
                seed = gr.Number(None, label="Seed", precision=0, elem_id="gen-seed")
                random_seed = gr.Checkbox(True, label="Random seed", elem_id="gen-random-seed")
                batch = gr.Slider(1, slots, value=1, step=1, label="Takes", elem_id="gen-batch")
            with gr.Row():
                lora = gr.Dropdown(
                    ["", *forms.scan_loras(ctx.loras_dir)],
                    value="",
                    label="LoRA",
                    info=f"from {ctx.loras_dir}",
                    allow_custom_value=False,
                )
                lora_refresh = gr.Button("↻", size="sm", scale=0, min_width=40)
                lora_scale = gr.Slider(-2, 4, value=1.0, step=0.05, label="LoRA scale")
            lora_path = gr.Textbox(
                label="…or LoRA path", placeholder="/path/to/adapter or a .safetensors file"
            )
            with gr.Row():
                audio_format = forms.format_choice("Output format")
                target_lufs = gr.Number(
                    None, label="Loudness target (LUFS)", info="from the genre; shown in the summary"
                )
    with gr.Row():
        run = gr.Button("Generate", variant="primary", elem_id="gen-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="gen-cancel")
    status = gr.Markdown(elem_id="gen-status")
    cards = [result_card(ctx, "gen", i) for i in range(slots)]

    fields: dict[str, Any] = {
        "genre": genre,
        "prompt": prompt,
        "instrumental": instrumental,
        "lyrics": lyrics,
        "duration_s": duration,
        "bpm": bpm,
        "keyscale": keyscale,
        "time_signature": time_signature,
        "steps": steps,
        "guidance_scale": guidance,
        "shift": shift,
        "seed": seed,
        "random_seed": random_seed,
        "batch_size": batch,
        "lora": lora,
        "lora_scale": lora_scale,
        "lora_path": lora_path,
        "audio_format": audio_format,
        "target_lufs": target_lufs,
    }
    names = {component: name for name, component in fields.items()}

    def apply_genre(key: str) -> list[Any]:
        preset = genres.get(key)
        if preset is None:
            return [gr.skip()] * 7
        return [
            preset.caption,
            preset.bpm,
            preset.key,
            preset.time_signature,
            preset.duration_s,
            preset.instrumental,
            preset.loudness_lufs,
        ]

    genre.change(
        apply_genre,
        genre,
        [prompt, bpm, keyscale, time_signature, duration, instrumental, target_lufs],
        api_visibility="private",
        queue=False,
    )
    instrumental.change(
        lambda on: gr.Textbox(interactive=not on), instrumental, lyrics, api_visibility="private", queue=False
    )
    lora_refresh.click(
        lambda: gr.Dropdown(choices=["", *forms.scan_loras(ctx.loras_dir)]),
        None,
        lora,
        api_visibility="private",
        queue=False,
    )

    def arm(request: gr.Request) -> str:
        ctx.cancels.arm(session_key(request, TAB_ID))
        return "Queued…"

    @ui_errors
    def ui_generate(
        data: dict[Any, Any], request: gr.Request, progress: gr.Progress = gr.Progress()
    ) -> list[Any]:
        values = {names[c]: v for c, v in data.items()}
        lora_ref = forms.lora_from_path(values["lora_path"], values["lora_scale"]) or forms.lora_from_name(
            ctx.loras_dir, values["lora"], values["lora_scale"]
        )
        req = Text2Music(
            **forms.common_fields(values),
            duration_s=float(values["duration_s"]),
            batch_size=int(values["batch_size"]),
            lora=lora_ref,
        )
        run = ctx.workbench.generate(
            req,
            audio_format=forms.check_format(values["audio_format"]),
            progress=progress_adapter(progress),
            cancel=ctx.cancels.get(session_key(request, TAB_ID)),
        )
        result = run.result
        if not result.ok:
            return [
                f"**Cancelled** after {result.steps_done} of {result.request.steps} steps; nothing was saved."
            ] + [gr.skip()] * (len(cards) * len(cards[0].outputs))
        target = forms.optional_float("target_lufs", values["target_lufs"]) or None  # empty Number reads 0
        out: list[Any] = [
            f"**Done:** {len(result.takes)} take(s) in {result.timings.get('total_s', 0):.1f} s · "
            f"{result.request.steps} steps · seed {result.request.seed}"
            + "".join(f"  \nnote: {n}" for n in result.notes)
        ]
        for i, card in enumerate(cards):
            if i < len(run.takes):
                out += card_values(ctx, result, run.takes[i], target_lufs=target)
            else:
                out += card.hidden()
        return out

    outputs = [status] + [c for card in cards for c in card.outputs]
    run.click(arm, None, status, queue=False, api_visibility="private").then(
        ui_generate,
        inputs=set(fields.values()),
        outputs=outputs,
        concurrency_id=GPU_CONCURRENCY_ID,
        api_visibility="private",
    ).then(ctx.model.status_line, None, ctx.status, queue=False, api_visibility="private")

    def do_cancel(request: gr.Request) -> str:
        stopped = ctx.cancels.cancel(session_key(request, TAB_ID))
        return "Cancelling…" if stopped else "Nothing to cancel."

    cancel.click(do_cancel, None, status, queue=False, api_visibility="private")

    reuse_outputs = [
        prompt,
        lyrics,
        instrumental,
        duration,
        bpm,
        keyscale,
        time_signature,
        steps,
        guidance,
        shift,
        seed,
        random_seed,
        genre,
        lora_path,
        lora_scale,
    ]

    def reuse(payload: dict[str, Any] | None) -> list[Any]:
        if not payload or not payload.get("request"):
            raise gr.Error("No settings to reuse yet.")
        r = payload["request"]
        lora_ref = r.get("lora") or {}
        return [
            r.get("prompt", ""),
            r.get("lyrics", ""),
            r.get("instrumental", False),
            r.get("duration_s") or DEFAULT_DURATION_S,
            r.get("bpm"),
            r.get("keyscale") or forms.AUTO,
            r.get("time_signature") or forms.AUTO,
            r.get("steps"),
            r.get("guidance_scale"),
            r.get("shift"),
            r.get("seed"),
            False,
            r.get("genre") or "",
            lora_ref.get("path", ""),
            lora_ref.get("scale", 1.0),
        ]

    for card in cards:
        assert card.reuse is not None  # result_card(buttons=True) creates it
        card.reuse.click(reuse, card.payload, reuse_outputs, queue=False, api_visibility="private")

    if defaults[0] is None:  # a folder or hub id: its variant is known only once it is loaded

        def model_defaults() -> list[Any]:
            info = ctx.engine.info
            return [info.steps, info.guidance_scale, info.shift]

        ctx.on_model_ready([steps, guidance, shift], model_defaults)
    # History's "reload settings" lands here.
    ctx.send.receiver("generate", reuse_outputs, reuse, TAB_ID)
