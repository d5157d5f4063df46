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

        self.ticket_box = self.arm_fn.outputs[1]
        self.tickets: dict[str, str] = {}  # session -> the ticket its last Run click put in the hidden box

    def _call(self, fn: Any, inputs: list[Any], session: str) -> list[list[Any]]:
        """Every update the handler sends (one for a function, one per yield for a generator)."""
        from gradio.state_holder import SessionState

        async def drain() -> list[list[Any]]:
            request, state, iterator, updates = (
                gr.Request(session_hash=session),
                SessionState(self.blocks),
                None,
                [],
            )
            while True:
                out = await self.blocks.process_api(
                    fn, inputs, state=state, request=request, iterator=iterator
                )
                if out["is_generating"] or iterator is None:  # the last call only says the generator ended
                    updates.append(list(out["data"]))
                if not out["is_generating"]:
                    return updates
                iterator = out["iterator"]

        return asyncio.run(drain())

    def arm(self, session: str) -> str:
        """Click Run: the status it shows; the ticket it returns travels with the session's next job."""
        status, self.tickets[session] = self._call(self.arm_fn, [], session)[-1]
        return status

    def cancel(self, session: str) -> str:
        return self._call(self.cancel_fn, [], session)[-1][0]

    def job_updates(self, session: str, **values_by_elem: Any) -> list[str | None]:
        """Run the queued job with the form's initial values, some replaced by elem_id, and the ticket of the
        session's last Run click; returns the status after each update (None where it is unchanged)."""
        replaced = {self.by_elem[k]._id: v for k, v in values_by_elem.items()}
        ticket = self.tickets.get(session, "")
        inputs = [
            ticket if c is self.ticket_box else replaced.get(c._id, c.value) for c in self.job_fn.inputs
        ]
        return [u[0] if isinstance(u[0], str) else None for u in self._call(self.job_fn, inputs, session)]

    def job(self, session: str, **values_by_elem: Any) -> str:
        """The status the job leaves."""
        texts = [t for t in self.job_updates(session, **values_by_elem) if t is not None]
        return texts[-1] if texts else ""


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
    bob_updates: list[list[str | None]] = []
    bob = threading.Thread(target=lambda: bob_updates.append(events.job_updates("bob", **form)))
    bob.start()
    try:
        if not gate.entered.wait(60):
            raise TimeoutError("Bob's run never reached its first step")
        # Bob clicks Run again while his job runs: refused, his running job keeps its flag.
        assert events.arm("bob").startswith("**Already running:**")
        bob_flag = cancels.get("bob:generate")
        # Alice clicks Run (armed at once, her job waits in the queue), then Cancel before her job starts.
        assert events.arm("alice") == "Queued…"
        assert events.cancel("alice") == "Cancelling…"
        alice_flag = cancels.get("alice:generate")
        assert alice_flag is not bob_flag
        assert alice_flag.is_set() and not bob_flag.is_set()
        assert events.cancel("carol") == "Nothing to cancel."  # a session that never ran has nothing to stop
        assert not bob_flag.is_set()
    finally:
        gate.release.set()
        bob.join(120)
    assert not bob.is_alive()
    (updates,) = bob_updates
    assert updates[0] == "Running…", updates  # "Queued…" is replaced as soon as the job starts
    assert updates[-1] and updates[-1].startswith("**Done:** 1 take(s)"), updates

    # Alice's job starts only now and learns it was cancelled while it waited; her slot is free again.
    assert events.job("alice", **form) == "**Cancelled** before it started; nothing was saved."
    assert events.cancel("alice") == "Nothing to cancel."
    # The refused click's job (its ticket box is empty) changes nothing and runs nothing.
    assert events.tickets["bob"] == ""
    assert events.job_updates("bob", **form) == [None]
    # A fresh Run arms a fresh flag: the old Cancel does not stop the next run.
    assert events.arm("alice") == "Queued…"
    assert not cancels.get("alice:generate").is_set()
    assert events.job("alice", **form).startswith("**Done:**")
    assert events.cancel("alice") == "Nothing to cancel."  # the finished job freed the slot


def test_a_failed_job_leaves_its_error_in_the_status_and_frees_the_slot(generate_app) -> None:
    _app, _gate, events = generate_app
    events.arm("dave")
    with pytest.raises(gr.Error, match="steps"):
        events.job_updates("dave", **{"gen-caption": "x", "gen-duration": 1, "gen-steps": -3})
    assert events.arm("dave") == "Queued…"  # the slot was freed
    assert events.cancel("dave") == "Cancelling…"


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
