"""The Gradio workbench. ``build_app(engine, store, mode=..., settings=...) -> WorkbenchApp`` (the Blocks, the tab
context, the tabs that failed and what serving needs); ``workbench.ui.launch.launch`` serves it.

Adding a tab
------------
Create ``workbench/ui/tab_<name>.py`` with module attributes and one function:

    TAB_ID = "ab"                # unique id; gr.Tabs(selected=TAB_ID) switches to it
    LABEL = "Blind A/B"          # the tab's title
    NEEDS_MODEL = False          # True: the shell puts a model-status banner at the top of the tab
    MODES = ("full", "rater")    # app modes that show the tab (default ("full",))

    def build(ctx: TabContext) -> None:
        _wire(ctx, _layout(ctx))  # create components inside the gr.Tab the shell opened, then wire them

then add its module path to ``DEFAULT_TABS`` in ``workbench/ui/shell.py`` (one line). A tab module that fails to
import, or whose ``build`` raises, is reported in a "Problems" tab (and in ``WorkbenchApp.tab_errors``) and the
other tabs still work. Tests can pass their own list: ``build_app(engine, store, tabs=["workbench.ui.tab_history",
my_module])``.

``ctx`` (``workbench.ui.context.TabContext``) gives a tab:
- ``ctx.engine`` / ``ctx.require_engine()``: the shared Engine (the latter waits for the background load and
  raises a readable error if the model failed).
- ``ctx.workbench`` (``workbench.services.Workbench``): ``generate`` / ``edit(request, audio_format=, progress=,
  cancel=)`` run and record (files + sidecar + store rows under ``ctx.runs_dir``); ``master``, ``stems``,
  ``style_sweep``; ``source_path(upload, run_id)``: the audio a source task works on (an upload or a recorded run
  id, never a typed server path).
- ``ctx.store``, ``ctx.runs_dir``, ``ctx.temp_dir`` (served), ``ctx.loras_dir``, ``ctx.settings`` (AppSettings),
  ``ctx.mode``.
- ``ctx.gpu_action(TAB_ID, run_button, cancel_button, fn, inputs, outputs, status=...)``: the run / cancel /
  progress protocol. ``inputs`` maps names to components; ``fn(ctx, values, job)`` gets those names' values and a
  ``GpuJob`` (``job.cancel``: this session's cancel flag, armed by an unqueued event before the queued run, so a
  Cancel pressed while waiting is kept; ``job.progress``: engine progress on the bar; ``job.bar``: the raw
  ``gr.Progress``). The job runs on the GPU queue slot, privately, with ``ui_errors``; the Cancel button stops
  that session's run only. Handlers never take ``gr.Request`` themselves.
- ``ctx.send``: "send to" between tabs. ``ctx.send.receiver(name, outputs, fn, TAB_ID)`` registers a target
  (fn: payload dict -> values for outputs); ``ctx.send.sender(button, payload_state, name)`` a source. Payloads
  are ``take_payload(run_id, path, request_dict)``. Targets in use: "generate" (reload settings), "edit",
  "style", "stems", "master".
- ``ctx.on_model_ready(outputs, fn)``: fill components once per session when the model is ready;
  ``ctx.on_page_load(outputs, fn)``: refresh components on every page load (e.g. the newest runs).
- ``ctx.separator()``: the app's demucs separator.
- ``ctx.status``: the status-line Markdown (model, device, dtype, and the LoRA of this session's last run); refresh
  with ``ctx.model.status_line(lora_label)``.
Rules: wrap handlers in ``ui_errors`` (every error becomes gr.Error with its message, never a traceback); give
UI-only events ``api_visibility="private"``; run model/demucs work with ``concurrency_id=GPU_CONCURRENCY_ID``
(``ctx.gpu_action`` does all three for a Run button). A tab is ``_layout() -> <Tab>Components`` (a dataclass of
its components), ``_wire(ctx, components)`` and module-level handlers ``(ctx, values) -> outputs``.
Public API endpoints live in ``workbench/ui/api.py`` and take uploads or run ids, never server paths.

Rater mode is a separate app: ``workbench.ui.rater.build_rater_app(store, campaign=...) -> RaterApp``, served by
the same ``launch`` (``workbench app --mode rater``), which applies its extras (rater login, clip route, player).
"""

from workbench.ui.context import (
    GPU_CONCURRENCY_ID,
    AppSettings,
    TabContext,
    session_key,
    take_payload,
    ui_errors,
)
from workbench.ui.shell import DEFAULT_TABS, WorkbenchApp, build_app

__all__ = [
    "DEFAULT_TABS",
    "GPU_CONCURRENCY_ID",
    "AppSettings",
    "TabContext",
    "WorkbenchApp",
    "build_app",
    "session_key",
    "take_payload",
    "ui_errors",
]
