"""``workbench app`` (and the root ``app.py``): serve the Gradio workbench.

The page is up within seconds while the model loads in a background thread; nothing here opens an outbound
connection (analytics, version checks and hub telemetry are off; models are never downloaded at start-up).
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

MODES = ("full", "rater")


def add_app_options(parser: argparse.ArgumentParser) -> None:
    from workbench.cli.generate import add_engine_options

    add_engine_options(parser)
    # Hosted copies (HF Spaces) pick the model with a variable rather than a command line.
    parser.set_defaults(model=os.environ.get("WORKBENCH_MODEL", "turbo"))
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on (0.0.0.0 exposes it on the network)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument(
        "--share",
        action="store_true",
        help="public gradio.live link; refused without --auth unless --i-know-share-is-public",
    )
    parser.add_argument(
        "--i-know-share-is-public",
        dest="share_without_auth",
        action="store_true",
        help="allow --share without --auth (every tab becomes public)",
    )
    parser.add_argument(
        "--auth",
        default=os.environ.get("WORKBENCH_AUTH"),
        help="user:password, or a file with one user:password per line (env WORKBENCH_AUTH)",
    )
    parser.add_argument("--mode", default="full", choices=MODES, help="full workbench, or the rater-only app")
    parser.add_argument(
        "--campaign",
        default=None,
        help="rater mode: the campaign to serve (default: $WORKBENCH_CAMPAIGN, else the newest open one)",
    )
    parser.add_argument(
        "--demucs-repo",
        default=os.environ.get("WORKBENCH_DEMUCS_REPO"),
        help="local demucs model folder for the Stems tab (default: the usual caches)",
    )
    parser.add_argument("--demucs-model", default="htdemucs")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "app", help="serve the Gradio workbench", description="Serve the ACE Workbench web app."
    )
    add_app_options(p)
    p.set_defaults(func=run_app)


def build_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """(Blocks, ServeOptions) from parsed flags; raises InputError for bad flags before anything loads."""
    from pathlib import Path

    from workbench.ui.launch import ServeOptions, check_exposure, parse_auth
    from workbench.ui.shell import no_network_defaults

    no_network_defaults()
    options = ServeOptions(
        host=args.host,
        port=args.port,
        share=args.share,
        auth=parse_auth(args.auth),
        share_without_auth=args.share_without_auth,
        own_logins=args.mode == "rater",
    )
    check_exposure(options)
    from workbench.core.store import Store

    store = Store()
    if args.mode == "rater":
        from workbench.core.errors import InputError

        try:
            rater = importlib.import_module("workbench.ui.rater")
        except ModuleNotFoundError:
            raise InputError(
                "mode", "rater", "the rater app is not installed in this version; use --mode full"
            ) from None
        return rater.build_rater_app(store, campaign=args.campaign), options
    from workbench.engine.engine import Engine
    from workbench.ui import AppSettings, build_app

    engine = Engine(args.model, device=args.device, dtype=args.dtype, offload=args.offload)
    settings = AppSettings(
        demucs_model=args.demucs_model, demucs_repo=Path(args.demucs_repo) if args.demucs_repo else None
    )
    # The model loads in the background once the server is up (see ui/launch.py).
    return build_app(engine, store, mode=args.mode, settings=settings, load_model=False), options


def run_app(args: argparse.Namespace) -> int:
    from workbench.ui.launch import launch

    demo, options = build_from_args(args)
    launch(demo, options)
    return 0
