"""Blind A/B tab: the rater login codes panel. Codes shown at create are not lost with the page: the organiser can
show the generated codes again (``campaigns.codes`` keeps the organiser's copy) and issue a new code for a rater,
which also logs that rater out everywhere."""

from __future__ import annotations

import functools
from typing import Any

import gradio as gr

from workbench.campaigns import codes
from workbench.core.errors import InputError
from workbench.ui.context import TabContext, ui_errors

HEADERS = ["rater", "code"]


def show_codes(ctx: TabContext, campaign: str) -> list[list[str]]:
    if not campaign:
        raise InputError("campaign", campaign, "pick a campaign first")
    return codes.code_rows(ctx.store, campaign)


def issue_code(ctx: TabContext, campaign: str, rater: str) -> list[Any]:
    if not campaign:
        raise InputError("campaign", campaign, "pick a campaign first")
    rater = (rater or "").strip()
    if not rater:
        raise InputError("rater", rater, "type the rater id to issue a new code for")
    code = codes.reset(ctx.store, campaign, rater)
    message = (
        f"New code for **{rater}**: `{code}`. The old code no longer works and {rater}'s open pages are "
        "logged out; hand the new code over."
    )
    return [message, codes.code_rows(ctx.store, campaign)]


def build(ctx: TabContext, campaign: Any) -> None:
    """The panel, under the tab's campaign picker ``campaign``."""
    with gr.Accordion("Rater login codes", open=False, elem_id="ab-codes"):
        gr.Markdown(
            "Codes are stored hashed; the codes generated here or by `workbench campaign create` are kept for "
            "you in the campaign folder (`codes.csv`, owner-only)."
        )
        show = gr.Button("Show codes", elem_id="ab-codes-show")
        table = gr.Dataframe(headers=HEADERS, interactive=False, elem_id="ab-codes-table")
        with gr.Row():
            rater = gr.Textbox(label="Rater id", elem_id="ab-codes-rater", scale=3)
            issue = gr.Button("Issue a new code", elem_id="ab-codes-issue", scale=1)
        note = gr.Markdown(elem_id="ab-codes-note")
    show.click(ui_errors(functools.partial(show_codes, ctx)), [campaign], [table], api_visibility="private")
    issue.click(
        ui_errors(functools.partial(issue_code, ctx)),
        [campaign, rater],
        [note, table],
        api_visibility="private",
    )
