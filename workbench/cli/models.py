"""``workbench models list|pull|check``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "models", help="list, download and check ACE-Step models", description="Manage ACE-Step models."
    )
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    lp = msub.add_parser("list", help="registry entries and whether each is available offline")
    lp.set_defaults(func=run_list)
    pp = msub.add_parser("pull", help="download a model into the HF cache ('tiny' is built locally)")
    pp.add_argument("name", help="registry name (a model or an lm-* language model) or org/name hub id")
    pp.set_defaults(func=run_pull)
    cp = msub.add_parser("check", help="is the model loadable offline?")
    cp.add_argument("name", help="registry name, hub id or folder")
    cp.add_argument("--load", action="store_true", help="also load it and run one 1-step generation")
    cp.set_defaults(func=run_check)


def _available(name: str) -> str:
    from workbench.core.errors import WorkbenchError
    from workbench.engine.models import check_model

    try:
        check_model(name)
        return "yes"
    except WorkbenchError:
        return "no"


def run_list(args: argparse.Namespace) -> int:
    from workbench.engine.models import load_registry

    registry = load_registry()
    print(f"{'name':<10} {'offline':<8} {'variant':<6} {'steps':>5} {'cfg':>5} {'shift':>5}  hub id / notes")
    for name, s in registry.items():
        print(
            f"{name:<10} {_available(name):<8} {s.variant:<6} {s.steps:>5} {s.guidance_scale:>5g} {s.shift:>5g}  "
            f"{s.hub_id}  ({s.params}; {s.notes})"
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


def run_check(args: argparse.Namespace) -> int:
    from workbench.engine.models import check_model

    info = check_model(args.name)
    print(f"{args.name}: loadable offline from {info['folder']} (revision {info['revision']})")
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
