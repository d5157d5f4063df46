"""``/release_task`` bodies, in ACE-Step 1.5's names and aliases, turned into the workbench's typed requests.

The field list and aliases follow ace-step/ACE-Step-1.5@6d467e4:acestep/api/release_task_request_builder.py and
release_task_param_parser.py. Three kinds of names are accepted: fields the workbench runs (``FIELDS``), fields
upstream knows that the workbench does not run (``UNSUPPORTED``, ``LM_FIELDS``: accepted and listed in the reply's
``warnings``, never silently dropped) and nothing else (an error naming the field). ``parse_release`` returns a
``Submission``: a request mapping ``request_from_dict`` rebuilds, validated at once, with the seed fixed, so the
stored task replays exactly even when it resumes after a restart.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.core import audio_io
from workbench.core.errors import InputError
from workbench.engine.requests import LoraRef, request_from_dict, request_type

_SEED_LIMIT = 2**31  # as the engine's own random seeds
NESTED = ("param_obj", "metas", "metadata", "user_metadata")  # upstream reads aliases from these too


@dataclass(frozen=True)
class Field:
    kind: str  # "str", "int", "float", "bool", "seed", "list"
    aliases: tuple[str, ...] = ()
    help: str = ""


# Canonical name -> how it is read. Upstream's names first; workbench names are accepted as aliases.
FIELDS: dict[str, Field] = {
    "prompt": Field("str", ("caption",), "the caption"),
    "lyrics": Field("str", (), "lyrics; empty or [Instrumental] for none"),
    "instrumental": Field("bool", (), "no vocals"),
    "audio_duration": Field(
        "float", ("duration", "audioDuration", "target_duration", "duration_s"), "seconds; empty = default"
    ),
    "bpm": Field("int", (), "beats per minute"),
    "key_scale": Field("str", ("keyscale", "keyScale", "key"), "e.g. 'C major'"),
    "time_signature": Field("str", ("timesignature", "timeSignature"), "2, 3, 4 or 6 (or '4/4')"),
    "vocal_language": Field("str", ("vocalLanguage", "language"), "lyrics language code"),
    "inference_steps": Field("int", ("steps",), "denoising steps; empty = the model's default"),
    "guidance_scale": Field("float", (), "empty = the model's default"),
    "shift": Field("float", (), "timestep shift; empty = the model's default"),
    "seed": Field("seed", (), ">= 0: that seed (takes use seed..seed+N-1); -1: random"),
    "use_random_seed": Field("bool", (), "true: ignore seed and pick one"),
    "batch_size": Field("int", (), "takes per task (default 2, as upstream)"),
    "task_type": Field("str", ("taskType", "task"), "text2music, repaint, cover, extend, lego, extract, ..."),
    "src_audio_path": Field("str", ("ctx_audio_path", "src"), "a file this server wrote or an upload"),
    "reference_audio_path": Field("str", ("ref_audio_path", "reference"), "cover: timbre reference"),
    "repainting_start": Field("float", ("start_s",), "repaint/lego window start, seconds"),
    "repainting_end": Field("float", ("end_s",), "window end, seconds; empty or -1 = end of the source"),
    "audio_cover_strength": Field("float", ("cover_strength", "coverStrength", "strength"), "cover: 0..1"),
    "audio_code_string": Field("str", ("audio_codes", "codes"), "<|audio_code_N|> tokens to render"),
    "track_name": Field("str", ("track",), "lego/extract: the track"),
    "track_classes": Field("list", ("instruments", "tracks"), "complete: the tracks to add"),
    "model": Field("str", ("model_name", "dit_model", "ditModel"), "must name the model this server runs"),
    "thinking": Field("bool", (), "plan with the LM first"),
    "use_format": Field("bool", ("useFormat", "format"), "let the LM format caption and lyrics"),
    "sample_mode": Field("bool", ("sampleMode",), "let the LM write the song from sample_query"),
    "sample_query": Field("str", ("sampleQuery", "description", "desc"), "sample mode: the description"),
    "audio_format": Field("str", (), "wav, flac or mp3 (default mp3, as upstream)"),
    "lora_path": Field(
        "str", (), "adapter for this task: a path under the workbench home or a cached hub id"
    ),
    "lora_name": Field("str", (), "adapter for this task, by name in the LoRA folder"),
    "lora_scale": Field("float", (), "strength of this task's adapter (1.0 = trained)"),
    "extend_side": Field("str", ("side",), "extend: left or right"),
    "extend_s": Field("float", (), "extend: seconds to add"),
    "crossfade_ms": Field("float", (), "repaint/extend edge crossfades"),
    "genre": Field("str", (), "a genre preset name, recorded with the result"),
    "lm_model_path": Field("str", ("lm_model", "lm"), "the LM that plans (default: the server's --lm)"),
    "lm_temperature": Field("float", (), "LM sampling temperature (default 0.85)"),
    "lm_cfg_scale": Field("float", (), "LM classifier-free guidance (default 2.5; 1 = off)"),
    "lm_top_k": Field("int", (), "LM top-k (default off)"),
    "lm_top_p": Field("float", (), "LM top-p (default 0.9)"),
    "lm_repetition_penalty": Field("float", (), "LM repetition penalty (default 1.0)"),
    "lm_negative_prompt": Field("str", (), "LM guidance's negative prompt (default 'NO USER INPUT')"),
}
ALIASES: dict[str, str] = {a: name for name, f in FIELDS.items() for a in (name, *f.aliases)}

# Known upstream fields the workbench does not run, with why (listed in the reply's warnings).
UNSUPPORTED: dict[str, str] = {
    "timesteps": "diffusers' AceStepPipeline computes its own schedule from inference_steps and shift",
    "global_caption": "not an input of diffusers' AceStepPipeline",
    "instruction": "the workbench writes each task's instruction itself",
    "cover_noise_strength": "not an input of diffusers' AceStepPipeline",
    "chunk_mask_mode": "the workbench masks the repaint window itself",
    "repaint_latent_crossfade_frames": "use crossfade_ms (crossfades in the audio, outside the window)",
    "repaint_wav_crossfade_sec": "use crossfade_ms",
    "repaint_mode": "repaint keeps everything outside the window sample-identical",
    "repaint_strength": "repaint keeps everything outside the window sample-identical",
    "use_adg": "not an input of diffusers' AceStepPipeline",
    "cfg_interval_start": "not an input of diffusers' AceStepPipeline",
    "cfg_interval_end": "not an input of diffusers' AceStepPipeline",
    "infer_method": "the pipeline's scheduler is fixed (flow-matching Euler)",
    "use_tiled_decode": "the VAE decode is the pipeline's own",
    "is_format_caption": "the workbench has no caption formatting step",
    "analysis_only": "no analysis-only mode",
    "full_analysis_only": "no analysis-only mode",
    "extract_codes_only": "no code-extraction mode",
    "constrained_decoding_debug": "used only by upstream's LM",
}
# LM fields upstream knows that the workbench's planner does not run, with why (listed in the reply's warnings).
LM_UNSUPPORTED: dict[str, str] = {
    "lm_backend": "the workbench runs the LM with transformers",
    "constrained_decoding": "the metadata block is always decoded under constraints",
    "use_cot_caption": "the LM's caption shapes the codes and is recorded; the DiT renders the client's caption",
    "use_cot_language": "the client's vocal_language (default en) is kept",
    "use_cot_metas": "the LM writes the metadata the client left empty",
    "allow_lm_batch": "one plan per task; the takes share it",
    "parallel_thinking": "one plan per task; the takes share it",
}
# Honoured when the LM runs (thinking / use_format / sample_mode); listed in warnings otherwise.
LM_FIELDS = (
    "lm_model_path",
    "lm_temperature",
    "lm_cfg_scale",
    "lm_top_k",
    "lm_top_p",
    "lm_repetition_penalty",
    "lm_negative_prompt",
)
PLANNER_FLAGS = ("thinking", "use_format", "sample_mode")
IGNORED = ("ai_token",)  # read by auth, not a generation field

_WINDOW_TASKS = ("repaint", "lego")
_TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "src_audio_path": ("repaint", "extend", "cover", "lego", "extract", "complete"),
    "reference_audio_path": ("cover",),
    "repainting_start": _WINDOW_TASKS,
    "repainting_end": _WINDOW_TASKS,
    "audio_cover_strength": ("cover",),
    "audio_code_string": ("audio_codes",),
    "track_name": ("lego", "extract"),
    "track_classes": ("complete",),
    "extend_side": ("extend",),
    "extend_s": ("extend",),
    "crossfade_ms": ("repaint", "extend"),
}
_TIME_SIGNATURES = {"2/4": "2", "3/4": "3", "4/4": "4", "6/8": "6"}


@dataclass(frozen=True)
class Submission:
    """A validated task: the request mapping (``request_from_dict`` input), how to write it, and what to tell."""

    request: dict[str, Any]
    audio_format: str
    warnings: tuple[str, ...] = ()
    planner: tuple[str, ...] = ()  # the planner flags the caller switched on (thinking, use_format, ...)
    sample_query: str = ""
    lm_values: dict[str, Any] = field(default_factory=dict)  # LM_FIELDS and FIXABLE_FIELDS the client gave
    sent_as: dict[str, str] = field(default_factory=dict)  # canonical name -> the key the client used

    @property
    def seeds(self) -> list[int]:
        return [int(self.request["seed"]) + i for i in range(int(self.request["batch_size"]))]


@dataclass(frozen=True)
class Context:
    """What parsing needs from the server: its model's names, and how caller-named files and LoRAs resolve."""

    model_names: tuple[str, ...]
    source_path: Callable[[str, str], str]  # (field, text) -> a readable file this server may use
    lora_path: Callable[[str, str], str]  # (field, text) -> an adapter path or hub id
    default_lora: LoraRef | None = None  # the caller's key's LoRA (``/v1/lora/load``), when enabled
    default_format: str = "mp3"


@dataclass
class _Reader:
    values: dict[str, Any]
    sent_as: dict[str, str] = field(default_factory=dict)  # canonical name -> the key the client used

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


def flatten(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Top-level keys win over those in ``param_obj`` / ``metas`` / ...; returns (values, key the client used)."""
    merged: dict[str, Any] = {}
    used: dict[str, str] = {}
    for nest in NESTED:
        inner = body.get(nest)
        if inner is None:
            continue
        if not isinstance(inner, Mapping):
            raise InputError(nest, inner, "must be an object of generation fields")
        for key, value in inner.items():
            merged[str(key)] = value
            used[str(key)] = f"{nest}.{key}"
    for key, value in body.items():
        if key not in NESTED and (value is not None or key not in merged):
            merged[str(key)] = value
            used[str(key)] = str(key)
    return merged, used


def read_fields(body: Mapping[str, Any]) -> tuple[_Reader, list[str]]:
    """Canonical values typed by ``FIELDS``, plus warnings for known fields the workbench does not run."""
    merged, used = flatten(body)
    reader = _Reader({})
    warnings: list[str] = []
    # Top-level keys first: a nested alias of a field also given at the top level is the top level's to decide.
    for key in sorted(merged, key=lambda k: "." in used[k]):
        value = merged[key]
        if key in IGNORED:
            continue
        if key in UNSUPPORTED:
            warnings.append(f"{used[key]}: not supported, ignored ({UNSUPPORTED[key]})")
            continue
        if key in LM_UNSUPPORTED:
            warnings.append(f"{used[key]}: not supported, ignored ({LM_UNSUPPORTED[key]})")
            continue
        name = ALIASES.get(key)
        if name is None:
            raise InputError(
                used[key], value, "unknown field; see GET /docs for the fields /release_task accepts"
            )
        if value is None:
            continue  # null means "not given" (clients send model_dump() output with None values)
        earlier = reader.sent_as.get(name)
        if earlier is not None:
            if "." not in earlier and "." in used[key]:
                continue
            raise InputError(used[key], value, f"names the same field as {earlier}; send one of them")
        reader.values[name] = coerce(used[key], value, FIELDS[name].kind)
        reader.sent_as[name] = used[key]
    return reader, warnings


def coerce(name: str, value: Any, kind: str) -> Any:
    """JSON values as they are; form fields arrive as text and are parsed. ``None`` and "" mean "not given"."""
    if value is None or (isinstance(value, str) and not value.strip() and kind != "str"):
        return None
    if kind == "str":
        if not isinstance(value, str):
            raise InputError(name, value, "must be text")
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise InputError(name, value, "must be true or false")
    if kind == "int":
        return _whole(name, value)
    if kind == "float":
        number = _number(name, value)
        return int(number) if isinstance(value, int) else number
    if kind == "seed":
        if isinstance(value, str) and "," in value:
            return [_whole(name, part) for part in value.split(",") if part.strip()]
        return _whole(name, value)
    if kind == "list":
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise InputError(name, value, "must be a list of names (or one comma-separated text)")
    raise InputError(name, value, f"unknown field kind {kind}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InputError(name, value, "must be a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(name, value, "must be a finite number")
    return float(value)


def _whole(name: str, value: Any) -> int:
    number = _number(name, value)
    if not number.is_integer():
        raise InputError(name, value, "must be a whole number")
    return int(number)


def pick_seed(reader: _Reader, batch_size: int) -> tuple[int, list[str]]:
    """``seed >= 0`` is used unless ``use_random_seed`` is explicitly true; otherwise a fresh random seed."""
    warnings: list[str] = []
    seed = reader.get("seed")
    if isinstance(seed, list):
        if not seed:
            seed = None
        else:
            if seed != list(range(seed[0], seed[0] + len(seed))):
                warnings.append(
                    f"seed: takes use consecutive seeds from the first ({seed[0]}..{seed[0] + batch_size - 1})"
                )
            seed = seed[0]
    if reader.get("use_random_seed") is True:
        if seed is not None and seed >= 0:
            warnings.append(f"seed: {seed} ignored because use_random_seed is true")
        return secrets.randbelow(_SEED_LIMIT), warnings
    if seed is None or seed < 0:
        return secrets.randbelow(_SEED_LIMIT), warnings
    return int(seed), warnings


def _task(reader: _Reader) -> str:
    task = str(reader.get("task_type", "text2music")).strip().lower()
    if task == "text2music" and reader.get("audio_code_string"):
        task = "audio_codes"  # upstream renders given codes as a text2music task
    try:
        return request_type(task).task
    except InputError as exc:
        raise InputError(reader.sent_as.get("task_type", "task_type"), task, exc.fix) from None


def parse_release(body: Mapping[str, Any], ctx: Context) -> Submission:
    reader, warnings = read_fields(body)
    task = _task(reader)
    for name, tasks in _TASK_FIELDS.items():
        if reader.has(name) and task not in tasks:
            warnings.append(f"{reader.sent_as[name]}: used only by {', '.join(tasks)} tasks; ignored")
    model = reader.get("model")
    if model is not None and model.strip() and model.strip() not in ctx.model_names:
        raise InputError(
            reader.sent_as["model"], model, f"this server runs {ctx.model_names[0]}; see GET /v1/models"
        )
    batch_size = reader.get("batch_size", 2)
    seed, seed_warnings = pick_seed(reader, batch_size if isinstance(batch_size, int) else 1)
    audio_format = str(reader.get("audio_format", ctx.default_format)).lower()
    if audio_format not in audio_io.WRITE_FORMATS:
        raise InputError(
            reader.sent_as.get("audio_format", "audio_format"),
            audio_format,
            f"choose one of {', '.join(audio_io.WRITE_FORMATS)}",
        )
    request = _common(reader, seed, batch_size, ctx)
    request.update(_task_fields(reader, task, ctx))
    request["task"] = task
    typed = request_from_dict(request)
    try:
        typed.validate()
    except InputError as exc:
        raise InputError(_upstream_name(reader, exc.field), exc.value, exc.fix) from None
    planner = tuple(flag for flag in PLANNER_FLAGS if reader.get(flag) is True)
    if not planner:
        warnings += [
            f"{reader.sent_as[name]}: used only when the LM runs (thinking, use_format, sample_mode); ignored"
            for name in LM_FIELDS
            if reader.has(name)
        ]
    lm_names = (*LM_FIELDS, *FIXABLE_FIELDS.values())
    return Submission(
        request=typed.to_dict(),
        audio_format=audio_format,
        warnings=tuple(warnings + seed_warnings),
        planner=planner,
        sample_query=str(reader.get("sample_query", "")),
        lm_values={n: reader.values[n] for n in lm_names if reader.has(n)},
        sent_as=dict(reader.sent_as),
    )


# Request attribute -> the field that fixes it; the LM fills those the client left empty.
FIXABLE_FIELDS = {
    "bpm": "bpm",
    "keyscale": "key_scale",
    "time_signature": "time_signature",
    "duration_s": "audio_duration",
    "vocal_language": "vocal_language",
}
_TEMPERATURE = Field("float", ("lm_temperature",), "LM sampling temperature (default 0.85)")
# Bodies of /format_input (``param_obj`` holds the metadata) and /v1/create_sample, in upstream's names
# (ace-step/ACE-Step-1.5@6d467e4:acestep/api/route_setup.py).
FORMAT_FIELDS: dict[str, Field] = {
    **{n: FIELDS[n] for n in ("prompt", "lyrics", "audio_duration", "bpm", "key_scale", "time_signature")},
    **{n: FIELDS[n] for n in ("vocal_language", "seed", "lm_model_path")},
    "temperature": _TEMPERATURE,
}
SAMPLE_FIELDS: dict[str, Field] = {
    "sample_query": Field("str", ("query", *FIELDS["sample_query"].aliases), "the description"),
    **{n: FIELDS[n] for n in ("instrumental", "vocal_language", "seed", "lm_model_path")},
    "temperature": _TEMPERATURE,
}


def read_lm_body(body: Mapping[str, Any], fields: dict[str, Field]) -> tuple[dict[str, Any], dict[str, str]]:
    """A /format_input or /v1/create_sample body -> (typed values by canonical name, the key the client used).
    Unknown fields are errors naming them; empty metadata (bpm 0, duration <= 0, "") means "the LM chooses"."""
    merged, used = flatten(body)
    aliases = {a: name for name, f in fields.items() for a in (name, *f.aliases)}
    values: dict[str, Any] = {}
    sent_as: dict[str, str] = {}
    for key, value in merged.items():
        if key in IGNORED:
            continue
        name = aliases.get(key)
        if name is None:
            raise InputError(used[key], value, f"unknown field; this route reads {', '.join(fields)}")
        if name in sent_as and "." in used[key]:
            continue  # a top-level key wins over the same field in param_obj
        typed = coerce(used[key], value, fields[name].kind)
        if isinstance(typed, str) and name != "lyrics":
            typed = typed.strip()
        if typed is None or typed == "" or (name in ("bpm", "audio_duration") and typed <= 0):
            continue
        if name == "seed" and (isinstance(typed, list) or typed < 0):
            raise InputError(used[key], value, "give one seed >= 0 (or leave it out for 0)")
        if name == "time_signature":
            typed = _TIME_SIGNATURES.get(typed, typed)
        values[name] = typed
        sent_as[name] = used[key]
    return values, sent_as


# The workbench's request field -> the canonical upstream field, to name errors the way the client wrote them.
_REQUEST_TO_FIELD = {
    "duration_s": "audio_duration",
    "keyscale": "key_scale",
    "steps": "inference_steps",
    "src": "src_audio_path",
    "reference": "reference_audio_path",
    "start_s": "repainting_start",
    "end_s": "repainting_end",
    "strength": "audio_cover_strength",
    "codes": "audio_code_string",
    "track": "track_name",
    "tracks": "track_classes",
    "side": "extend_side",
    "lora.path": "lora_path",
    "lora.scale": "lora_scale",
}


def _upstream_name(reader: _Reader, request_field: str) -> str:
    name = _REQUEST_TO_FIELD.get(request_field, request_field)
    if request_field == "lora.path" and "lora_name" in reader.sent_as:
        name = "lora_name"
    return reader.sent_as.get(name, name)


def _common(reader: _Reader, seed: int, batch_size: Any, ctx: Context) -> dict[str, Any]:
    duration = reader.get("audio_duration")
    if duration is not None and duration <= 0:
        duration = None  # upstream's "auto"
    bpm = reader.get("bpm")
    keyscale = (reader.get("key_scale") or "").strip() or None
    time_signature = (reader.get("time_signature") or "").strip() or None
    if time_signature is not None:
        time_signature = _TIME_SIGNATURES.get(time_signature, time_signature)
    return {
        "prompt": reader.get("prompt", ""),
        "lyrics": reader.get("lyrics", ""),
        "instrumental": reader.get("instrumental", False),
        "vocal_language": reader.get("vocal_language", "en"),
        "duration_s": duration,
        "bpm": None if bpm == 0 else bpm,
        "keyscale": keyscale,
        "time_signature": time_signature,
        "steps": reader.get("inference_steps"),
        "guidance_scale": reader.get("guidance_scale"),
        "shift": reader.get("shift"),
        "seed": seed,
        "batch_size": batch_size,
        "lora": _lora(reader, ctx),
        "genre": reader.get("genre"),
    }


def _lora(reader: _Reader, ctx: Context) -> dict[str, Any] | None:
    scale = reader.get("lora_scale")
    for name in ("lora_path", "lora_name"):
        text = (reader.get(name) or "").strip()
        if text:
            path = ctx.lora_path(reader.sent_as[name], text if name == "lora_path" else f"name:{text}")
            return {"path": path, "scale": 1.0 if scale is None else scale}
    if ctx.default_lora is not None:
        return {
            "path": ctx.default_lora.path,
            "scale": ctx.default_lora.scale if scale is None else scale,
        }
    return None


def _source(reader: _Reader, name: str, ctx: Context, *, required: bool) -> str | None:
    text = (reader.get(name) or "").strip()
    if not text:
        if required:
            raise InputError(
                reader.sent_as.get(name, name),
                None,
                "this task needs a source: upload src_audio or name a file",
            )
        return None
    return ctx.source_path(reader.sent_as[name], text)


def _task_fields(reader: _Reader, task: str, ctx: Context) -> dict[str, Any]:
    if task == "text2music":
        return {}
    if task == "audio_codes":
        return {"codes": reader.get("audio_code_string", "")}
    src = _source(reader, "src_audio_path", ctx, required=True)
    out: dict[str, Any] = {"src": src}
    if task in _WINDOW_TASKS:
        start = reader.get("repainting_start", 0.0)
        end = reader.get("repainting_end")
        if task == "repaint" or end is not None:
            if end is None or end < 0:
                end = _duration_s(reader.sent_as["src_audio_path"], str(src))  # upstream's -1: to the end
            out.update(start_s=float(start), end_s=float(end))
        elif reader.has("repainting_start"):
            out["start_s"] = float(start)
    if task == "repaint" and reader.has("crossfade_ms"):
        out["crossfade_ms"] = reader.get("crossfade_ms")
    if task == "extend":
        out["side"] = reader.get("extend_side", "right")
        out["extend_s"] = reader.get("extend_s", 10.0)
        if reader.has("crossfade_ms"):
            out["crossfade_ms"] = reader.get("crossfade_ms")
    if task == "cover":
        out["strength"] = reader.get("audio_cover_strength", 1.0)  # upstream's default
        out["reference"] = _source(reader, "reference_audio_path", ctx, required=False)
    if task in ("lego", "extract") and reader.has("track_name"):
        out["track"] = reader.get("track_name")
    if task == "complete" and reader.has("track_classes"):
        out["tracks"] = tuple(reader.get("track_classes"))
    return out


def _duration_s(name: str, path: str) -> float:
    import soundfile as sf

    try:
        return float(sf.info(path).duration)
    except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        raise InputError(name, path, f"cannot read this audio file ({exc})") from None


def field_schema() -> dict[str, Any]:
    """The request body as an OpenAPI schema, for /docs."""
    types = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "list": "array"}
    props: dict[str, Any] = {}
    for name, f in FIELDS.items():
        kind = types.get(f.kind)
        entry: dict[str, Any] = {
            "description": f.help + (f" (aliases: {', '.join(f.aliases)})" if f.aliases else "")
        }
        if kind is not None:
            entry["type"] = kind
        if kind == "array":
            entry["items"] = {"type": "string"}
        props[name] = entry
    props["ai_token"] = {"type": "string", "description": "API key (or Authorization: Bearer)"}
    return {"type": "object", "properties": props, "additionalProperties": False}
