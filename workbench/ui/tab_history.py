"""History tab: the library of recorded runs. Search, play, reload settings, send on, delete (with confirmation)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Module level: Gradio resolves the gr.SelectData annotation of ``select`` through the module's globals.
import gradio as gr

from workbench.core.genres import load_genres
from workbench.ui.context import TabContext, take_payload, ui_errors

TAB_ID = "history"
LABEL = "History"
NEEDS_MODEL = False
MODES = ("full",)
COLUMNS = ["run id", "created (UTC)", "task", "model", "genre", "LoRA", "seed", "duration s", "prompt"]


def _date(value: str, end: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) == 10:  # a plain date covers the whole day
        return value + ("T23:59:59Z" if end else "T00:00:00Z")
    return value


def _rows(
    ctx: TabContext, q: str = "", g: str = "", m: str = "", lo: str = "", since: str = "", until: str = ""
) -> list[list[Any]]:
    rows = ctx.store.list_runs(
        text=q or None,
        genre=g or None,
        model=(m or "").strip() or None,
        lora=(lo or "").strip() or None,
        since=_date(since, False),
        until=_date(until, True),
    )
    return [
        [
            r.id,
            r.created_at,
            r.task,
            r.model,
            r.genre or "",
            Path(r.lora).name if r.lora else "",
            r.seed,
            round(r.duration_s, 2),
            r.prompt[:80],
        ]
        for r in rows
    ]


@dataclass
class HistoryComponents:
    filters: list[Any]  # caption text, genre, model, LoRA, since, until (the arguments of ``_rows``)
    search: Any
    table: Any
    run_id: Any
    open: Any
    detail: Any
    player: Any
    recipe: Any
    payload: Any  # gr.State: take_payload of the open run
    senders: dict[str, Any]  # send-to target -> button
    delete: Any
    confirm_row: Any
    confirm_text: Any
    confirm: Any
    keep: Any
    status: Any

    @property
    def open_outputs(self) -> list[Any]:
        return [self.detail, self.player, self.recipe, self.payload, self.confirm_row, self.status]


def _filters(genres: dict[str, Any]) -> list[Any]:
    with gr.Row():
        return [
            gr.Textbox(label="Search caption / lyrics", elem_id="hist-text", scale=3),
            gr.Dropdown([("any", "")] + [(g.label, k) for k, g in genres.items()], value="", label="Genre"),
            gr.Textbox(label="Model", placeholder="e.g. turbo"),
            gr.Textbox(label="LoRA contains"),
            gr.Textbox(label="From (YYYY-MM-DD)"),
            gr.Textbox(label="To (YYYY-MM-DD)"),
        ]


def _senders() -> dict[str, Any]:
    return {
        "generate": gr.Button("Reload settings in Generate", elem_id="hist-reload"),
        "edit": gr.Button("Send to Edit", elem_id="hist-to-edit"),
        "style": gr.Button("Send to Style transfer", elem_id="hist-to-style"),
        "stems": gr.Button("Send to Stems", elem_id="hist-to-stems"),
        "master": gr.Button("Send to Mastering", elem_id="hist-to-master"),
    }


def _layout() -> HistoryComponents:
    filters = _filters(load_genres())
    search = gr.Button("Search", elem_id="hist-search")
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="hist-table")
    with gr.Row():
        run_id = gr.Textbox(label="Selected run id", elem_id="hist-run-id", scale=3)
        open_btn = gr.Button("Open", elem_id="hist-open")
    with gr.Group(visible=False) as detail:
        player = gr.Audio(type="filepath", interactive=False, label="Take", elem_id="hist-audio")
        with gr.Accordion("Recipe", open=False):
            recipe = gr.Code(language="json", interactive=False)
        payload = gr.State(None)
        with gr.Row():
            senders = _senders()
            delete = gr.Button("Delete…", variant="stop", elem_id="hist-delete")
        with gr.Row(visible=False) as confirm_row:
            confirm_text = gr.Markdown()
            confirm = gr.Button(
                "Yes, delete the files and the record", variant="stop", elem_id="hist-confirm"
            )
            keep = gr.Button("Keep it", elem_id="hist-keep")
    status = gr.Markdown(elem_id="hist-status")
    return HistoryComponents(
        filters,
        search,
        table,
        run_id,
        open_btn,
        detail,
        player,
        recipe,
        payload,
        senders,
        delete,
        confirm_row,
        confirm_text,
        confirm,
        keep,
        status,
    )


def select(evt: gr.SelectData) -> str:
    row = evt.row_value if isinstance(evt.row_value, list) else []
    return str(row[0]) if row else gr.skip()


def open_run(ctx: TabContext, rid: str) -> list[Any]:
    rid = (rid or "").strip()
    row = ctx.store.get_run(rid)
    if row is None:
        raise gr.Error(f"run_id={rid!r}: no such run; search and pick one from the table")
    recipe_data = row.recipe
    return [
        gr.Group(visible=True),
        row.audio_path if Path(row.audio_path).is_file() else None,
        json.dumps(recipe_data, indent=2, sort_keys=True),
        take_payload(row.id, row.audio_path, recipe_data.get("request"), row.seed),
        gr.Row(visible=False),
        f"Run `{row.id}` · {row.task} · seed {row.seed}",
    ]


def ask(p: dict[str, Any] | None) -> list[Any]:
    if not p:
        return [gr.Row(visible=False), ""]
    return [
        gr.Row(visible=True),
        f"Delete run `{p['run_id']}`, its audio and its sidecar? This cannot be undone.",
    ]


def delete_run(ctx: TabContext, p: dict[str, Any] | None, *filter_values: Any) -> list[Any]:
    if not p or not p.get("run_id"):
        raise gr.Error("Open a run first.")
    gone = ctx.store.delete_run(p["run_id"])
    message = f"Deleted `{p['run_id']}`." if gone else f"`{p['run_id']}` was already gone."
    return [gr.Row(visible=False), gr.Group(visible=False), None, message, _rows(ctx, *filter_values)]


def _wire(ctx: TabContext, c: HistoryComponents) -> None:
    ctx.on_page_load([c.table], lambda: _rows(ctx))  # newest runs without a click
    for target, button in c.senders.items():
        ctx.send.sender(button, c.payload, target)
    search = ui_errors(functools.partial(_rows, ctx))
    c.search.click(search, c.filters, c.table, api_visibility="private")
    c.filters[0].submit(search, c.filters, c.table, api_visibility="private")
    opener = ui_errors(functools.partial(open_run, ctx))
    c.table.select(select, None, c.run_id, queue=False, api_visibility="private").then(
        opener, c.run_id, c.open_outputs, api_visibility="private"
    )
    c.open.click(opener, c.run_id, c.open_outputs, api_visibility="private")
    c.delete.click(ask, c.payload, [c.confirm_row, c.confirm_text], queue=False, api_visibility="private")
    c.keep.click(lambda: gr.Row(visible=False), None, c.confirm_row, queue=False, api_visibility="private")
    c.confirm.click(
        ui_errors(functools.partial(delete_run, ctx)),
        [c.payload, *c.filters],
        [c.confirm_row, c.detail, c.payload, c.status, c.table],
        api_visibility="private",
    )


def build(ctx: TabContext) -> None:
    _wire(ctx, _layout())
