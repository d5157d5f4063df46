"""Launching the workbench app in-process around the tiny engine, for the gradio_client and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.engine.engine import Progress


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SlowSteps:
    """Progress hook that sleeps per denoising step while ``enabled`` - makes tiny runs long enough to cancel."""

    def __init__(self, delay_s: float = 0.15) -> None:
        self.delay_s = delay_s
        self.enabled = threading.Event()

    def __call__(self, p: Progress) -> None:
        if p.stage == "denoising" and self.enabled.is_set():
            time.sleep(self.delay_s)


@contextmanager
def running_app(
    engine: Any, demucs_repo: Path, *, hook: Any = None, tabs: Any = None
) -> Iterator[tuple[Any, str]]:
    from workbench.core.store import Store
    from workbench.ui import DEFAULT_TABS, AppSettings, build_app
    from workbench.ui.launch import ServeOptions, launch

    settings = AppSettings(demucs_model="tinyht", demucs_repo=demucs_repo, progress_hook=hook)
    demo = build_app(engine, Store(), settings=settings, tabs=tabs or DEFAULT_TABS)
    port = free_port()
    launch(demo, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
    try:
        demo.context.model.wait(60)
        yield demo, f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
