"""``build_app``: the status line, the tabs (each from its own module), the send-to wiring and the API layer."""

from __future__ import annotations

import importlib
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import gradio as gr

from workbench.core.store import Store
from workbench.engine.engine import Engine
from workbench.ui import ab_compare, jobs_panel, shortcuts, waveform
from workbench.ui.context import AppSettings, ModelHandle, TabContext
from workbench.ui.launch import ServeExtras, WebApp

log = logging.getLogger("workbench.ui")

# Tab modules in display order. A tab that fails to import or build shows in a Problems tab; the rest still work.
DEFAULT_TABS: tuple[str, ...] = (
    "workbench.ui.tab_generate",
    "workbench.ui.tab_edit",
    "workbench.ui.tab_style",
    "workbench.ui.tab_stems",
    "workbench.ui.tab_master",
    "workbench.ui.tab_history",
    "workbench.ui.tab_batch",
    "workbench.ui.tab_ab",
    "workbench.ui.tab_lora",
    "workbench.ui.tab_metrics",
)
STATUS_POLL_S = 1.5
TEMP_MAX_AGE_S = 7 * 86_400


@dataclass(frozen=True)
class TabError:
    name: str
    message: str


TabSource = str | ModuleType


def _load_tab(source: TabSource) -> ModuleType:
    return source if isinstance(source, ModuleType) else importlib.import_module(source)


@dataclass(frozen=True)
class WorkbenchApp(WebApp):
    """The workbench Blocks with its tab context and the tabs that failed to import or build."""

    context: TabContext
    tab_errors: tuple[TabError, ...]


def build_app(
    engine: Engine,
    store: Store,
    *,
    mode: str = "full",
    settings: AppSettings | None = None,
    tabs: Sequence[TabSource] = DEFAULT_TABS,
    load_model: bool = True,
) -> WorkbenchApp:
    """Build the workbench around ``engine`` and ``store``. Launching is the caller's job (``launch.launch``).

    ``load_model`` starts loading the engine's model in a background thread now (no-op if it is loaded already).
    With False the load starts once the server answers (the app's ``on_started``), so importing torch and
    diffusers does not compete with serving the first page.
    """
    settings = settings or AppSettings()
    ctx = TabContext(engine=engine, model=ModelHandle(engine), store=store, settings=settings, mode=mode)
    for folder in (ctx.runs_dir, ctx.temp_dir, ctx.loras_dir):
        folder.mkdir(parents=True, exist_ok=True)
    prune_temp(ctx.temp_dir)
    # delete_cache: Gradio's upload/output copies older than a week are removed once a day.
    with gr.Blocks(title=settings.title, analytics_enabled=False, delete_cache=(86_400, 604_800)) as demo:
        gr.Markdown(f"## {settings.title}")
        status = gr.Markdown(ctx.model.status_line(), elem_id="status-line")
        ctx.status = status
        shortcuts.hint()
        labels: dict[str, str] = {}  # tab id -> name, filled as the tabs are built
        jobs_panel.build(ctx, labels)
        from workbench.ui import api

        api.build(ctx)  # first, so the public endpoint names are not taken by UI events' default names
        with gr.Tabs() as tab_strip:
            errors = _build_tabs(ctx, tabs, mode, labels)
        ctx.send.wire(tab_strip)
        _wire_status(demo, ctx, status)
        for outputs, fn in ctx.load_hooks:
            demo.load(fn, None, outputs, api_visibility="private", show_progress="hidden")
    demo.queue(default_concurrency_limit=1)
    if load_model:
        ctx.model.start(warmup=warmup)
    extras = ServeExtras(
        allowed_paths=(ctx.runs_dir, ctx.temp_dir),  # the app's own data and temp folders, nothing else
        on_started=lambda: ctx.model.start(warmup=warmup),  # a no-op when it is loading or loaded already
        head=shortcuts.head_script() + waveform.head_script() + ab_compare.head_script(),
    )
    return WorkbenchApp(blocks=demo, extras=extras, context=ctx, tab_errors=tuple(errors))


def _build_tabs(
    ctx: TabContext, tabs: Sequence[TabSource], mode: str, labels: dict[str, str] | None = None
) -> list[TabError]:
    """One gr.Tab per module shown in ``mode``, and a "Problems" tab naming those that failed."""
    errors: list[TabError] = []
    for source in tabs:
        name = source if isinstance(source, str) else source.__name__
        try:
            module = _load_tab(source)
        except Exception as exc:  # a broken tab module must not take the other tabs down
            log.exception("tab %s failed to import", name)
            errors.append(TabError(name, f"{type(exc).__name__}: {exc}"))
            continue
        if mode not in getattr(module, "MODES", ("full",)):
            continue
        if labels is not None:
            labels[module.TAB_ID] = module.LABEL
        with gr.Tab(module.LABEL, id=module.TAB_ID, elem_id=f"tab-{module.TAB_ID}"):
            if getattr(module, "NEEDS_MODEL", False):
                ctx.model_notice()
            try:
                module.build(ctx)
            except Exception as exc:
                log.exception("tab %s failed to build", name)
                errors.append(TabError(name, f"{type(exc).__name__}: {exc}"))
                gr.Markdown(f"This tab failed to build: `{type(exc).__name__}: {exc}`")
    if errors:
        with gr.Tab("Problems", id="problems"):
            gr.Markdown("\n".join(f"- `{e.name}`: {e.message}" for e in errors))
    return errors


def prune_temp(folder: Path, max_age_s: float = TEMP_MAX_AGE_S) -> int:
    """Remove pictures, stems and mastered uploads older than ``max_age_s`` from the app's cache folder."""
    cutoff = time.time() - max_age_s
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed += 1
        except OSError:  # another process may be cleaning up too
            continue
    return removed


def warmup() -> None:
    """Pay librosa/numba's first-call compilation in the loader thread, not in the first user's request."""
    import numpy as np

    from evals.audio.summary import measure
    from workbench.core.audio_io import Audio

    t = np.arange(48_000 * 3) / 48_000
    measure(Audio(np.stack([np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32), 48_000))


def _wire_status(demo: Any, ctx: TabContext, status: Any) -> None:
    """Keep the status line and model notices current until the model settles, then run the ready hooks once."""
    timer = gr.Timer(STATUS_POLL_S, active=True)
    hook_outputs = [c for outputs, _fn in ctx.ready_hooks for c in outputs]
    done = gr.State(False)

    def tick(already: bool) -> list[Any]:
        state = ctx.model.state
        values: list[Any] = [ctx.model.status_line(), *[ctx.model.notice() for _ in ctx.notices]]
        settled = state != "loading"
        if state == "ready" and not already:
            for _outputs, fn in ctx.ready_hooks:
                values.extend(fn())
        else:
            values.extend(gr.skip() for _ in hook_outputs)
        values += [settled, gr.Timer(active=not settled)]
        return values

    outputs = [status, *ctx.notices, *hook_outputs, done, timer]
    for trigger in (timer.tick, demo.load):
        trigger(
            tick,
            inputs=[done],
            outputs=outputs,
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )
