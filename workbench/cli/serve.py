"""``workbench serve``: the REST API alone (ACE-Step 1.5's contract, port 8001 like upstream), for headless boxes.

The model loads before the port opens, so a box without weights fails at once instead of failing every task.
Tasks a previous run of the server left queued or running are picked up again (they are rows in the store).
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """The API options ``workbench serve`` and ``workbench app --api`` share."""
    parser.add_argument(
        "--api-keys",
        default=None,
        help="file with one API key per line (also $WORKBENCH_API_KEYS, comma-separated); required to listen "
        "beyond localhost",
    )
    parser.add_argument("--max-queued", type=int, default=200, help="tasks waiting before 429 (default 200)")
    parser.add_argument("--per-key-limit", type=int, default=1, help="tasks one API key may run at once")
    parser.add_argument(
        "--workers", type=int, default=1, help="tasks prepared at once (the model still runs one at a time)"
    )
    parser.add_argument(
        "--default-format", default="mp3", choices=("wav", "flac", "mp3"), help="audio_format when not given"
    )
    parser.add_argument(
        "--lm",
        default="lm-1.7B",
        help="the 5 Hz LM behind thinking, use_format, sample_mode, /format_input and /v1/create_sample "
        "(default lm-1.7B; 'none' for no LM); tasks may name another with lm_model_path",
    )


def api_planner(workbench: Any, name: str) -> tuple[Any, str]:
    """The API's LM planner on ``workbench`` when the LM ``name`` is available here (it loads on first use),
    else None; and a line saying which LM serves, or why none does and how to get one."""
    from workbench.core.errors import InputError, WeightsMissingError
    from workbench.planner.registry import resolve_lm
    from workbench.rest.lm import LmPlanner

    if name.strip().lower() in ("", "none"):
        return None, "LM: none (--lm none); thinking/use_format/sample_mode answer 501"
    try:
        resolved = resolve_lm(name)
    except WeightsMissingError as exc:
        return None, f"LM: none ({exc}); thinking/use_format/sample_mode answer 501 until then"
    except InputError as exc:
        return None, f"LM: none (--lm {name}: {exc.fix}); thinking/use_format/sample_mode answer 501"
    return LmPlanner(workbench, name), f"LM: {name} ({resolved.folder}, loads on first use)"


def register(sub: Any) -> None:
    from workbench.cli.generate import add_engine_options

    p = sub.add_parser(
        "serve",
        help="serve the ACE-Step-compatible REST API",
        description="Serve ACE-Step 1.5's REST API (/release_task, /query_result, /v1/audio, ...) on the "
        "workbench. Docs at /docs.",
    )
    add_engine_options(p)
    p.add_argument("--host", default="127.0.0.1", help="interface (beyond localhost needs --api-keys)")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--store", default=None, help="SQLite store (default: the workbench home's)")
    add_api_options(p)
    p.set_defaults(func=run_serve)


def api_settings(args: argparse.Namespace) -> Any:
    from workbench.core.errors import InputError
    from workbench.rest.service import ApiSettings

    for name in ("max_queued", "per_key_limit", "workers"):
        if getattr(args, name) < 1:
            raise InputError(name.replace("_", "-"), getattr(args, name), "must be at least 1")
    return ApiSettings(
        max_queued=args.max_queued,
        per_key_limit=args.per_key_limit,
        workers=args.workers,
        default_format=args.default_format,
    )


def run_serve(args: argparse.Namespace) -> int:
    from workbench.cli.app import no_network_defaults

    no_network_defaults()
    import uvicorn

    from workbench.core.store import Store
    from workbench.engine.engine import Engine
    from workbench.rest.auth import check_listen, load_keys
    from workbench.rest.routes import build_api
    from workbench.rest.service import RestService
    from workbench.services import Workbench

    keys = load_keys(args.api_keys)
    check_listen(args.host, keys)  # before the model loads: a refused exposure costs nothing
    settings = api_settings(args)
    engine = Engine(args.model, device=args.device, dtype=args.dtype, offload=args.offload)
    engine.load()
    store = Store(Path(args.store)) if args.store else Store()
    workbench = Workbench(engine, store)
    planner, lm_line = api_planner(workbench, args.lm)
    service = RestService(workbench, keys, settings, planner=planner)
    requeued, failed = service.queue.recovered
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it Nagle holds the reply body behind its headers until the client's
    # delayed ACK, adding ~40 ms to every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, args.port))
    sock.listen(256)
    service.start()
    print(
        f"serving the ACE-Step API for model {args.model} on http://{args.host}:{sock.getsockname()[1]} "
        f"(docs: /docs; keys: {len(keys.keys) or 'none, localhost only'}; "
        f"resumed {requeued} interrupted task(s), failed {failed})\n{lm_line}",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(build_api(service), log_level=os.environ.get("WORKBENCH_API_LOG", "warning"))
    )
    try:
        server.run(sockets=[sock])
    finally:
        service.stop()
    return 0
