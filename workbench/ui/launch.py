"""Serving the Blocks: the one place that decides host, port, auth, share and which folders may be served.

An app builder (``shell.build_app``, ``rater.build_rater_app``) returns a ``WebApp``: its Blocks plus the
``ServeExtras`` serving it needs (its own login, the folders Gradio may serve, page head and CSS, extra routes,
a start hook). ``launch`` applies both those and the operator's ``ServeOptions``, so no app overrides the launch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.routing import BaseRoute

from workbench.core.errors import InputError

log = logging.getLogger("workbench.ui")

# Gradio's per-file upload cap for apps that take uploads: the longest source the engine accepts (600 s) as a
# 48 kHz stereo 32-bit float WAV is 600 * 48_000 * 2 * 4 = 230.4 MB; 256 MiB leaves ~16 % for headers and
# metadata chunks. Without a cap any visitor could fill the disk with one request.
ADMIN_UPLOAD_LIMIT_BYTES = 256 * 2**20

Login = Callable[[str, str], Any]  # -> bool, or an awaitable of one (Gradio awaits a coroutine function)


@dataclass(frozen=True)
class ServeOptions:
    """What the operator chose on the command line."""

    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: tuple[str, str] | list[tuple[str, str]] | None = None
    share_without_auth: bool = False  # --i-know-share-is-public
    max_upload_bytes: int | None = None  # --max-upload-mb; None keeps the app's own cap


@dataclass(frozen=True)
class ServeExtras:
    """What an app brings to its launch. ``auth_fn`` is the app's own login; it replaces ``ServeOptions.auth``."""

    auth_fn: Login | None = None
    auth_message: str | None = None
    allowed_paths: tuple[Path, ...] = ()  # the only folders Gradio's file route may serve
    head: str = ""
    css: str = ""
    routes: tuple[BaseRoute, ...] = ()  # put before Gradio's own routes, whose catch-alls would shadow them
    on_started: Callable[[], None] | None = None  # runs once the server answers
    # Hardening an app may ask for (the rater app does): ASGI middleware around every route, Gradio's upload
    # size cap in bytes (0 refuses every upload), its /monitoring routes, and FastAPI's /openapi.json and /docs.
    middleware: tuple[Any, ...] = ()
    max_file_size: int | None = ADMIN_UPLOAD_LIMIT_BYTES
    monitoring: bool = True
    api_docs: bool = True


@dataclass(frozen=True)
class WebApp:
    """A built app: the Blocks and what serving it needs."""

    blocks: gr.Blocks
    extras: ServeExtras

    def close(self) -> None:
        self.blocks.close()


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """'user:pass', or a file with one 'user:pass' per line (so passwords stay out of shell history)."""
    if not value:
        return None
    candidate = Path(value).expanduser()
    lines = candidate.read_text().splitlines() if candidate.is_file() else [value]
    pairs = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            shown = "<file line>" if candidate.is_file() else "<hidden>"
            raise InputError(
                "auth", shown, "write it as user:password, or give a file with one user:password per line"
            )
        pairs.append((user, password))
    if not pairs:
        raise InputError("auth", str(candidate), "the file has no user:password lines")
    return pairs


def check_exposure(options: ServeOptions, extras: ServeExtras | None = None) -> None:
    """A public share link without a login would expose every page to anyone with the link. An app with its own
    login (the rater app) counts as logged in; ``--auth`` or ``--i-know-share-is-public`` cover the rest."""
    has_login = bool(options.auth) or (extras is not None and extras.auth_fn is not None)
    if options.share and not has_login and not options.share_without_auth:
        raise InputError(
            "share",
            True,
            "a public link without a login exposes every tab to anyone with the link; add --auth user:password "
            "(or --auth FILE), or pass --i-know-share-is-public if you really want it open",
        )


def _auth(
    options: ServeOptions, extras: ServeExtras
) -> Login | list[tuple[str, str]] | tuple[str, str] | None:
    if extras.auth_fn is None:
        return options.auth
    if options.auth:
        # Admin and app logins stay separate: admin credentials never open an app that logs its own users in.
        log.info("this app logs its users in itself; the --auth credentials are not used")
    return extras.auth_fn


def upload_limit(options: ServeOptions, extras: ServeExtras) -> int | None:
    """The operator's cap replaces the app's, except that an app refusing every upload (0: the rater app)
    keeps refusing: an operator flag must not open an attack surface the app closed on purpose."""
    if extras.max_file_size == 0 or options.max_upload_bytes is None:
        return extras.max_file_size
    return options.max_upload_bytes


def launch(
    app: WebApp, options: ServeOptions, *, prevent_thread_lock: bool = False, quiet: bool = False
) -> Any:
    extras = app.extras
    check_exposure(options, extras)
    if options.share and not options.auth and extras.auth_fn is None:
        log.warning("PUBLIC SHARE LINK WITHOUT LOGIN: anyone with the link can use every tab")
    app_kwargs: dict[str, Any] = {}
    if extras.middleware:
        app_kwargs["middleware"] = list(extras.middleware)
    if not extras.api_docs:
        app_kwargs.update(openapi_url=None, docs_url=None, redoc_url=None)
    result = app.blocks.launch(
        server_name=options.host,
        server_port=options.port,
        share=options.share,
        auth=_auth(options, extras),
        auth_message=extras.auth_message,
        allowed_paths=[str(p.resolve()) for p in extras.allowed_paths],
        head=extras.head or None,
        css=extras.css or None,
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        inbrowser=False,
        app_kwargs=app_kwargs,
        max_file_size=upload_limit(options, extras),
        enable_monitoring=None if extras.monitoring else False,
    )
    for route in reversed(extras.routes):
        app.blocks.app.router.routes.insert(0, route)
    if extras.on_started is not None:
        extras.on_started()
    if not prevent_thread_lock:
        app.blocks.block_thread()
    return result
