"""What every tab gets: the ``TabContext`` (engine handle, store, folders, the ``Workbench`` that runs and records,
cancel flags, send-to bus, helpers).

Nothing here holds per-user state at module level. Per-user things are keyed by Gradio's session hash
(cancel flags) or live in ``gr.State`` inside the tabs.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Module level: the handlers below annotate gr.Request / gr.Progress, which Gradio resolves through this
# module's globals; every per-session event is defined here, so no tab has to get that right.
import gradio as gr

from workbench.core import audio_io, paths
from workbench.core.errors import AudioInputError, WorkbenchError
from workbench.core.fs_errors import describe_failure
from workbench.core.store import Store
from workbench.engine.engine import Engine, Progress
from workbench.services import Workbench
from workbench.ui.progress import DecodeSpeed, ProgressBar, progress_adapter

if TYPE_CHECKING:
    from lora.jobs import TrainingJobs

log = logging.getLogger("workbench.ui")

GPU_CONCURRENCY_ID = "gpu"  # every event that runs the engine or demucs shares this queue slot
_SEPARATOR_LOCK = threading.Lock()
CANCELLED_IN_QUEUE = "**Cancelled** before it started; nothing was saved."
ALREADY_RUNNING = "**Already running:** this tab's job is still going. Wait for it, or press Cancel."


@dataclass
class AppSettings:
    """Knobs of the app that are not per request. Tests change ``progress_hook`` and the demucs source."""

    title: str = "ACE Workbench"
    max_result_slots: int = 4  # takes shown per generation (the batch slider's maximum)
    demucs_model: str = "htdemucs"
    demucs_repo: Path | None = None  # a local demucs repo folder; None = the usual caches
    model_wait_s: float = 600.0  # how long a request waits for a model that is still loading
    # Called on every engine progress update, in the worker thread. Tests use it to slow steps down so that
    # Cancel can be exercised on the tiny model, which finishes a step in milliseconds.
    progress_hook: Callable[[Progress], None] | None = None


class ModelHandle:
    """Loads the engine's model in a background thread so the first page is served at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.error: str | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if engine.loaded:
            self._done.set()

    def start(self, warmup: Callable[[], None] | None = None) -> None:
        if self._done.is_set() or self._thread is not None:
            return

        def load() -> None:
            try:
                self.engine.load()
                if warmup is not None:
                    warmup()
            except WorkbenchError as exc:
                self.error = str(exc)
            except Exception as exc:  # any load failure must reach the page as a message, never kill the app
                log.exception("model load failed")
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self._done.set()

        self._thread = threading.Thread(target=load, name="workbench-model-load", daemon=True)
        self._thread.start()

    @property
    def state(self) -> str:
        if not self._done.is_set():
            return "loading"
        return "failed" if self.error else "ready"

    def wait(self, timeout_s: float | None = None) -> bool:
        return self._done.wait(timeout_s)

    def require(self, timeout_s: float) -> Engine:
        if not self._done.wait(timeout_s):
            raise WorkbenchError(
                f"the model '{self.engine.model_name}' is still loading; try again in a moment"
            )
        if self.error:
            raise WorkbenchError(self.failure_text())
        return self.engine

    def failure_text(self) -> str:
        fix = (
            ""
            if "workbench models pull" in (self.error or "")
            else (f" Check the model with: workbench models check {self.engine.model_name}")
        )
        return f"The model '{self.engine.model_name}' could not be loaded: {self.error}.{fix}"

    def status_line(self, lora: str = "none") -> str:
        """The model line; ``lora`` names the adapter of this browser session's last run (the engine's loaded
        adapter belongs to whichever run came last, perhaps another user's, so it is never shown here)."""
        name = self.engine.model_name
        if self.state == "loading":
            return f"Loading model **{name}** … the History tab works meanwhile."
        if self.state == "failed":
            return f"**Model {name} not loaded** — generation is off. {self.failure_text()}"
        info = self.engine.info
        return (
            f"**Model** {info.name} ({info.variant}) · device {info.device} · {info.dtype}"
            f" · defaults {info.steps} steps, guidance {info.guidance_scale:g}, shift {info.shift:g}"
            f" · **LoRA** (your last run) {lora}"
        )

    def notice(self) -> str:
        """Text for the banner at the top of generation tabs; empty when the model is ready."""
        if self.state == "failed":
            return f"**Generation is unavailable.** {self.failure_text()}"
        if self.state == "loading":
            return f"The model **{self.engine.model_name}** is loading; runs start when it is ready."
        return ""


def lora_label(source: str, rank: int, scale: float) -> str:
    """An adapter as a person knows it: a training run's ``best`` / ``final`` / ``step-…`` adapter is named with
    its run ("spa-r4/best"), since every run has a ``best``."""
    path = Path(source)
    name = path.name if path.suffix != ".safetensors" else path.stem
    if name in ("best", "final") or name.startswith("step-"):
        name = f"{path.parent.name}/{name}"
    return f"{name} (rank {rank}, scale {scale:g})"


@dataclass(frozen=True)
class JobEntry:
    """One armed or running job of the app, for the job list."""

    session: str  # the browser session's hash
    tab: str  # the tab id
    state: str  # "queued", "running" or "cancelling"
    queued_at: float  # time.time() of its Run
    started_at: float | None  # when the queue started it


class CancelRegistry:
    """One job slot per (browser session, tab): at most one armed or running job, and its cancel flag.

    Gradio's own ``cancels=`` does not stop a worker thread, so Cancel sets a flag the job reads. Run arms a
    fresh slot in a fast unqueued event (so a Cancel pressed while the job still waits in the queue is not lost);
    the queued job claims it when it starts and frees it when it ends. A Run pressed while the slot is taken is
    refused, so a double click never swaps the flag under a running job and Cancel always reaches the job that
    runs.
    """

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._busy: dict[str, tuple[str, bool]] = {}  # key -> (ticket, running)
        self._times: dict[str, tuple[float, float | None]] = {}  # key -> (queued at, started at)
        self._lock = threading.Lock()

    def arm(self, key: str) -> str | None:
        """A ticket and a fresh flag for the next job of ``key``; None while one is armed or running."""
        with self._lock:
            if key in self._busy:
                return None
            ticket = secrets.token_hex(8)
            self._flags[key] = threading.Event()
            self._busy[key] = (ticket, False)
            self._times[key] = (time.time(), None)
            return ticket

    def claim(self, key: str, ticket: str) -> threading.Event | None:
        """The queued job's start: the flag its Run armed, now running; None for a refused or stale click."""
        with self._lock:
            if not ticket or self._busy.get(key) != (ticket, False):
                return None
            self._busy[key] = (ticket, True)
            self._times[key] = (self._times.get(key, (time.time(), None))[0], time.time())
            return self._flags[key]

    def release(self, key: str, ticket: str) -> None:
        with self._lock:
            if self._busy.get(key, ("",))[0] == ticket:
                del self._busy[key]
                self._times.pop(key, None)

    def busy(self, key: str) -> bool:
        with self._lock:
            return key in self._busy

    def jobs(self) -> list[JobEntry]:
        """Every armed or running job of the app, oldest Run first."""
        with self._lock:
            entries = []
            for key, (_ticket, running) in self._busy.items():
                session, _, tab = key.rpartition(":")
                queued_at, started_at = self._times.get(key, (0.0, None))
                state = ("cancelling" if self._flags[key].is_set() else "running") if running else "queued"
                entries.append(JobEntry(session, tab, state, queued_at, started_at))
        return sorted(entries, key=lambda e: e.queued_at)

    def get(self, key: str) -> threading.Event:
        with self._lock:
            return self._flags.setdefault(key, threading.Event())

    def cancel(self, key: str) -> bool:
        """Set the flag of the armed or running job of ``key``; False when there is none.

        A job still waiting in the queue is dropped from the slot at once (it is told so when it starts), so a
        Run whose job never started (an input the queue refused) cannot keep the slot taken.
        """
        with self._lock:
            busy = self._busy.get(key)
            if busy is None:
                return False
            if not busy[1]:
                del self._busy[key]
                self._times.pop(key, None)
            flag = self._flags[key]
        flag.set()
        return True


@dataclass
class _Receiver:
    outputs: list[Any]
    fn: Callable[[dict[str, Any]], list[Any]]
    tab_id: str


@dataclass
class _Sender:
    button: Any
    payload: Any  # a gr.State holding a take payload dict (see ``take_payload``)
    target: str


class SendBus:
    """ "Send to Edit / Style transfer" between tabs that do not know each other.

    A receiving tab registers a name, the components it fills and a function payload -> values. A sending tab
    registers a button, the gr.State that holds the payload and the target name. The shell wires them after all
    tabs are built; a button whose target tab is absent is hidden.
    """

    def __init__(self) -> None:
        self.receivers: dict[str, _Receiver] = {}
        self.senders: list[_Sender] = []

    def receiver(
        self, name: str, outputs: list[Any], fn: Callable[[dict[str, Any]], list[Any]], tab_id: str
    ) -> None:
        self.receivers[name] = _Receiver(outputs, fn, tab_id)

    def sender(self, button: Any, payload: Any, target: str) -> None:
        self.senders.append(_Sender(button, payload, target))

    def wire(self, tabs: Any) -> None:
        for sender in self.senders:
            receiver = self.receivers.get(sender.target)
            if receiver is None:
                sender.button.visible = False
                continue

            def send(payload: dict[str, Any] | None, _r: _Receiver = receiver) -> list[Any]:
                if not payload:
                    raise gr.Error("Nothing to send yet: generate or load a result first.")
                return [*_r.fn(payload), gr.Tabs(selected=_r.tab_id)]

            sender.button.click(
                ui_errors(send),
                inputs=[sender.payload],
                outputs=[*receiver.outputs, tabs],
                api_visibility="private",
                queue=False,
            )


@dataclass(frozen=True)
class GpuJob:
    """What a GPU handler gets besides the form: this session's cancel flag and the Gradio progress bar."""

    cancel: threading.Event
    bar: Any  # gr.Progress: call it as bar((done, total), desc=..., unit=...)
    decode_speed: DecodeSpeed | None = None  # the app's measured VAE-decode speed, for the decode estimate
    _progress: ProgressBar = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_progress", progress_adapter(self.bar, self.decode_speed))

    @property
    def progress(self) -> ProgressBar:
        """Engine progress updates drawn on the bar (steps, then the decode with its estimate)."""
        return self._progress

    @property
    def hooks(self) -> dict[str, Any]:
        """``progress=`` and ``cancel=`` for ``Workbench.generate`` / ``edit``: ``generate(request, **job.hooks)``."""
        return {"progress": self.progress, "cancel": self.cancel}

    def close(self) -> None:
        self._progress.close()


GpuHandler = Callable[["TabContext", dict[str, Any], GpuJob], Any]


def take_payload(
    run_id: str | None, path: str, request: dict[str, Any] | None = None, seed: int | None = None
) -> dict[str, Any]:
    """What travels between tabs: a recorded run id (preferred) or a file the app itself wrote; ``request`` is
    the run's recipe and ``seed`` the take's own seed (take i of a batch seeded s has seed s + i)."""
    return {"run_id": run_id, "path": path, "request": request, "seed": seed}


@dataclass
class TabContext:
    engine: Engine
    model: ModelHandle
    store: Store
    settings: AppSettings
    mode: str = "full"
    runs_dir: Path = field(default_factory=paths.runs_dir)
    temp_dir: Path = field(default_factory=paths.ui_cache_dir)
    loras_dir: Path = field(default_factory=paths.loras_dir)
    cancels: CancelRegistry = field(default_factory=CancelRegistry)
    decode_speed: DecodeSpeed = field(default_factory=DecodeSpeed)  # one model per app: one measured speed
    send: SendBus = field(default_factory=SendBus)
    # Filled by the shell: model-notice Markdown components and once-per-session "model ready" hooks.
    notices: list[Any] = field(default_factory=list)
    _separator: Any = None
    status: Any = None  # the status-line Markdown; tabs refresh it after runs that may change the LoRA
    ready_hooks: list[tuple[list[Any], Callable[[], list[Any]]]] = field(default_factory=list)
    load_hooks: list[tuple[list[Any], Callable[[], Any]]] = field(default_factory=list)
    lora_jobs: TrainingJobs | None = None  # set by the LoRA tab: its one training at a time, for tests
    _wired_cancels: set[int] = field(
        default_factory=set
    )  # Cancel buttons already wired (a tab may share one)
    # What the tabs and API endpoints call to run, record, master and separate (built from the fields above).
    workbench: Workbench = field(init=False)

    def __post_init__(self) -> None:
        self.workbench = Workbench(
            self.engine,
            self.store,
            runs_dir=self.runs_dir,
            temp_dir=self.temp_dir,
            ready=self.require_engine,
            progress_hook=self.settings.progress_hook,
        )

    # --- model --------------------------------------------------------------------------------------------
    def require_engine(self) -> Engine:
        return self.model.require(self.settings.model_wait_s)

    def model_notice(self) -> Any:
        """A banner for tabs that need the model; the shell keeps it current."""
        md = gr.Markdown(self.model.notice(), elem_classes=["model-notice"])
        self.notices.append(md)
        return md

    def on_model_ready(self, outputs: list[Any], fn: Callable[[], list[Any]]) -> None:
        """Run ``fn`` once per browser session when the model is ready (e.g. fill per-variant defaults)."""
        self.ready_hooks.append((outputs, fn))

    def separator(self) -> Any:
        """The app's demucs separator (one per app, loaded on first use)."""
        with _SEPARATOR_LOCK:
            if self._separator is None:
                from workbench.audio.stems import StemSeparator

                self._separator = StemSeparator(self.settings.demucs_model, self.settings.demucs_repo)
            return self._separator

    def on_page_load(self, outputs: list[Any], fn: Callable[[], Any]) -> None:
        """Run ``fn`` on every page load (e.g. show the newest runs); private, never an API endpoint."""
        self.load_hooks.append((outputs, fn))

    # --- the run / cancel / progress protocol ---------------------------------------------------------------
    def gpu_action(
        self,
        tab_id: str,
        run_button: Any,
        cancel_button: Any,
        fn: GpuHandler,
        inputs: Mapping[str, Any],
        outputs: list[Any],
        *,
        status: Any,
        cancel_text: str = "Cancelling…",
    ) -> Any:
        """Wire a Run button to ``fn(ctx, values, job)`` on the GPU queue slot, and Cancel to this session's run.

        Run first arms this (session, tab)'s job slot in an unqueued event (``CancelRegistry``), so a Cancel
        pressed while the job still waits in the queue is not lost, and a second Run while the slot is taken is
        answered "already running" and changes nothing. The queued job then gets the form as ``values`` (keyed
        like ``inputs``) and a ``GpuJob`` holding the slot's flag and the progress bar. ``status`` shows
        "Queued…", "Running…", the Cancel reply and, after a failure, the error. Returns the job's event, for
        ``.then`` chains.
        """
        # A hidden Textbox, not a gr.State: its value travels with the job when it is queued, so a later
        # (refused) click cannot change the ticket of a job that waits in the queue.
        ticket_box = gr.Textbox("", visible=False, elem_classes=["job-ticket"])
        handlers = _JobHandlers(self, tab_id, fn, inputs, outputs, outputs.index(status), ticket_box)
        event = run_button.click(
            handlers.arm, None, [status, ticket_box], queue=False, api_visibility="private"
        ).then(
            handlers.work,
            inputs={*inputs.values(), ticket_box},
            outputs=outputs,
            concurrency_id=GPU_CONCURRENCY_ID,
            api_visibility="private",
        )
        if id(cancel_button) not in self._wired_cancels:
            self._wired_cancels.add(id(cancel_button))

            def cancel(request: gr.Request) -> str:
                return (
                    cancel_text if self.cancels.cancel(session_key(request, tab_id)) else "Nothing to cancel."
                )

            cancel_button.click(cancel, None, status, queue=False, api_visibility="private")
        return event

    def new_temp_dir(self, prefix: str) -> Path:
        return self.workbench.new_temp_dir(prefix)

    def read(self, path: str) -> audio_io.Audio:
        return audio_io.load_conformed(path)


class _JobHandlers:
    """The Run button's two events for ``TabContext.gpu_action``: ``arm`` (unqueued) and the queued ``work``."""

    def __init__(
        self,
        ctx: TabContext,
        tab_id: str,
        fn: GpuHandler,
        inputs: Mapping[str, Any],
        outputs: list[Any],
        status_at: int,
        ticket_box: Any,
    ) -> None:
        self.ctx, self.tab_id, self.fn = ctx, tab_id, fn
        self.names = {component: name for name, component in inputs.items()}
        self.n_outputs, self.status_at, self.ticket_box = len(outputs), status_at, ticket_box

    def only_status(self, text: str | None) -> Any:
        """``text`` in the status, the other outputs unchanged (None: nothing changes)."""
        values = [
            text if i == self.status_at and text is not None else gr.skip() for i in range(self.n_outputs)
        ]
        return values if len(values) > 1 else values[0]

    def arm(self, request: gr.Request) -> list[Any]:
        ticket = self.ctx.cancels.arm(session_key(request, self.tab_id))
        return [ALREADY_RUNNING, ""] if ticket is None else ["Queued…", ticket]

    def work(self, data: dict[Any, Any], request: gr.Request, progress: gr.Progress = gr.Progress()) -> Any:
        key = session_key(request, self.tab_id)
        ticket = data.pop(self.ticket_box) or ""
        flag = self.ctx.cancels.claim(key, ticket)
        if flag is None:
            # "": a Run refused by ``arm`` (the tab's job was still running) changes nothing; a ticket no longer
            # in the slot was cancelled while it waited in the queue.
            yield self.only_status(CANCELLED_IN_QUEUE if ticket else None)
            return
        try:
            yield self.only_status("Running…")  # replaces "Queued…" while the bar shows the progress
            values = {self.names[component]: value for component, value in data.items()}
            job = GpuJob(flag, progress, self.ctx.decode_speed)
            try:
                result = self.fn(self.ctx, values, job)
            except Exception as exc:
                message = error_text(exc)
                yield self.only_status(f"**Error:** {message}")  # stays on the page after the toast fades
                raise gr.Error(message, print_exception=False) from None
            finally:
                job.close()
            yield result
        finally:
            self.ctx.cancels.release(key, ticket)


def session_key(request: Any, tab: str) -> str:
    """Per-browser-session key; API clients without a session share one key per tab, which is harmless because
    the API endpoints take no cancel."""
    session = getattr(request, "session_hash", None) or "no-session"
    return f"{session}:{tab}"


def by_name(
    inputs: Mapping[str, Any], fn: Callable[[dict[str, Any]], Any]
) -> Callable[[dict[Any, Any]], Any]:
    """A set-inputs handler (wire it with ``inputs=set(inputs.values())``): Gradio's ``{component: value}``
    reaches ``fn`` as ``{name: value}``, named like ``inputs``."""
    names = {component: name for name, component in inputs.items()}

    def handler(data: dict[Any, Any]) -> Any:
        return fn({names[component]: value for component, value in data.items()})

    handler.__name__ = getattr(fn, "__name__", "handler")
    return handler


def error_text(exc: BaseException) -> str:
    """The readable message for an exception a handler raised; unexpected ones are logged with their traceback."""
    if isinstance(exc, gr.Error):
        return str(exc.message) if hasattr(exc, "message") else str(exc)
    if isinstance(exc, AudioInputError) and isinstance(exc.value, str):
        return f"{Path(exc.value).name}: {exc.fix}"  # the file's name, not the server's upload folder
    if isinstance(exc, (WorkbenchError, ValueError, FileNotFoundError)):
        return str(exc)
    known = describe_failure(exc)  # disk full, read-only folders, corrupt files: named with the fix
    if known is not None:
        return known
    log.error("unexpected error", exc_info=exc)
    return f"Unexpected {type(exc).__name__}: {exc}. The details are in the server log."


def ui_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every exception into ``gr.Error`` with a readable message; tracebacks go to the server log only."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise gr.Error(error_text(exc), print_exception=False) from None

    return wrapper
