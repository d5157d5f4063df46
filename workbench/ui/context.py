"""What every tab gets: the ``TabContext`` (engine handle, store, folders, the ``Workbench`` that runs and records,
cancel flags, send-to bus, helpers).

Nothing here holds per-user state at module level. Per-user things are keyed by Gradio's session hash
(cancel flags) or live in ``gr.State`` inside the tabs.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Module level: the handlers below annotate gr.Request / gr.Progress, which Gradio resolves through this
# module's globals; every per-session event is defined here, so no tab has to get that right.
import gradio as gr

from workbench.core import audio_io, paths
from workbench.core.errors import WorkbenchError
from workbench.core.fs_errors import describe_failure
from workbench.core.store import Store
from workbench.engine.engine import Engine, Progress
from workbench.services import Workbench

if TYPE_CHECKING:
    from lora.jobs import TrainingJobs

log = logging.getLogger("workbench.ui")

GPU_CONCURRENCY_ID = "gpu"  # every event that runs the engine or demucs shares this queue slot
_SEPARATOR_LOCK = threading.Lock()


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

    def status_line(self) -> str:
        name = self.engine.model_name
        if self.state == "loading":
            return f"Loading model **{name}** … the History tab works meanwhile."
        if self.state == "failed":
            return f"**Model {name} not loaded** — generation is off. {self.failure_text()}"
        info = self.engine.info
        lora = self.engine.adapter
        lora_text = "none" if lora is None else f"{Path(lora.source).name} (rank {lora.rank})"
        return (
            f"**Model** {info.name} ({info.variant}) · device {info.device} · {info.dtype}"
            f" · defaults {info.steps} steps, guidance {info.guidance_scale:g}, shift {info.shift:g}"
            f" · **LoRA** {lora_text}"
        )

    def notice(self) -> str:
        """Text for the banner at the top of generation tabs; empty when the model is ready."""
        if self.state == "failed":
            return f"**Generation is unavailable.** {self.failure_text()}"
        if self.state == "loading":
            return f"The model **{self.engine.model_name}** is loading; runs start when it is ready."
        return ""


class CancelRegistry:
    """One cancel flag per (browser session, tab). Gradio's own ``cancels=`` does not stop a worker thread.

    The flag is armed by a fast unqueued event when the user clicks Run (so a Cancel pressed while the job is
    still waiting in the queue is not lost), read by the queued job, and set by the Cancel button.
    """

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def arm(self, key: str) -> threading.Event:
        with self._lock:
            flag = threading.Event()
            self._flags[key] = flag
            return flag

    def get(self, key: str) -> threading.Event:
        with self._lock:
            return self._flags.setdefault(key, threading.Event())

    def cancel(self, key: str) -> bool:
        with self._lock:
            flag = self._flags.get(key)
        if flag is None:
            return False
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

    @property
    def progress(self) -> Callable[[Progress], None]:
        """Engine progress updates drawn on the bar."""
        return progress_adapter(self.bar)

    @property
    def hooks(self) -> dict[str, Any]:
        """``progress=`` and ``cancel=`` for ``Workbench.generate`` / ``edit``: ``generate(request, **job.hooks)``."""
        return {"progress": self.progress, "cancel": self.cancel}


GpuHandler = Callable[["TabContext", dict[str, Any], GpuJob], Any]


def take_payload(run_id: str | None, path: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    """What travels between tabs: a recorded run id (preferred) or a file the app itself wrote."""
    return {"run_id": run_id, "path": path, "request": request}


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

        Run first arms a fresh cancel flag for (session, tab) in an unqueued event, so a Cancel pressed while the
        job still waits in the queue is not lost; then the queued job gets the form as ``values`` (keyed like
        ``inputs``) and a ``GpuJob`` holding that flag and the progress bar. ``status`` shows "Queued…" and the
        Cancel reply. Returns the job's event, for ``.then`` chains.
        """
        names = {component: name for name, component in inputs.items()}

        def arm(request: gr.Request) -> str:
            self.cancels.arm(session_key(request, tab_id))
            return "Queued…"

        def work(data: dict[Any, Any], request: gr.Request, progress: gr.Progress = gr.Progress()) -> Any:
            values = {names[component]: value for component, value in data.items()}
            return fn(self, values, GpuJob(self.cancels.get(session_key(request, tab_id)), progress))

        work.__name__ = getattr(
            getattr(fn, "func", fn), "__name__", "work"
        )  # ui_errors logs the handler's name
        event = run_button.click(arm, None, status, queue=False, api_visibility="private").then(
            ui_errors(work),
            inputs=set(inputs.values()),
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


def ui_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every exception into ``gr.Error`` with a readable message; tracebacks go to the server log only."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except WorkbenchError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except (ValueError, FileNotFoundError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:
            known = describe_failure(exc)
            if known is not None:
                raise gr.Error(known, print_exception=False) from None
            log.exception("unexpected error in %s", getattr(fn, "__name__", "handler"))
            raise gr.Error(
                f"Unexpected {type(exc).__name__}: {exc}. The details are in the server log.",
                print_exception=False,
            ) from None

    return wrapper


def progress_adapter(gr_progress: Any) -> Callable[[Progress], None]:
    """Engine progress -> gr.Progress bar ("step 3/8")."""

    def update(p: Progress) -> None:
        if p.stage == "denoising" and p.total:
            gr_progress((p.step, p.total), desc=f"step {p.step}/{p.total}", unit="steps")
        elif p.stage == "preparing":
            gr_progress(0.0, desc="preparing")
        elif p.stage == "done":
            gr_progress(1.0, desc="done")

    return update
