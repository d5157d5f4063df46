"""The run / cancel protocol of ``TabContext.gpu_action``, driven through the Generate tab's real Blocks events.

Each event is called the way the server calls it (``Blocks.process_api`` with a request carrying the browser's
session hash), so the test covers what Gradio injects: the session key comes from the request, not from the tab.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from workbench.engine.engine import Progress

gr = pytest.importorskip("gradio")


class Gate:
    """Progress hook that holds a run at its first denoising step until released (the GPU slot stays busy)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, p: Progress) -> None:
        if p.stage == "denoising":
            self.entered.set()
            if not self.release.wait(120):
                raise TimeoutError("the test never released the gate")


class Events:
    """The Run button's arm and job events and the Cancel button's event of one tab, called per session."""

    def __init__(self, app: Any, run_id: str, cancel_id: str) -> None:
        self.blocks = app.blocks
        by_elem = {getattr(b, "elem_id", None): b for b in self.blocks.blocks.values()}
        run, cancel = by_elem[run_id], by_elem[cancel_id]
        fns = list(self.blocks.fns.values())
        self.arm_fn = next(f for f in fns if (run._id, "click") in [(t[0], t[1]) for t in f.targets])
        self.job_fn = next(f for f in fns if f.trigger_after == self.arm_fn._id)
        self.cancel_fn = next(f for f in fns if (cancel._id, "click") in [(t[0], t[1]) for t in f.targets])
        self.by_elem = by_elem

    def _call(self, fn: Any, inputs: list[Any], session: str) -> list[Any]:
        from gradio.state_holder import SessionState

        request = gr.Request(session_hash=session)
        out = asyncio.run(
            self.blocks.process_api(fn, inputs, state=SessionState(self.blocks), request=request)
        )
        return list(out["data"])

    def arm(self, session: str) -> str:
        return self._call(self.arm_fn, [], session)[0]

    def cancel(self, session: str) -> str:
        return self._call(self.cancel_fn, [], session)[0]

    def job(self, session: str, **values_by_elem: Any) -> str:
        """Run the queued job with the form's initial values, some replaced by elem_id; returns the status."""
        replaced = {self.by_elem[k]._id: v for k, v in values_by_elem.items()}
        inputs = [replaced.get(c._id, c.value) for c in self.job_fn.inputs]
        return self._call(self.job_fn, inputs, session)[0]


@pytest.fixture(scope="module")
def generate_app(engine):
    from workbench.core.store import Store
    from workbench.ui import AppSettings, build_app

    gate = Gate()
    app = build_app(
        engine, Store(), settings=AppSettings(progress_hook=gate), tabs=["workbench.ui.tab_generate"]
    )
    if not app.context.model.wait(60):
        raise TimeoutError("the tiny model did not load")
    yield app, gate, Events(app, "gen-run", "gen-cancel")
    app.close()


def test_cancel_is_per_session_and_survives_the_queue(generate_app) -> None:
    app, gate, events = generate_app
    form = {
        "gen-caption": "gate test",
        "gen-duration": 1,
        "gen-steps": 3,
        "gen-random-seed": False,
        "gen-seed": 5,
    }
    cancels = app.context.cancels

    # Bob's run holds the GPU slot at its first step.
    assert events.arm("bob") == "Queued…"
    bob_status: list[str] = []
    bob = threading.Thread(target=lambda: bob_status.append(events.job("bob", **form)))
    bob.start()
    try:
        if not gate.entered.wait(60):
            raise TimeoutError("Bob's run never reached its first step")
        # Alice clicks Run (armed at once, her job waits in the queue), then Cancel before her job starts.
        assert events.arm("alice") == "Queued…"
        assert events.cancel("alice") == "Cancelling…"
        alice_flag, bob_flag = cancels.get("alice:generate"), cancels.get("bob:generate")
        assert alice_flag is not bob_flag
        assert alice_flag.is_set() and not bob_flag.is_set()
        assert events.cancel("carol") == "Nothing to cancel."  # a session that never ran has nothing to stop
        assert not bob_flag.is_set()
    finally:
        gate.release.set()
        bob.join(120)
    assert not bob.is_alive()
    assert bob_status and bob_status[0].startswith("**Done:** 1 take(s)"), bob_status

    # Alice's job starts only now, and still sees the Cancel she pressed while it was queued.
    assert events.job("alice", **form).startswith("**Cancelled** after 0 of 3 steps")
    # A fresh Run arms a fresh flag: the old Cancel does not stop the next run.
    assert events.arm("alice") == "Queued…"
    assert not cancels.get("alice:generate").is_set()
    assert events.job("alice", **form).startswith("**Done:**")


def test_gpu_actions_are_private_on_the_gpu_slot_and_arm_unqueued(generate_app) -> None:
    from workbench.ui import GPU_CONCURRENCY_ID

    _app, _gate, events = generate_app
    assert events.arm_fn.queue is False and events.cancel_fn.queue is False
    assert events.job_fn.concurrency_id == GPU_CONCURRENCY_ID
    assert {events.arm_fn.api_visibility, events.job_fn.api_visibility, events.cancel_fn.api_visibility} == {
        "private"
    }


def test_no_tab_takes_the_request_itself() -> None:
    """Per-session keys come from ``gpu_action``'s own handlers; a tab never annotates gr.Request, so it cannot
    get the annotation wrong (an unresolved one silently shares one cancel key between all sessions)."""
    import importlib
    import inspect

    from workbench.ui.shell import DEFAULT_TABS

    for name in DEFAULT_TABS:
        assert "gr.Request" not in inspect.getsource(importlib.import_module(name)), name


def test_every_ui_function_fits_on_a_screen() -> None:
    import ast
    from pathlib import Path

    import workbench.ui

    folder = Path(workbench.ui.__file__).parent
    long = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long
