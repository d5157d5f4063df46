"""Keyboard shortcuts of the main app: Ctrl/Cmd+Enter runs the visible tab's main action, Escape cancels it.

A page-head script, so it works on every tab without a per-tab event: it clicks the first *visible* button among
the tab's run (or cancel) buttons, which is exactly what a mouse click there would do, server checks included
(one run per session, "Already running").
"""

from __future__ import annotations

import json

import gradio as gr

# The run and cancel buttons per tab, in the order tried (only the visible tab's buttons are visible).
RUN_BUTTONS = ("gen-run", "edit-run", "style-run", "stems-run", "master-run", "batch-run")
CANCEL_BUTTONS = ("gen-cancel", "edit-cancel", "style-cancel", "batch-cancel")
HELP = (
    "Shortcuts: **Ctrl+Enter** (⌘+Enter) runs this tab · **Esc** cancels your run · "
    "**Space** plays/pauses · **B** switches before/after at the same position · **[** / **]** loop start/end"
)


def head_script() -> str:
    """The ``<script>`` for the page head."""
    config = json.dumps({"run": RUN_BUTTONS, "cancel": CANCEL_BUTTONS})
    return (
        "<script>(() => {const ids = " + config + ";"
        "const visible = (list) => list.map((id) => document.querySelector('#' + id))"
        ".find((b) => b && b.offsetParent !== null);"
        "document.addEventListener('keydown', (e) => {"
        "let target = null;"
        "if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) target = visible(ids.run);"
        "else if (e.key === 'Escape') target = visible(ids.cancel);"
        "if (target) { e.preventDefault(); target.click(); }"
        "});})();</script>"
    )


def hint() -> gr.Markdown:
    """A one-line reminder of the shortcuts, under the status line."""
    return gr.Markdown(HELP, elem_id="shortcut-hint")
