"""The API's LM planner: upstream's LM fields and routes mapped onto the ``Workbench``'s planner calls.

``/format_input`` and ``/v1/create_sample`` run ``Workbench.format_inputs`` / ``sample_song`` and answer in
upstream's field names (ace-step/ACE-Step-1.5@6d467e4:acestep/api/route_setup.py, ``format_input`` and
``create_sample``). On ``/release_task`` nothing runs at submit time: the task stores ``LmTask`` (the flags, the
LM, its sampling and which metadata the client fixed) and the worker runs it (``run``), so a submission stays fast
and a cancel reaches the LM between two token steps. Simple mode (``sample_mode``) or Format (``use_format``)
writes the song's inputs first (they are what Think plans from), then ``thinking`` plans the codes through ``Workbench.generate(request, think=...)``, which records the plan in the sidecar.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import InputError, WeightsMissingError
from workbench.engine.engine import Progress
from workbench.engine.requests import GenerationRequest, Text2Music
from workbench.planner.decoding import PlanCancelled, Sampling
from workbench.planner.plans import (
    CAPTION_TOKENS,
    LYRICS_TOKENS,
    FormatRequest,
    Metadata,
    SampleRequest,
    ThinkOptions,
    Written,
)
from workbench.rest import schema
from workbench.services import RecordedRun, Workbench

# Upstream's LM sampling fields -> ``Sampling`` attributes (defaults: ace-step/ACE-Step-1.5@6d467e4:
# acestep/api/release_task_request_builder.py, the same values as ``Sampling``'s own).
SAMPLING_FIELDS = {
    "lm_temperature": "temperature",
    "lm_cfg_scale": "cfg_scale",
    "lm_top_k": "top_k",
    "lm_top_p": "top_p",
    "lm_repetition_penalty": "repetition_penalty",
    "lm_negative_prompt": "negative_prompt",
}
# Metadata a client may fix; the LM fills the others. Request attribute -> ``Metadata`` attribute.
FIXABLE = {
    "bpm": "bpm",
    "keyscale": "keyscale",
    "time_signature": "time_signature",
    "duration_s": "duration_s",
    "vocal_language": "language",
}


@dataclass(frozen=True)
class LmTask:
    """What the worker does with the LM for one task; stored with the task as JSON (``to_dict``)."""

    flags: tuple[str, ...]  # of schema.PLANNER_FLAGS, in the order the client may give them
    lm: str
    sampling: Sampling = field(default_factory=Sampling)
    sample_query: str = ""
    fixed: tuple[str, ...] = ()  # request attributes (FIXABLE) the client gave

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LmTask:
        from workbench.core.config import from_mapping

        sampling = from_mapping(Sampling, data["sampling"], what="LM task sampling field")
        return cls(
            flags=tuple(data["flags"]),
            lm=str(data["lm"]),
            sampling=sampling,
            sample_query=str(data.get("sample_query", "")),
            fixed=tuple(data.get("fixed", ())),
        )


def _range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InputError(name, value, f"must be between {low:g} and {high:g}")


def sampling_from(values: Mapping[str, Any], sent_as: Mapping[str, str]) -> Sampling:
    """``Sampling`` from upstream's ``lm_*`` fields (already typed); absent fields keep upstream's defaults."""
    given = {SAMPLING_FIELDS[k]: v for k, v in values.items() if k in SAMPLING_FIELDS and v is not None}
    sampling = Sampling(**given)
    name = {attr: sent_as.get(key, key) for key, attr in SAMPLING_FIELDS.items()}
    _range(name["temperature"], sampling.temperature, 0.0, 2.0)
    _range(name["cfg_scale"], sampling.cfg_scale, 1.0, 10.0)
    if sampling.top_p is not None:
        _range(name["top_p"], sampling.top_p, 0.0, 1.0)
    if sampling.top_k is not None:
        _range(name["top_k"], sampling.top_k, 0, 1_000_000)
    _range(name["repetition_penalty"], sampling.repetition_penalty, 0.01, 10.0)
    return sampling


class LmPlanner:
    """``RestService.planner`` on a ``Workbench``'s planner with a default LM (``workbench serve --lm``).

    ``caption_tokens`` / ``lyrics_tokens`` cap what the LM writes per turn (recorded with every plan)."""

    def __init__(
        self,
        workbench: Workbench,
        lm: str,
        *,
        caption_tokens: int = CAPTION_TOKENS,
        lyrics_tokens: int = LYRICS_TOKENS,
    ) -> None:
        self.workbench = workbench
        self.lm_name = lm
        self.caption_tokens = caption_tokens
        self.lyrics_tokens = lyrics_tokens

    # --- which LM -----------------------------------------------------------------------------------------
    def check_lm(self, field_name: str, name: str) -> str:
        """The LM a request names (or the server's), if it is available here; else an error with the fix."""
        from workbench.planner.registry import load_lm_registry, pull_hint, resolve_lm

        name = name.strip() or self.lm_name
        try:
            resolve_lm(name)
        except WeightsMissingError as exc:
            raise InputError(field_name, name, str(exc)) from None
        except InputError:
            names = ", ".join(load_lm_registry())
            raise InputError(
                field_name,
                name,
                f"not an LM this server knows ({names}); get one with: {pull_hint('NAME')}, "
                f"or leave it out for the server's {self.lm_name}",
            ) from None
        return name

    def task(
        self,
        flags: tuple[str, ...],
        values: Mapping[str, Any],
        sent_as: Mapping[str, str],
        request: GenerationRequest,
        sample_query: str,
    ) -> LmTask:
        """Check a submission's LM fields at submit time (bad input is reported at once, not by the task)."""
        if not isinstance(request, Text2Music):
            flag = flags[0]
            raise InputError(
                sent_as.get(flag, flag), True, f"the LM plans text2music tasks only, not '{request.task}'"
            )
        lm_field = sent_as.get("lm_model_path", "lm_model_path")
        lm = self.check_lm(lm_field, str(values.get("lm_model_path") or ""))
        fixed = tuple(
            attr
            for attr, name in schema.FIXABLE_FIELDS.items()
            if name in values and getattr(request, attr) is not None
        )
        return LmTask(flags, lm, sampling_from(values, sent_as), sample_query, fixed)

    # --- /format_input and /v1/create_sample ---------------------------------------------------------------
    def format_input(self, body: dict[str, Any]) -> dict[str, Any]:
        """Upstream's ``{prompt, lyrics, temperature, param_obj:{duration, bpm, key|key_scale, time_signature,
        language}}`` -> ``{caption, lyrics, bpm, key_scale, time_signature, duration, vocal_language}``."""
        values, sent_as = schema.read_lm_body(body, schema.FORMAT_FIELDS)
        request = FormatRequest(
            caption=values.get("prompt") or "",
            lyrics=values.get("lyrics") or "",
            bpm=values.get("bpm"),
            keyscale=values.get("key_scale"),
            time_signature=values.get("time_signature"),
            duration_s=values.get("audio_duration"),
            language=values.get("vocal_language"),
            **self._writing(values, sent_as),
        )
        written = self.workbench.format_inputs(request)
        return _reply(written, key_scale="key_scale", time_signature="time_signature")

    def create_sample(self, body: dict[str, Any]) -> dict[str, Any]:
        """Upstream's ``{query, instrumental, vocal_language, temperature}`` -> ``{caption, lyrics, bpm, keyscale,
        duration, timesignature, vocal_language}``."""
        values, sent_as = schema.read_lm_body(body, schema.SAMPLE_FIELDS)
        request = SampleRequest(
            query=values.get("sample_query") or "",
            instrumental=bool(values.get("instrumental")),
            language=values.get("vocal_language"),
            **self._writing(values, sent_as),
        )
        written = self.workbench.sample_song(request)
        return {
            **_reply(written, key_scale="keyscale", time_signature="timesignature"),
            "instrumental": written.instrumental,
        }

    def _writing(self, values: Mapping[str, Any], sent_as: Mapping[str, str]) -> dict[str, Any]:
        """The settings Format and Simple mode share: temperature (upstream's 0.85), seed, LM and length caps."""
        temperature = values.get("temperature")
        temperature = 0.85 if temperature is None else float(temperature)
        _range(sent_as.get("temperature", "temperature"), temperature, 0.0, 2.0)
        lm_field = sent_as.get("lm_model_path", "lm_model_path")
        return {
            "temperature": temperature,
            "seed": values.get("seed") or 0,
            "lm": self.check_lm(lm_field, values.get("lm_model_path") or ""),
            "lyrics_tokens": self.lyrics_tokens,
            "caption_tokens": self.caption_tokens,
        }

    # --- a queued task (in the worker) --------------------------------------------------------------------
    def run(
        self,
        request: GenerationRequest,
        task: LmTask,
        *,
        audio_format: str,
        progress: Callable[[Progress], None],
        cancel: threading.Event,
    ) -> tuple[RecordedRun, dict[str, Any]]:
        """Simple mode or Format first (when asked), then the song (with Think when asked). Returns the run and
        what the LM wrote (for the result items); a cancel during the LM gives a cancelled run."""
        written: Written | None = None
        try:
            if "sample_mode" in task.flags or "use_format" in task.flags:
                progress(Progress("the LM writes the song's inputs", 0, 1))
                written = self._write(request, task, cancel)
                request = _apply(request, written, task.fixed)
        except PlanCancelled:
            return RecordedRun(_cancelled(self.workbench, request), []), {}
        think = None
        if "thinking" in task.flags:
            think = ThinkOptions(lm=task.lm, sampling=task.sampling, caption_tokens=self.caption_tokens)
        run = self.workbench.generate(
            request, audio_format=audio_format, progress=progress, cancel=cancel, think=think
        )
        info: dict[str, Any] = {"lm_model": task.lm, "flags": list(task.flags), "task_type": request.task}
        if written is not None:
            info["written"] = {
                "caption": written.caption,
                "lyrics": written.lyrics,
                "chosen": list(written.chosen),
            }
        if run.plan is not None:
            info["lm_model"] = run.plan.lm.get("name", task.lm)
            info["chosen"] = list(run.plan.chosen)
            info["audio_codes"] = (
                run.plan.codes
            )  # what the chat route returns as ``audio_codes``, as upstream
        return run, info

    def _write(self, request: GenerationRequest, task: LmTask, cancel: threading.Event) -> Written:
        given = {attr: getattr(request, attr) if attr in task.fixed else None for attr in FIXABLE}
        shared: dict[str, Any] = {
            "temperature": task.sampling.temperature,
            "seed": request.seed if request.seed is not None else 0,
            "lm": task.lm,
            "lyrics_tokens": self.lyrics_tokens,
            "caption_tokens": self.caption_tokens,
        }
        if "sample_mode" in task.flags:
            query = task.sample_query or request.prompt
            sample = SampleRequest(query, request.instrumental, language=given["vocal_language"], **shared)
            return self.workbench.sample_song(sample, cancel=cancel)
        formatted = FormatRequest(
            caption=request.prompt,
            lyrics=request.lyrics,
            bpm=given["bpm"],
            keyscale=given["keyscale"],
            time_signature=given["time_signature"],
            duration_s=given["duration_s"],
            language=given["vocal_language"],
            **shared,
        )
        return self.workbench.format_inputs(formatted, cancel=cancel)


def _reply(written: Written, *, key_scale: str, time_signature: str) -> dict[str, Any]:
    """A written song's inputs in upstream's names (the two routes spell key and time signature differently)."""
    m = written.metadata
    return {
        "caption": written.caption,
        "lyrics": written.lyrics,
        "bpm": m.bpm,
        key_scale: m.keyscale,
        time_signature: m.time_signature,
        "duration": m.duration_s,
        "vocal_language": m.language,
        "lm_model": written.lm.get("name"),
        "chosen": list(written.chosen),
    }


def _apply(request: GenerationRequest, written: Written, fixed: tuple[str, ...]) -> GenerationRequest:
    """The song's inputs the LM wrote, except the metadata the client fixed (never changed)."""
    m: Metadata = written.metadata
    changes: dict[str, Any] = {"prompt": written.caption or request.prompt, "lyrics": written.lyrics}
    if written.instrumental:
        changes["instrumental"] = True
    for attr, meta in FIXABLE.items():
        if attr not in fixed:
            changes[attr] = getattr(m, meta)
    if m.language == "unknown":  # the LM could not tell; the request keeps its language
        changes.pop("vocal_language", None)
    return dataclasses.replace(request, **changes)


def _cancelled(workbench: Workbench, request: GenerationRequest) -> Any:
    from workbench.engine.engine import RunResult

    engine = workbench.require_engine()
    return RunResult(request, "cancelled", [], engine.info, None, batch_id="")
