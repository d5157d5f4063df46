"""History tab: the library of recorded runs. Search, play, reload settings, send on, delete (with confirmation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Module level, not inside build(): Gradio resolves gr.Request / gr.SelectData annotations through the
# module globals, and with postponed annotations a local import leaves them unresolvable (never injected).
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


def _rows(ctx: TabContext, q: str, g: str, m: str, lo: str, since: str, until: str) -> list[list[Any]]:
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


def build(ctx: TabContext) -> None:
    genres = load_genres()
    with gr.Row():
        text = gr.Textbox(label="Search caption / lyrics", elem_id="hist-text", scale=3)
        genre = gr.Dropdown(
            [("any", "")] + [(g.label, k) for k, g in genres.items()], value="", label="Genre"
        )
        model = gr.Textbox(label="Model", placeholder="e.g. turbo")
        lora = gr.Textbox(label="LoRA contains")
        since = gr.Textbox(label="From (YYYY-MM-DD)")
        until = gr.Textbox(label="To (YYYY-MM-DD)")
    search = gr.Button("Search", elem_id="hist-search")
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="hist-table")
    ctx.on_page_load([table], lambda: _rows(ctx, "", "", "", "", "", ""))  # newest runs without a click
    with gr.Row():
        run_id = gr.Textbox(label="Selected run id", elem_id="hist-run-id", scale=3)
        open_btn = gr.Button("Open", elem_id="hist-open")
    with gr.Group(visible=False) as detail:
        player = gr.Audio(type="filepath", interactive=False, label="Take", elem_id="hist-audio")
        with gr.Accordion("Recipe", open=False):
            recipe = gr.Code(language="json", interactive=False)
        payload = gr.State(None)
        with gr.Row():
            reload_btn = gr.Button("Reload settings in Generate", elem_id="hist-reload")
            to_edit = gr.Button("Send to Edit", elem_id="hist-to-edit")
            to_style = gr.Button("Send to Style transfer", elem_id="hist-to-style")
            to_stems = gr.Button("Send to Stems", elem_id="hist-to-stems")
            to_master = gr.Button("Send to Mastering", elem_id="hist-to-master")
            delete = gr.Button("Delete…", variant="stop", elem_id="hist-delete")
        with gr.Row(visible=False) as confirm_row:
            confirm_text = gr.Markdown()
            confirm = gr.Button(
                "Yes, delete the files and the record", variant="stop", elem_id="hist-confirm"
            )
            keep = gr.Button("Keep it", elem_id="hist-keep")
    status = gr.Markdown(elem_id="hist-status")

    for button, target in (
        (reload_btn, "generate"),
        (to_edit, "edit"),
        (to_style, "style"),
        (to_stems, "stems"),
        (to_master, "master"),
    ):
        ctx.send.sender(button, payload, target)

    @ui_errors
    def ui_search(q: str, g: str, m: str, lo: str, since_: str, until_: str) -> list[list[Any]]:
        return _rows(ctx, q, g, m, lo, since_, until_)

    filters = [text, genre, model, lora, since, until]
    search.click(ui_search, filters, table, api_visibility="private")
    text.submit(ui_search, filters, table, api_visibility="private")

    def select(evt: gr.SelectData) -> str:
        row = evt.row_value if isinstance(evt.row_value, list) else []
        return str(row[0]) if row else gr.skip()

    @ui_errors
    def ui_open(rid: str) -> list[Any]:
        rid = (rid or "").strip()
        row = ctx.store.get_run(rid)
        if row is None:
            raise gr.Error(f"run_id={rid!r}: no such run; search and pick one from the table")
        recipe_data = row.recipe
        return [
            gr.Group(visible=True),
            row.audio_path if Path(row.audio_path).is_file() else None,
            json.dumps(recipe_data, indent=2, sort_keys=True),
            take_payload(row.id, row.audio_path, recipe_data.get("request")),
            gr.Row(visible=False),
            f"Run `{row.id}` · {row.task} · seed {row.seed}",
        ]

    open_outputs = [detail, player, recipe, payload, confirm_row, status]
    table.select(select, None, run_id, queue=False, api_visibility="private").then(
        ui_open, run_id, open_outputs, api_visibility="private"
    )
    open_btn.click(ui_open, run_id, open_outputs, api_visibility="private")

    def ask(p: dict[str, Any] | None) -> list[Any]:
        if not p:
            return [gr.Row(visible=False), ""]
        return [
            gr.Row(visible=True),
            f"Delete run `{p['run_id']}`, its audio and its sidecar? This cannot be undone.",
        ]

    delete.click(ask, payload, [confirm_row, confirm_text], queue=False, api_visibility="private")
    keep.click(lambda: gr.Row(visible=False), None, confirm_row, queue=False, api_visibility="private")

    @ui_errors
    def ui_delete(p: dict[str, Any] | None, *filter_values: Any) -> list[Any]:
        if not p or not p.get("run_id"):
            raise gr.Error("Open a run first.")
        gone = ctx.store.delete_run(p["run_id"])
        message = f"Deleted `{p['run_id']}`." if gone else f"`{p['run_id']}` was already gone."
        return [gr.Row(visible=False), gr.Group(visible=False), None, message, ui_search(*filter_values)]

    confirm.click(
        ui_delete,
        [payload, *filters],
        [confirm_row, detail, payload, status, table],
        api_visibility="private",
    )
