"""Blind A/B tab (admin): create or import a campaign, follow its progress and standings, export its votes.

Raters never see this tab: they use the rater-only app (``python app.py --mode rater``), which has no admin tabs
and no admin endpoints. Everything here calls ``workbench.campaigns``; the tab only formats.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from workbench.campaigns import db
from workbench.campaigns.config import config_from_dict
from workbench.campaigns.export import export_votes
from workbench.campaigns.status import campaign_status
from workbench.campaigns.stimuli import create_campaign
from workbench.core import paths
from workbench.core.config import parse_yaml
from workbench.core.errors import ConfigError, InputError
from workbench.ui import ab_codes
from workbench.ui.context import GPU_CONCURRENCY_ID, TabContext, ui_errors

TAB_ID = "ab"
LABEL = "Blind A/B"
NEEDS_MODEL = False
MODES = ("full",)
EXAMPLE = paths.CONFIG_DIR / "campaigns" / "example.yaml"
STANDINGS_HEADERS = ["system", "rating", "ci low", "ci high", "votes", "win rate", "both bad", "rank"]


def create_from_yaml(
    ctx: TabContext, text: str, base_dir: str, log: Any = None
) -> tuple[str, list[list[str]]]:
    """Create a campaign from YAML text. Returns (message, [[rater, code], ...] for generated codes)."""
    data = parse_yaml(text or "", "campaign YAML", "editor")
    base = Path(base_dir).expanduser() if (base_dir or "").strip() else None
    if base is not None and not base.is_dir():
        raise InputError("base folder", str(base), "not a folder; relative import_dir paths start here")
    config = config_from_dict(data, base_dir=base.resolve() if base else None)
    app_model = ctx.engine.model_name

    def engine_for(model: str) -> Any:
        if model != app_model:
            raise InputError(
                "systems.model",
                model,
                f"this app runs '{app_model}'; use it here, or create the campaign with `workbench campaign create`",
            )
        return ctx.require_engine()

    lines: list[str] = []
    codes = create_campaign(ctx.store, config, engine_for, log=log or lines.append)
    message = (
        f"Campaign **{config.name}** is open. Serve raters with `workbench app --mode rater --campaign {config.name}`."
        + (" Generated login codes are below; **Rater login codes** shows them again." if codes else "")
    )
    return message, [[rater, code] for rater, code in codes.items()]


def status_view(ctx: TabContext, name: str) -> tuple[str, list[list[Any]]]:
    if not name:
        return "Pick a campaign.", []
    status = campaign_status(ctx.store, name)
    rows = [
        [r[0], round(r[1]), round(r[2]), round(r[3]), r[4], round(r[5], 3), round(r[6], 3), r[7]]
        for r in status.standings
    ]
    return "\n\n".join(status.lines()[:7] + [f"**{w}**" for w in status.warnings]), rows


def export_file(ctx: TabContext, name: str, fmt: str) -> str:
    if not name:
        raise InputError("campaign", name, "pick a campaign to export")
    suffix = ".parquet" if fmt == "Parquet" else ".csv"
    out = ctx.temp_dir / "campaign-exports" / f"{name}-votes{suffix}"
    export_votes(ctx.store, name, out)
    return str(out)


def set_open(ctx: TabContext, name: str, open_: bool) -> tuple[str, list[list[Any]]]:
    """Close (``open_`` False) or reopen the campaign, then its status; closing makes the report's last look final."""
    if not name:
        raise InputError("campaign", name, "pick a campaign to close or reopen")
    if open_:
        db.change_status(ctx.store, name, to="open", was="closed")
        done = f"Reopened {name}: raters can vote again (restart its rater server if it was stopped)."
    else:
        db.change_status(ctx.store, name, to="closed", was="open")
        done = f"Closed {name}: raters get no more trials; the report reads the votes there are as final."
    text, rows = status_view(ctx, name)
    return f"**{done}**\n\n{text}", rows


@dataclass
class AbComponents:
    editor: Any
    base: Any
    create: Any
    created: Any
    codes: Any
    campaign: Any
    refresh: Any
    status: Any
    standings: Any
    fmt: Any
    export: Any
    exported: Any
    close: Any
    reopen: Any


def _create_layout() -> tuple[Any, Any, Any, Any, Any]:
    editor = gr.Code(
        EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.is_file() else "",
        language="yaml",
        label="Campaign YAML (unknown keys are rejected)",
        elem_id="ab-yaml",
    )
    base = gr.Textbox(str(EXAMPLE.parent), label="Base folder for relative import paths", elem_id="ab-base")
    create = gr.Button("Create campaign", variant="primary", elem_id="ab-create")
    created = gr.Markdown(elem_id="ab-created")
    codes = gr.Dataframe(headers=["rater", "code"], label="Rater login codes", interactive=False)
    return editor, base, create, created, codes


def _layout(ctx: TabContext) -> AbComponents:
    gr.Markdown(
        "Blind pairwise listening tests per venue. Create a campaign (systems generated here or imported from a "
        "folder with a `prompt_id,file` CSV), hand out the rater codes, and serve raters with "
        "`workbench app --mode rater --campaign NAME`. See docs/ab-campaigns.md."
    )
    with gr.Accordion("Create or import a campaign", open=False):
        editor, base, create, created, codes = _create_layout()
    with gr.Row():
        campaign = gr.Dropdown(db.list_campaigns(ctx.store), label="Campaign", elem_id="ab-campaign", scale=3)
        refresh = gr.Button("Refresh", scale=1)
    status = gr.Markdown(elem_id="ab-status")
    standings = gr.Dataframe(
        headers=STANDINGS_HEADERS, label="Running standings (Bradley-Terry)", interactive=False
    )
    with gr.Row():
        fmt = gr.Radio(["CSV", "Parquet"], value="CSV", label="Export format")
        export = gr.Button("Export votes")
        exported = gr.File(label="Votes file", interactive=False)
    with gr.Row():
        close = gr.Button("Close campaign (stop votes)", elem_id="ab-close", scale=0)
        reopen = gr.Button("Reopen", elem_id="ab-reopen", scale=0)
    ab_codes.build(ctx, campaign)
    return AbComponents(
        editor,
        base,
        create,
        created,
        codes,
        campaign,
        refresh,
        status,
        standings,
        fmt,
        export,
        exported,
        close,
        reopen,
    )


def on_create(ctx: TabContext, text: str, base_dir: str, progress: gr.Progress = gr.Progress()) -> list[Any]:
    def log(message: str) -> None:
        progress(0.5, desc=message)

    message, rows = create_from_yaml(ctx, text, base_dir, log)
    return [message, rows, gr.update(choices=db.list_campaigns(ctx.store), value=config_name(text))]


def on_refresh(ctx: TabContext, name: str) -> list[Any]:
    text, rows = status_view(ctx, name)
    return [text, rows, gr.update(choices=db.list_campaigns(ctx.store))]


def _wire(ctx: TabContext, c: AbComponents) -> None:
    c.create.click(
        ui_errors(functools.partial(on_create, ctx)),
        [c.editor, c.base],
        [c.created, c.codes, c.campaign],
        concurrency_id=GPU_CONCURRENCY_ID,
        api_visibility="private",
    )
    refresh = ui_errors(functools.partial(on_refresh, ctx))
    for trigger in (c.refresh.click, c.campaign.input):
        trigger(refresh, [c.campaign], [c.status, c.standings, c.campaign], api_visibility="private")
    export = ui_errors(functools.partial(export_file, ctx))
    c.export.click(export, [c.campaign, c.fmt], [c.exported], api_visibility="private")
    for button, open_ in ((c.close, False), (c.reopen, True)):
        change = ui_errors(functools.partial(lambda ctx, open_, name: set_open(ctx, name, open_), ctx, open_))
        button.click(change, [c.campaign], [c.status, c.standings], api_visibility="private")


def build(ctx: TabContext) -> None:
    c = _layout(ctx)
    _wire(ctx, c)
    # campaigns created since the app was built (CLI, another tab) appear on every page load
    ctx.on_page_load([c.campaign], lambda: gr.update(choices=db.list_campaigns(ctx.store)))


def config_name(text: str) -> str | None:
    try:
        data = parse_yaml(text or "", "campaign YAML", "editor") or {}
    except ConfigError:
        return None
    return str(data.get("name")) if isinstance(data, dict) and data.get("name") else None
