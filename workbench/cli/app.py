"""``workbench app`` (and the root ``app.py``, the same code path): serve the Gradio workbench, or with
``--mode rater --campaign NAME`` the blind A/B rating page alone.

The page is up within seconds while the model loads in a background thread; nothing here opens an outbound
connection (analytics, version checks and hub telemetry are off; models are never downloaded at start-up).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.ui.launch import ServeOptions, WebApp
    from workbench.ui.shell import WorkbenchApp

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
        help="public gradio.live link; refused without a login (--auth, or rater mode's own) unless "
        "--i-know-share-is-public",
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
        help="user:password, or a file with one user:password per line (env WORKBENCH_AUTH); not used in "
        "rater mode, where raters log in with their campaign codes",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=os.environ.get("WORKBENCH_MAX_UPLOAD_MB"),
        help="largest file one upload may carry, in MB (env WORKBENCH_MAX_UPLOAD_MB; default 268 MB = 256 MiB, "
        "ten minutes of 48 kHz stereo float WAV plus margin); rater mode refuses every upload regardless",
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
    parser.add_argument(
        "--api",
        action="store_true",
        help="also serve the ACE-Step-compatible REST API on the same port (/release_task, /docs, ...)",
    )
    from workbench.cli.serve import add_api_options

    add_api_options(parser)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "app", help="serve the Gradio workbench", description="Serve the ACE Workbench web app."
    )
    add_app_options(p)
    p.set_defaults(func=run_app)


def no_network_defaults() -> None:
    """Gradio analytics, its version check and HF telemetry each open connections at start-up; turn them off
    unless the user explicitly set them. Must run before gradio or huggingface_hub is imported: both read
    these when they load."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # Model loading never downloads (`workbench models pull` does, or HF Spaces' preload_from_hub).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("GRADIO_RUN_HISTORY", "False")


def build_from_args(args: argparse.Namespace) -> tuple[WebApp, ServeOptions]:
    """(app, ServeOptions) from parsed flags; raises InputError for bad flags before any model loads."""
    no_network_defaults()
    from workbench.core.store import Store
    from workbench.ui.launch import ServeOptions, check_exposure, parse_auth

    options = ServeOptions(
        host=args.host,
        port=args.port,
        share=args.share,
        auth=parse_auth(args.auth),
        share_without_auth=args.share_without_auth,
        max_upload_bytes=_upload_bytes(getattr(args, "max_upload_mb", None)),
    )
    if args.mode == "rater":
        from workbench.ui.rater import build_rater_app

        if getattr(args, "api", False):
            from workbench.core.errors import InputError

            raise InputError(
                "api", True, "the rater app serves raters only; run the API without --mode rater"
            )

        app: WebApp = build_rater_app(Store(), campaign=args.campaign)
        check_exposure(options, app.extras)  # the rater login counts: --share needs no --auth here
        return app, options
    check_exposure(options)  # before the tabs and the engine are built
    from workbench.engine.engine import Engine
    from workbench.ui import AppSettings, build_app

    engine = Engine(args.model, device=args.device, dtype=args.dtype, offload=args.offload)
    settings = AppSettings(
        demucs_model=args.demucs_model, demucs_repo=Path(args.demucs_repo) if args.demucs_repo else None
    )
    # The model loads in the background once the server is up (the app's on_started).
    built = build_app(engine, Store(), mode=args.mode, settings=settings, load_model=False)
    if getattr(args, "api", False):
        return with_api(built, args, options), options
    return built, options


def _upload_bytes(megabytes: object) -> int | None:
    from workbench.core.config import number

    if megabytes is None:
        return None
    return round(number("max_upload_mb", megabytes, 0.001, 1_000_000.0, " MB") * 1_000_000)


def with_api(app: WorkbenchApp, args: argparse.Namespace, options: ServeOptions) -> WorkbenchApp:
    """The app with the REST API's routes in front of Gradio's, on the app's own Workbench (same engine, lock,
    store and folders), so API tasks and the tabs share one queue for the model."""
    import dataclasses

    from workbench.cli.serve import api_planner, api_settings
    from workbench.rest.auth import check_listen, load_keys
    from workbench.rest.routes import api_routes, build_api
    from workbench.rest.service import RestService

    keys = load_keys(args.api_keys)
    check_listen("0.0.0.0" if options.share else options.host, keys)  # a share link is beyond localhost too
    ctx = app.context
    planner, lm_line = api_planner(ctx.workbench, args.lm)
    print(f"REST API mounted on the app; {lm_line}", flush=True)
    service = RestService(
        ctx.workbench, keys, api_settings(args), planner=planner, loras_dir=ctx.loras_dir
    ).start()
    routes = app.extras.routes + api_routes(
        build_api(service, title="ACE Workbench API (mounted on the app)")
    )
    return dataclasses.replace(app, extras=dataclasses.replace(app.extras, routes=routes))


def run_app(args: argparse.Namespace) -> int:
    from workbench.ui.launch import launch

    app, options = build_from_args(args)
    launch(app, options)
    return 0
