"""``workbench lm format|sample|understand``: the 5 Hz LM's writing help, printed as JSON for editing or scripts."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli.generate import _text_arg


def _common(p: argparse.ArgumentParser) -> None:
    from workbench.planner.plans import CAPTION_TOKENS, DEFAULT_LM, LYRICS_TOKENS

    p.add_argument(
        "--lm", default=DEFAULT_LM, help=f"language model (default {DEFAULT_LM}; see `workbench models list`)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--temperature", type=float, default=None, help="LM temperature (default: upstream's per mode)"
    )
    p.add_argument("--device", default=None, help="cuda, cuda:N, mps or cpu (default: best available)")
    p.add_argument("--dtype", default=None, choices=("bf16", "fp16", "fp32"))
    p.add_argument(
        "--caption-tokens", type=int, default=CAPTION_TOKENS, help="longest caption the LM may write"
    )
    p.add_argument("--lyrics-tokens", type=int, default=LYRICS_TOKENS, help="longest lyrics the LM may write")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "lm",
        help="the 5 Hz LM: format inputs, write a song from a description, describe audio",
        description="Use ACE-Step's 5 Hz language model on its own: Format, Simple mode and Understand.",
    )
    lsub = p.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    f = lsub.add_parser("format", help="caption + lyrics -> enhanced caption, formatted lyrics, metadata")
    f.add_argument("--caption", default="")
    f.add_argument("--lyrics", default="", help="lyrics text, or @FILE")
    f.add_argument("--bpm", type=int, default=None)
    f.add_argument("--key", default=None, help="keep this key, e.g. 'F# minor'")
    f.add_argument("--time-signature", default=None, choices=("2", "3", "4", "6"))
    f.add_argument("--duration", type=float, default=None, help="keep this duration, seconds")
    f.add_argument("--language", default=None, help="keep this vocal language code")
    _common(f)
    f.set_defaults(func=run_format)
    s = lsub.add_parser("sample", help="Simple mode: a one-line description -> caption, lyrics, metadata")
    s.add_argument("query", help='what to make, e.g. "a soft Bengali love song for a quiet evening"')
    s.add_argument("--instrumental", action="store_true")
    s.add_argument("--language", default=None, help="vocal language code for the lyrics")
    _common(s)
    s.set_defaults(func=run_sample)
    u = lsub.add_parser("understand", help="audio (or audio codes) -> caption, lyrics, metadata")
    u.add_argument("--audio", default=None, help="audio file; its codes come from --model's audio tokenizer")
    u.add_argument("--codes", default=None, help="<|audio_code_N|> string, or @FILE")
    u.add_argument("--model", default="turbo", help="DiT whose audio tokenizer reads --audio")
    _common(u)
    u.set_defaults(func=run_understand)


def _planner(args: argparse.Namespace) -> Any:
    from workbench.planner.planner import Planner

    return Planner(device=args.device, dtype=args.dtype)


def _sampling(args: argparse.Namespace, temperature: float) -> dict[str, Any]:
    """The fields every LM request shares, from the flags every LM command has; ``temperature``: the task's
    default when --temperature is not given."""
    return {
        "temperature": temperature if args.temperature is None else float(args.temperature),
        "seed": args.seed,
        "lm": args.lm,
        "caption_tokens": args.caption_tokens,
        "lyrics_tokens": args.lyrics_tokens,
    }


def _print(written: Any) -> int:
    data = written.to_dict()
    data.pop("lm", None)
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def run_format(args: argparse.Namespace) -> int:
    from workbench.planner.plans import FormatRequest

    request = FormatRequest(
        caption=args.caption,
        lyrics=_text_arg(args.lyrics),
        bpm=args.bpm,
        keyscale=args.key,
        time_signature=args.time_signature,
        duration_s=args.duration,
        language=args.language,
        **_sampling(args, 0.85),
    )
    return _print(_planner(args).format(request))


def run_sample(args: argparse.Namespace) -> int:
    from workbench.planner.plans import SampleRequest

    request = SampleRequest(
        query=args.query,
        instrumental=args.instrumental,
        language=args.language,
        **_sampling(args, 0.85),
    )
    return _print(_planner(args).sample(request))


def run_understand(args: argparse.Namespace) -> int:
    from workbench.core.errors import InputError
    from workbench.planner.plans import UnderstandRequest

    if bool(args.audio) == bool(args.codes):
        raise InputError(
            "--audio/--codes", args.audio or args.codes, "give exactly one of --audio FILE or --codes"
        )
    codes = _text_arg(args.codes)
    if args.audio:
        from workbench.engine.engine import Engine
        from workbench.planner.audio_codes import audio_to_codes

        codes = audio_to_codes(Engine(args.model, device=args.device, dtype=args.dtype), args.audio)
    request = UnderstandRequest(
        codes=codes,
        **_sampling(args, 0.3),
    )
    return _print(_planner(args).understand(request))
