"""Fixtures for the UI tests: the workbench app launched in-process around the tiny engine."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from workbench.engine.engine import Progress


class StepGate:
    """Progress hook that holds a run at its second denoising step while ``held``, until ``release()``.

    Step 1's progress reaches the page first, so a browser test sees a live run, acts on it (Cancel, a second
    session's Run), then releases it: what happens is decided by events, never by how fast the tiny model steps.
    """

    def __init__(self) -> None:
        self._held = threading.Event()
        self._open = threading.Event()
        self._at = "step"
        self.reached = threading.Event()  # set when a run is being held (server side)

    def hold(self, at: str = "step") -> None:
        """Hold runs at their second denoising step (``at="step"``), or right after the VAE decode has ended
        and before the engine reports it (``at="decoded"``: the page's decode stage is then live)."""
        self._at = at
        self.reached.clear()
        self._open.clear()
        self._held.set()

    def release(self) -> None:
        self._held.clear()
        self._open.set()

    def __call__(self, p: Progress) -> None:
        if not self._held.is_set():
            return
        at_step = self._at == "step" and p.stage == "denoising" and p.step >= 2
        decoded = self._at == "decoded" and p.stage == "decoding" and 0 < p.step == p.total
        if at_step or decoded:
            self.reached.set()
            self._open.wait(120)  # bounded: a failing test must not hang the suite


@pytest.fixture(scope="session")
def step_gate() -> type[StepGate]:
    """``step_gate()``: a progress hook that holds runs at their second step between ``hold()`` and ``release()``."""
    return StepGate


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


@pytest.fixture(scope="session")
def app_page(
    engine: Any, running_app: Callable[..., Any], launch_chromium: Callable[..., Any]
) -> Callable[..., AbstractContextManager[Any]]:
    """``with app_page(demucs_repo, *chromium_flags, hook=None) as page``: a Chromium page on the app served around
    the tiny engine, once its model is loaded."""

    @contextmanager
    def open_page(demucs_repo: Path, *flags: str, hook: Any = None) -> Iterator[Any]:
        from playwright.sync_api import sync_playwright

        with running_app(engine, demucs_repo, hook=hook) as (_demo, url), sync_playwright() as p:
            browser = launch_chromium(p, *flags)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(url, wait_until="load")
                page.wait_for_selector("#status-line:has-text('device')")
                yield page
            finally:
                browser.close()

    return open_page


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


RATER_MIN_LISTEN_S = 0.6  # the rater-page tests' listening gate


@pytest.fixture
def rater_server(
    tmp_path: Path, new_campaign: Any, free_port: Callable[[], int]
) -> Iterator[tuple[Any, str, str]]:
    """(store, campaign name, url): a one-rater, four-trial campaign (no gold, no repeats) behind the rater app."""
    import secrets

    from workbench.core.store import Store
    from workbench.ui.launch import ServeOptions, launch
    from workbench.ui.rater import build_rater_app

    store, name = Store(), f"rater-page-{secrets.token_hex(3)}"  # the session's store is shared
    new_campaign(
        store,
        tmp_path / "imp",
        name=name,
        raters=1,
        quota=4,
        min_listen_s=RATER_MIN_LISTEN_S,
        gold_rate=0.0,
        repeat_rate=0.0,
    )
    app = build_rater_app(store, campaign=name, tracking=False)
    port = free_port()
    launch(app, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
    yield store, name, f"http://127.0.0.1:{port}/"
    app.close()


def log_in_rater(page: Any, url: str) -> Any:
    """Log in as that campaign's one rater and wait for the first trial; returns the progress line."""
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_label("username").fill("rater00")
    page.get_by_label("password").fill("code-0000")
    page.keyboard.press("Enter")
    progress = page.locator("#ab_progress")
    expect(progress).to_contain_text("Trial 1 of 4", timeout=30_000)
    return progress
