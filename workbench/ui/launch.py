"""Serving the Blocks: the one place that decides host, port, auth, share and which folders may be served."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.ui.context import ModelHandle
from workbench.ui.shell import warmup

log = logging.getLogger("workbench.ui")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: tuple[str, str] | list[tuple[str, str]] | None = None
    share_without_auth: bool = False  # --i-know-share-is-public
    own_logins: bool = False  # the rater app: every rater logs in with a campaign code, admin auth is unused


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


def check_exposure(options: ServeOptions) -> None:
    """A public share link without a login would expose every tab, including file access and training."""
    if options.share and not options.auth and not options.share_without_auth and not options.own_logins:
        raise InputError(
            "share",
            True,
            "a public link without a login exposes every tab to anyone with the link; add --auth user:password "
            "(or --auth FILE), or pass --i-know-share-is-public if you really want it open",
        )


def served_folders(demo: Any) -> list[str]:
    ctx = demo.workbench_context
    return [str(ctx.runs_dir.resolve()), str(ctx.temp_dir.resolve())]


def launch(
    demo: Any, options: ServeOptions, *, prevent_thread_lock: bool = False, quiet: bool = False
) -> Any:
    check_exposure(options)
    if options.share and not options.auth and not options.own_logins:
        log.warning("PUBLIC SHARE LINK WITHOUT LOGIN: anyone with the link can use every tab")
    result = demo.launch(
        server_name=options.host,
        server_port=options.port,
        share=options.share,
        auth=options.auth,
        allowed_paths=served_folders(demo),  # the app's own data and temp folders, nothing else
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        inbrowser=False,
    )
    ctx = demo.workbench_context
    if isinstance(getattr(ctx, "model", None), ModelHandle):  # the rater app has no model
        ctx.model.start(warmup=warmup)  # after the server is up: the first page does not wait for torch
    if not prevent_thread_lock:
        demo.block_thread()
    return result
