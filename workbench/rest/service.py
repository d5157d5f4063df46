"""``RestService``: what the routes call. It parses submissions into typed requests, queues them, and runs each
task through ``Workbench.generate`` (which validates, runs ``Engine.run`` and records files, sidecars and store
rows); the API itself generates nothing.

The LM planner (thinking, formatting, sample mode) plugs in as ``planner`` (``rest.lm.LmPlanner``); while it
is None those features answer 501 naming what is missing and the pull command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import InputError
from workbench.engine.adapters import find_weights
from workbench.engine.engine import Progress
from workbench.engine.requests import LoraRef, request_from_dict
from workbench.planner.registry import pull_hint
from workbench.rest import schema
from workbench.rest.auth import ApiKeys
from workbench.rest.db import JobRow
from workbench.rest.files import Files
from workbench.rest.jobs import JobQueue, Outcome
from workbench.rest.lm import LmPlanner, LmTask
from workbench.rest.loras import KeyLoras
from workbench.rest.responses import ApiError
from workbench.rest.results import take_items
from workbench.services import Workbench

MAX_WAIT_S = 30.0  # the longest /query_result long-poll


NO_PLANNER = (
    "this server has no LM planner, so {what} is not available; send caption, lyrics and metas yourself, "
    "or start the server with an LM: {pull} then workbench serve --lm NAME"
)
LM_TASK_KEY = "lm_task"  # where a task's LmTask is kept inside its stored request


@dataclass(frozen=True)
class ApiSettings:
    max_queued: int = 200  # as upstream's queue
    per_key_limit: int = 1  # tasks of one key running at once
    workers: int = 1  # tasks prepared/recorded at once; the engine's lock still runs one model call at a time
    default_format: str = "mp3"  # upstream's default audio_format


class RestService:
    def __init__(
        self,
        workbench: Workbench,
        keys: ApiKeys | None = None,
        settings: ApiSettings | None = None,
        *,
        planner: LmPlanner | None = None,
        loras_dir: Path | None = None,
    ) -> None:
        if workbench.store is None:
            raise InputError("store", None, "the API keeps its tasks in the store; run it with a store")
        self.workbench = workbench
        self.keys = keys or ApiKeys()
        self.settings = settings or ApiSettings()
        self.planner = planner
        self.loras_dir = loras_dir or paths.loras_dir()
        self.files = Files((workbench.runs_dir,), workbench.temp_dir / "api-uploads")
        self.loras = KeyLoras()
        self.queue = JobQueue(
            workbench.store,
            self.run_job,
            max_queued=self.settings.max_queued,
            per_key_limit=self.settings.per_key_limit,
            workers=self.settings.workers,
        )
        self._learnt_names: tuple[str, ...] = ()
        self.on_task_start: Callable[[JobRow], None] | None = (
            None  # called in the worker before each task runs
        )

    def start(self) -> RestService:
        self.queue.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.queue.stop(timeout_s)

    # --- model names ------------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        engine = self.workbench.engine
        return engine.model_name if engine is not None else "none"

    def model_names(self) -> tuple[str, ...]:
        """Names a task's ``model`` may give. The loaded model's own names are learnt from results: asking the
        engine would wait for its lock, i.e. for the run in progress, and a submission must never wait for that."""
        name = self.model_name
        return tuple(dict.fromkeys([name, f"acestep/{name}", f"acemusic/{name}", *self._learnt_names]))

    # --- submissions ------------------------------------------------------------------------------------------
    def lora_path(self, field: str, text: str) -> str:
        """``name:<n>`` picks from the LoRA folder; a path must lie under the workbench home; else a cached hub id."""
        if text.startswith("name:"):
            name = text[5:]
            candidate = self.loras_dir / name
            if "/" in name or "\\" in name or name.startswith(".") or not candidate.exists():
                raise InputError(field, name, f"no adapter of that name in the LoRA folder {self.loras_dir}")
            path = str(candidate)
        else:
            home = paths.home().resolve()
            raw = Path(text).expanduser()
            under_home = (raw if raw.is_absolute() else home / raw).resolve()
            # owner/name that is neither a file under the home nor one relative to the server's working folder
            is_hub_id = (
                not raw.is_absolute()
                and text.count("/") == 1
                and not text.startswith(".")
                and not under_home.exists()
                and not raw.exists()
            )
            if is_hub_id:
                path = text
            elif under_home == home or home in under_home.parents:
                path = str(under_home)
            else:
                raise InputError(field, text, f"adapters load from under the workbench home ({home}) only")
        try:
            find_weights(path)
        except Exception as exc:  # AdapterError, or a hub cache error: the same fix for the caller
            raise InputError(field, text, str(exc)) from None
        return path

    def context(self, key_id: str) -> schema.Context:
        return schema.Context(
            model_names=self.model_names(),
            source_path=self.files.source,
            lora_path=self.lora_path,
            default_lora=self.loras.default(key_id),
            default_format=self.settings.default_format,
        )

    def submit(self, key_id: str, body: dict[str, Any]) -> dict[str, Any]:
        submission = schema.parse_release(body, self.context(key_id))
        request = submission.request
        if submission.planner:
            if self.planner is None:
                flag = submission.planner[0]
                raise ApiError(
                    501,
                    NO_PLANNER.format(what=" / ".join(submission.planner), pull=pull_hint("lm-1.7B")),
                    submission.sent_as.get(flag, flag),
                )
            # Checked now, run by the worker (``run_job``): submitting stays fast and a cancel reaches the LM.
            task = self.planner.task(
                submission.planner,
                submission.lm_values,
                submission.sent_as,
                request_from_dict(request),
                submission.sample_query,
            )
            request = {**request, LM_TASK_KEY: task.to_dict()}
        job = self.queue.submit(key_id, request, submission.audio_format, list(submission.warnings))
        return {
            "task_id": job.task_id,
            "status": "queued",
            "queue_position": job.queue_position,
            "seed": submission.seeds[0],
            "seeds": submission.seeds,
            "warnings": list(submission.warnings),
        }

    def planner_call(self, what: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.planner is None:
            raise ApiError(501, NO_PLANNER.format(what=what, pull=pull_hint("lm-1.7B")))
        if what == "/format_input":
            return self.planner.format_input(body)
        return self.planner.create_sample(body)

    def set_lora(self, key_id: str, body: dict[str, Any]) -> LoraRef:
        text = body.get("lora_path") or body.get("lora_name")
        if not isinstance(text, str) or not text.strip():
            raise InputError("lora_path", text, "give an adapter folder or .safetensors file (or lora_name)")
        field = "lora_path" if body.get("lora_path") else "lora_name"
        path = self.lora_path(field, text if field == "lora_path" else f"name:{text}")
        scale = schema.coerce("scale", body.get("scale", body.get("lora_scale", 1.0)), "float")
        lora = LoraRef(path, 1.0 if scale is None else scale)
        self.loras.load(key_id, lora)
        return lora

    # --- running (in a worker thread) ------------------------------------------------------------------------
    def run_job(self, job: JobRow, cancel: threading.Event, progress: Callable[[Progress], None]) -> Outcome:
        if self.on_task_start is not None:
            self.on_task_start(job)
        stored = dict(job.request)
        lm_task = stored.pop(LM_TASK_KEY, None)
        request = request_from_dict(stored)
        lm_info: dict[str, Any] = {}
        if lm_task is not None:
            if self.planner is None:  # queued by a server with an LM, resumed by one without
                return Outcome(
                    "failed", [], [], NO_PLANNER.format(what="this LM task", pull=pull_hint("NAME"))
                )
            run, lm_info = self.planner.run(
                request,
                LmTask.from_dict(lm_task),
                audio_format=job.audio_format,
                progress=progress,
                cancel=cancel,
            )
        else:
            run = self.workbench.generate(
                request, audio_format=job.audio_format, progress=progress, cancel=cancel
            )
        if not run.ok:
            return Outcome(
                "cancelled", [], [], "cancelled: " + (run.result.notes[-1] if run.result.notes else "")
            )
        self._learnt_names = (run.result.model.name, run.result.model.location)
        return Outcome("done", take_items(run, lm_info), [t.run_id for t in run.takes])
