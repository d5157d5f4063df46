"""The job list: every queued and running job of the app (the Run buttons' job slots), across tabs and sessions.

Each row names its tab, its state and when it was queued and started; other sessions' jobs show as "another
session" and nothing more. The session's own jobs can be cancelled here, exactly as the tab's Cancel would.
Jobs that never enter the shared queue slot (Mastering, Stems, LoRA training) have their own status lines.
A timer refreshes the display only; the slots themselves change on Run, start, end and Cancel.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr

from workbench.ui.context import JobEntry, TabContext, session_key

REFRESH_S = 1.5
EMPTY = "No jobs queued or running."


def _clock(t: float | None, now: float) -> str:
    if t is None:
        return "—"
    return f"{time.strftime('%H:%M:%S', time.localtime(t))} ({max(0, round(now - t))} s ago)"


def table(entries: Sequence[JobEntry], session: str, labels: Mapping[str, str], now: float) -> str:
    """The job list as a Markdown table, the viewer's own jobs marked "you"."""
    if not entries:
        return EMPTY
    lines = ["| Tab | State | Queued | Started | Whose |", "|---|---|---|---|---|"]
    for e in entries:
        whose = "**you**" if e.session == session else "another session"
        label = labels.get(e.tab, e.tab)
        lines.append(
            f"| {label} | {e.state} | {_clock(e.queued_at, now)} | {_clock(e.started_at, now)} | {whose} |"
        )
    return "\n".join(lines)


def own_choices(
    entries: Sequence[JobEntry], session: str, labels: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(label, tab id) of the viewer's jobs that Cancel can still reach (not already cancelling)."""
    return [
        (f"{labels.get(e.tab, e.tab)} ({e.state})", e.tab)
        for e in entries
        if e.session == session and e.state != "cancelling"
    ]


def build(ctx: TabContext, labels: Mapping[str, str]) -> None:
    """The panel (under the status line). ``labels`` maps tab ids to their names; the shell fills it as it
    builds the tabs, so it is read at refresh time."""
    with gr.Accordion("Jobs: queued and running, all tabs", open=False, elem_id="jobs-panel"):
        listing = gr.Markdown(EMPTY, elem_id="jobs-table")
        with gr.Row():
            mine = gr.Dropdown(
                [], value=None, label="Your job", elem_id="jobs-mine", allow_custom_value=False, scale=3
            )
            cancel = gr.Button("Cancel this job", variant="stop", size="sm", elem_id="jobs-cancel", scale=1)
        note = gr.Markdown(elem_id="jobs-note")
    timer = gr.Timer(REFRESH_S)

    def refresh(chosen: str | None, request: gr.Request) -> list[Any]:
        entries = ctx.cancels.jobs()
        session = getattr(request, "session_hash", None) or "no-session"
        choices = own_choices(entries, session, labels)
        tabs = [tab for _label, tab in choices]
        value = chosen if chosen in tabs else (tabs[0] if tabs else None)
        return [table(entries, session, labels, time.time()), gr.Dropdown(choices=choices, value=value)]

    def cancel_job(tab: str | None, request: gr.Request) -> str:
        if not tab:
            return "You have no queued or running job."
        name = labels.get(tab, tab)
        if ctx.cancels.cancel(session_key(request, tab)):
            return f"Cancelling your {name} job…"
        return f"Your {name} job has already ended."

    quiet: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
    timer.tick(refresh, mine, [listing, mine], **quiet)
    cancel.click(cancel_job, mine, note, **quiet).then(refresh, mine, [listing, mine], **quiet)
