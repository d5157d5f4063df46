"""``workbench models list|pull|check|convert``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "models",
        help="list, download, convert and check ACE-Step models",
        description="Manage ACE-Step models.",
    )
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    lp = msub.add_parser(
        "list", help="registry entries, their layout and presets, and whether each is available offline"
    )
    lp.set_defaults(func=run_list)
    pp = msub.add_parser(
        "pull",
        help="download a model into the HF cache and convert original-layout repos ('tiny*' are built locally)",
    )
    pp.add_argument("name", help="registry name (a model or an lm-* language model) or org/name hub id")
    pp.set_defaults(func=run_pull)
    cp = msub.add_parser(
        "check", help="what is present, what is missing, which layout, and the command that fixes it"
    )
    cp.add_argument("name", help="registry name, hub id or folder")
    cp.add_argument("--load", action="store_true", help="also load it and run one 1-step generation")
    cp.set_defaults(func=run_check)
    vp = msub.add_parser(
        "convert",
        help="convert an original-layout ACE-Step checkpoint into a diffusers pipeline folder",
        description=(
            "Split an original ACE-Step 1.5 checkpoint (acestep-v15-<variant>/, vae/, Qwen3-Embedding-0.6B/) into "
            "the diffusers AceStepPipeline layout. Streams tensors, writes atomically, never overwrites, and "
            "records the source and a content hash in DIR/workbench_conversion.json."
        ),
    )
    vp.add_argument(
        "src", help="the checkpoint folder (holding acestep-v15-<variant>/), or a DiT folder itself"
    )
    vp.add_argument(
        "--variant", required=True, help="the DiT folder to convert: turbo, base, sft or acestep-v15-…"
    )
    vp.add_argument("--out", required=True, help="the new pipeline folder (must not exist)")
    vp.add_argument(
        "--components",
        default=None,
        help="folder holding vae/ and Qwen3-Embedding-0.6B/ when SRC is a DiT-only repo (base, sft)",
    )
    vp.set_defaults(func=run_convert)


def _available(name: str) -> str:
    from workbench.core.errors import WorkbenchError
    from workbench.engine.models import check_model

    try:
        return "yes" if check_model(name)["ready"] else "convert"
    except WorkbenchError:
        return "no"


def run_list(args: argparse.Namespace) -> int:
    from workbench.engine.models import load_registry

    registry = load_registry()
    print(
        f"{'name':<14} {'offline':<8} {'layout':<9} {'variant':<7} {'steps':>5} {'cfg':>4} {'shift':>5} "
        f"{'cfg window':<10}  hub id / notes"
    )
    for name, s in registry.items():
        window = f"{s.cfg_interval_start:g}-{s.cfg_interval_end:g}"
        print(
            f"{name:<14} {_available(name):<8} {s.layout:<9} {s.variant:<7} {s.steps:>5} {s.guidance_scale:>4g} "
            f"{s.shift:>5g} {window:<10}  {s.hub_id}{'/' + s.subfolder if s.subfolder else ''}  ({s.params}; {s.notes})"
        )
    print(
        "presets: ACE-Step's own inference defaults; each entry's source is its preset_source in configs/models.yaml"
    )
    _list_lms()
    return 0


def _list_lms() -> None:
    from workbench.core.errors import WorkbenchError
    from workbench.planner.registry import load_lm_registry, resolve_lm

    print("\nlanguage models (the planner):")
    for name, spec in load_lm_registry().items():
        try:
            resolve_lm(name)
            offline = "yes"
        except WorkbenchError:
            offline = "no"
        where = f"{spec.hub_id}/{spec.subfolder}" if spec.subfolder else spec.hub_id
        print(f"{name:<10} {offline:<8} {where}  ({spec.params}; {spec.notes})")


def run_pull(args: argparse.Namespace) -> int:
    from workbench.engine.models import pull_model
    from workbench.planner.registry import load_lm_registry, pull_lm

    if args.name in load_lm_registry():  # a 5 Hz language model (the `lms:` section)
        print(f"{args.name}: ready at {pull_lm(args.name)}")
        return 0
    folder = pull_model(args.name)
    print(f"{args.name}: ready at {folder}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from workbench.engine.convert import convert_checkpoint

    report = convert_checkpoint(
        Path(args.src),
        args.variant,
        Path(args.out),
        components=Path(args.components) if args.components else None,
    )
    parts = ", ".join(f"{c} {n}" for c, n in report.tensors.items())
    kind = "turbo" if report.is_turbo else "not turbo"
    print(
        f"converted {args.src} ({args.variant}, {kind}, model_version {report.model_version}) -> {report.folder}"
    )
    print(f"tensors: {parts}")
    if report.dropped:
        print(
            f"note: {len(report.dropped)} keys no diffusers component uses were left out: {', '.join(report.dropped[:5])}"
        )
    print(f"load it with: --model {report.folder}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from workbench.engine.models import check_model

    info = check_model(args.name)
    print(f"{args.name}: {info['layout']} layout at {info['folder']} (revision {info['revision']})")
    print(
        f"present: {len(info['present'])} files ({', '.join(info['present'][:6])}{', …' if len(info['present']) > 6 else ''})"
    )
    for note in info.get("notes", []):
        print(f"note: {note}")
    if not info["ready"]:
        print("missing: nothing, but it is not converted yet; loading converts it once, or run:")
        print(f"  {info['fix']}")
        return 0
    print("missing: nothing; loadable offline")
    if args.load:
        from workbench.engine.engine import Engine
        from workbench.engine.requests import Text2Music

        engine = Engine(args.name)
        result = engine.run(Text2Music(prompt="check", duration_s=2.0, steps=1, seed=0))
        m = result.model
        print(
            f"loaded on {m.device} ({m.dtype}); 1-step test generation: {result.audio.duration_s:.1f} s of audio"
        )
    return 0
