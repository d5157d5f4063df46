"""Fixtures for the UI tests: the workbench app launched in-process around the tiny engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from workbench.engine.engine import Progress


class SlowSteps:
    """Progress hook that sleeps per denoising step while ``enabled`` - makes tiny runs long enough to cancel."""

    def __init__(self, delay_s: float = 0.15) -> None:
        self.delay_s = delay_s
        self.enabled = threading.Event()

    def __call__(self, p: Progress) -> None:
        if p.stage == "denoising" and self.enabled.is_set():
            time.sleep(self.delay_s)


@pytest.fixture(scope="session")
def slow_steps() -> type[SlowSteps]:
    """``slow_steps(delay_s=0.15)``: a progress hook that sleeps per denoising step while its ``enabled`` is set."""
    return SlowSteps


@pytest.fixture(scope="session")
def running_app(free_port: Callable[[], int]) -> Callable[..., AbstractContextManager[tuple[Any, str]]]:
    """``with running_app(engine, demucs_repo, hook=None, tabs=None) as (demo, url)``: the app served on a free
    port until the block ends."""

    @contextmanager
    def run(
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

    return run
