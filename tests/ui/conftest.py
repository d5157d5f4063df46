"""Fixtures for the UI tests: the workbench app launched in-process around the tiny engine."""

from __future__ import annotations

import shutil
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


# Headless and quiet: no GPU, no background network, no component updates, no sync.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="session")
def launch_chromium() -> Callable[..., Any]:
    """``launch_chromium(playwright, *extra_flags)``: Debian's chromium through Playwright's executable_path (never
    a downloaded browser). Tests that take it are skipped where chromium or playwright is missing."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip("Debian chromium is not installed")
    pytest.importorskip("playwright.sync_api")

    def launch(playwright: Any, *extra_flags: str) -> Any:
        return playwright.chromium.launch(executable_path=path, args=[*CHROMIUM_FLAGS, *extra_flags])

    return launch


@pytest.fixture
def ctx(engine: Any, tmp_path: Path) -> Any:
    """A tab context around the tiny engine with its own store, runs and temp folders."""
    from workbench.core.store import Store
    from workbench.ui.context import AppSettings, ModelHandle, TabContext

    return TabContext(
        engine=engine,
        model=ModelHandle(engine),
        store=Store(tmp_path / "store.sqlite"),
        settings=AppSettings(),
        runs_dir=tmp_path / "runs",
        temp_dir=tmp_path / "ui",
    )
