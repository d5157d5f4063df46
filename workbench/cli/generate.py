"""``workbench generate`` and ``workbench replay``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.requests import TASKS, LoraRef, request_type

if TYPE_CHECKING:
    from workbench.services import Workbench

TASK_CHOICES = ("text2music", "repaint", "extend", "cover", "lego", "extract", "complete", "audio_codes")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Model options shared by every command that loads the engine."""
    parser.add_argument(
        "--model", default="turbo", help="registry name (see `workbench models list`), hub id or folder"
    )
    parser.add_argument("--device", default=None, help="cuda, cuda:N, mps or cpu (default: best available)")
    parser.add_argument(
        "--dtype", default=None, choices=("bf16", "fp16", "fp32"), help="default: bf16 on CUDA, else fp32"
    )
    parser.add_argument(
        "--offload", action="store_true", help="CPU-offload idle components (CUDA only; less VRAM)"
    )


def register(sub: Any) -> None:
    p = sub.add_parser(
        "generate",
        help="generate or edit audio headless",
        description="Generate or edit audio with ACE-Step 1.5.",
    )
    add_engine_options(p)
    p.add_argument("--task", default="text2music", choices=TASK_CHOICES)
    p.add_argument("--prompt", default="", help="caption: style, instruments, mood")
    p.add_argument("--lyrics", default="", help="lyrics text, or @FILE to read them from a file")
    p.add_argument("--instrumental", action="store_true")
    p.add_argument(
        "--language",
        default="en",
        help="vocal language code: en, zh, ja, ... (ACE-Step's list; unknown = let the model decide)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds (text2music default 30; source tasks: source length)",
    )
    p.add_argument("--seed", type=int, default=None, help="default: random (recorded in the sidecar)")
    p.add_argument("--batch", type=int, default=1, help="number of takes (seeds seed..seed+N-1)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--shift", type=float, default=None)
    p.add_argument("--bpm", type=int, default=None)
    p.add_argument("--key", default=None, help="e.g. 'F major', 'A minor'")
    p.add_argument("--time-signature", default=None, choices=("2", "3", "4", "6"))
    p.add_argument(
        "--genre",
        default=None,
        help="genre preset recorded with the run, one of configs/genres.yaml (an unknown name lists them)",
    )
    p.add_argument("--src", default=None, help="source audio for repaint/extend/cover/lego/extract/complete")
    p.add_argument("--start", type=float, default=None, help="window start, seconds (repaint, lego)")
    p.add_argument("--end", type=float, default=None, help="window end, seconds (repaint, lego)")
    p.add_argument("--side", default="right", choices=("left", "right"), help="extend: where to add audio")
    p.add_argument("--extend-by", type=float, default=10.0, help="extend: seconds to add")
    p.add_argument(
        "--crossfade-ms", type=float, default=50.0, help="repaint/extend: crossfade at window edges"
    )
    p.add_argument(
        "--strength", type=float, default=0.5, help="cover: 0 = prompt only, 1 = follow the source fully"
    )
    p.add_argument("--ref", default=None, help="cover: timbre reference audio")
    p.add_argument("--track", default=None, help="lego/extract: track name, e.g. drums, bass, vocals")
    p.add_argument("--tracks", default="drums,bass", help="complete: comma-separated track names")
    p.add_argument("--codes", default=None, help="audio_codes: <|audio_code_N|> string or @FILE")
    p.add_argument("--lora", default=None, help="LoRA adapter folder, .safetensors file or hub id")
    p.add_argument("--lora-scale", type=float, default=1.0)
    p.add_argument("--format", default="wav", choices=("wav", "flac", "mp3"))
    p.add_argument("--out", default="outputs", help="output folder (audio + JSON sidecars)")
    p.add_argument("--no-store", action="store_true", help="do not add rows to the workbench store")
    add_think_options(p)
    p.set_defaults(func=run_generate)

    r = sub.add_parser(
        "replay",
        help="re-run a result from its JSON sidecar",
        description="Re-run a recorded result from its sidecar.",
    )
    r.add_argument("sidecar", help="the .json written next to a result")
    r.add_argument("--model", default=None, help="override the model recorded in the sidecar")
    r.add_argument("--device", default=None)
    r.add_argument("--dtype", default=None, choices=("bf16", "fp16", "fp32"))
    r.add_argument("--out", default="outputs")
    r.add_argument(
        "--replan",
        action="store_true",
        help="run the 5 Hz LM again with the recorded seed and settings (default: render the recorded codes)",
    )
    r.add_argument("--lm", default=None, help="with --replan: plan with another LM than the recorded one")
    r.set_defaults(func=run_replay)


def add_think_options(parser: argparse.ArgumentParser) -> None:
    """Think: the 5 Hz LM plans the empty metadata fields and the audio codes before the DiT renders them."""
    from workbench.planner.decoding import Sampling
    from workbench.planner.plans import DEFAULT_LM

    d = Sampling()
    parser.add_argument("--think", action="store_true", help="plan with the 5 Hz LM first (text2music)")
    parser.add_argument("--lm", default=DEFAULT_LM, help=f"language model for --think (default {DEFAULT_LM})")
    parser.add_argument("--lm-temperature", type=float, default=d.temperature)
    parser.add_argument("--lm-cfg-scale", type=float, default=d.cfg_scale, help="LM guidance; 1 = off")
    parser.add_argument("--lm-top-p", type=float, default=d.top_p)
    parser.add_argument("--lm-top-k", type=int, default=d.top_k)
    parser.add_argument("--lm-negative-prompt", default=d.negative_prompt)


def think_from_args(args: argparse.Namespace) -> Any:
    from workbench.planner.decoding import Sampling
    from workbench.planner.plans import ThinkOptions

    if not getattr(args, "think", False):
        return None
    sampling = Sampling(
        temperature=args.lm_temperature,
        cfg_scale=args.lm_cfg_scale,
        top_k=args.lm_top_k,
        top_p=args.lm_top_p,
        negative_prompt=args.lm_negative_prompt,
    )
    return ThinkOptions(lm=args.lm, sampling=sampling)


def _text_arg(value: str | None, field: str = "--lyrics") -> str:
    """``@FILE`` reads the text from FILE (UTF-8, size-limited, encoding named if wrong); anything else is the text."""
    if value and value.startswith("@"):
        from workbench.core.config import read_text

        return read_text(value[1:], f"{field} @file")
    return value or ""


def request_from_args(args: argparse.Namespace) -> Any:
    cls = request_type(args.task)
    common: dict[str, Any] = dict(
        prompt=args.prompt,
        lyrics=_text_arg(args.lyrics),
        instrumental=args.instrumental,
        vocal_language=args.language,
        duration_s=args.duration,
        seed=args.seed,
        batch_size=args.batch,
        steps=args.steps,
        guidance_scale=args.guidance,
        shift=args.shift,
        bpm=args.bpm,
        keyscale=args.key,
        time_signature=args.time_signature,
        genre=args.genre,
        lora=LoraRef(args.lora, args.lora_scale) if args.lora else None,
    )
    task = cls.task
    if cls.needs_source:
        common["src"] = args.src or ""
    if task == "repaint":
        common.update(
            start_s=args.start if args.start is not None else 0.0,
            end_s=args.end if args.end is not None else 0.0,
            crossfade_ms=args.crossfade_ms,
        )
    elif task == "extend":
        common.update(side=args.side, extend_s=args.extend_by, crossfade_ms=args.crossfade_ms)
    elif task == "cover":
        common.update(strength=args.strength, reference=args.ref)
    elif task == "lego":
        common.update(track=args.track or "drums", start_s=args.start, end_s=args.end)
    elif task == "extract":
        common.update(track=args.track or "vocals")
    elif task == "complete":
        common.update(tracks=tuple(t.strip() for t in args.tracks.split(",") if t.strip()))
    elif task == "audio_codes":
        common["codes"] = _text_arg(args.codes)
    return cls(**common)


def make_workbench(model: str, args: argparse.Namespace, out: str, store: bool = True) -> Workbench:
    """The CLI's Workbench: an engine from the model options, the default store and ``out`` for results."""
    from workbench.core.store import Store
    from workbench.engine.engine import Engine
    from workbench.services import Workbench

    engine = Engine(model, device=args.device, dtype=args.dtype, offload=getattr(args, "offload", False))
    return Workbench(engine, Store() if store else None, runs_dir=Path(out))


def _print_progress(progress: Any) -> None:
    if progress.stage == "denoising":
        print(f"\r  step {progress.step}/{progress.total}", end="", file=sys.stderr, flush=True)
    elif progress.stage.startswith("planning"):
        print(f"\r  {progress.stage}: {progress.step} tokens", end="", file=sys.stderr, flush=True)
    elif progress.stage == "done":
        print(file=sys.stderr)


def run_generate(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    request.validate()  # fail on bad input before loading any model
    bench = make_workbench(args.model, args, args.out, store=not args.no_store)
    run = bench.generate(
        request, audio_format=args.format, progress=_print_progress, think=think_from_args(args)
    )
    if run.plan is not None:
        m = run.plan.metadata
        print(
            f"plan ({run.plan.lm['name']}): bpm={m.bpm} key={m.keyscale} time={m.time_signature} "
            f"duration={m.duration_s:g} s language={m.language}; LM chose: {', '.join(run.plan.chosen) or 'none'}"
        )
    for note in run.result.notes:
        print(f"note: {note}")
    for t in run.takes:
        print(f"{t.path}  seed={t.take.seed}  {t.take.audio.duration_s:.2f} s  sidecar={t.sidecar}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    import numpy as np

    from workbench.core import audio_io
    from workbench.engine.requests import request_from_dict
    from workbench.records import load_sidecar

    data = load_sidecar(args.sidecar)
    model = args.model or data["model"]["name"]
    bench = make_workbench(model, args, args.out)
    audio_format = Path(data["audio"]["path"] or "x.wav").suffix.lstrip(".") or "wav"
    if args.replan:
        from workbench.core.errors import InputError
        from workbench.planner.plans import ThinkOptions

        block = data.get("plan")
        if not isinstance(block, dict):
            raise InputError(
                "--replan", args.sidecar, "this result was not planned by the LM; replay it without it"
            )
        think = ThinkOptions.from_plan(block["plan"], lm=args.lm)
        run = bench.generate(
            request_from_dict(block["think_request"]), audio_format=audio_format, think=think
        )
    else:
        run = bench.generate(request_from_dict(data["request"]), audio_format=audio_format)
    recorded = run.takes[int(data["take_index"])]
    take = recorded.take
    print(f"{recorded.path}  seed={take.seed}")
    original = data["audio"].get("path")
    if original and Path(original).is_file() and original.endswith(".wav"):
        same = np.array_equal(audio_io.read_audio(original).samples, take.audio.samples)
        print(
            "identical to the original"
            if same
            else "differs from the original (different device, dtype or versions?)"
        )
    return 0


__all__ = ["TASKS", "add_engine_options", "make_workbench", "register", "request_from_args"]
