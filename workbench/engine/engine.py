"""The engine: one typed call, ``Engine.run(request, progress=..., cancel=...) -> RunResult``, for every caller.

It resolves model defaults and seeds into the request (so the recorded recipe replays exactly), conforms and
checks source audio before the model is touched, switches LoRA adapters, drives the diffusers pipeline with a
step callback for progress and cancellation, and restores untouched audio around repaint/extend windows. Like a
diffusers pipeline it returns its output and never saves it: ``workbench.records`` writes files, sidecars and
store rows, and ``workbench.services`` is where the faces do both.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.core.audio_io import Audio
from workbench.core.errors import InputError
from workbench.engine import finite
from workbench.engine.adapters import AdapterInfo, load_adapter
from workbench.engine.checkpoints import require_components
from workbench.engine.models import ModelInfo, load_pipeline
from workbench.engine.pipeline_args import Prepared, finish, pipeline_kwargs, prepare
from workbench.engine.requests import (
    DEFAULT_DURATION_S,
    AudioCodes,
    GenerationRequest,
)

_ADAPTER_NAME = "workbench"
_SEED_LIMIT = 2**31  # random seeds stay small enough to type back in


@dataclass(frozen=True)
class Progress:
    stage: str  # "preparing", "denoising", "decoding", "done"
    step: int
    # For "decoding": 0 when the VAE decode starts and ``total`` when it ends, ``total`` being the seconds of
    # audio decoded (all takes), so a progress display can estimate the decode from its measured speed.
    total: int

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.stage} {self.step}/{self.total}" if self.stage == "denoising" else self.stage


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class Take:
    """One audio result of a run (a batch of N gives N takes, each with its own seed)."""

    index: int
    seed: int
    audio: Audio


@dataclass(frozen=True)
class RunResult:
    request: GenerationRequest  # fully resolved: seed, steps, guidance, shift, duration filled in
    status: str  # "ok" or "cancelled"
    takes: list[Take]
    model: ModelInfo
    lora: AdapterInfo | None
    batch_id: str
    timings: dict[str, float] = field(default_factory=dict)  # the engine adds total_s as it returns
    notes: list[str] = field(default_factory=list)
    steps_done: int = 0
    # Repaint/extend: the regenerated window [start, end) in seconds of the output; the source is kept outside
    # it (beyond the crossfades). None for tasks that regenerate the whole clip.
    edit_window_s: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def audio(self) -> Audio:
        if not self.takes:
            raise InputError("result", self.status, "this run produced no audio (it was cancelled)")
        return self.takes[0].audio


def _needs_codes(request: GenerationRequest) -> bool:
    """Cover/style transfer and audio codes run the pipeline's audio tokenizer and detokenizer."""
    return isinstance(request, AudioCodes) or request.task in ("cover", "style_transfer")


class _Cancelled(Exception):
    """Raised inside the step callback: aborts the loop at once and skips the VAE decode."""


class Engine:
    """Holds one loaded pipeline. Runs are serialised (the pipeline and its adapters are shared state)."""

    def __init__(
        self,
        model: str = "turbo",
        *,
        device: str | None = None,
        dtype: str | None = None,
        offload: bool = False,
        pipeline: Any = None,
        model_info: ModelInfo | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.model_name = model
        self.device = device
        self.dtype = dtype
        self.offload = offload
        self._pipe = pipeline
        self._info = model_info
        self._adapter: AdapterInfo | None = None
        # An engine for a second model (a batch row naming another model) shares the app engine's lock, so the
        # two pipelines never run at the same time.
        self._lock = lock if lock is not None else threading.RLock()

    # --- model and adapters ------------------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        with self._lock:
            if self._pipe is None:
                self._pipe, self._info = load_pipeline(
                    self.model_name, device=self.device, dtype=self.dtype, offload=self.offload
                )
            assert self._info is not None  # set together with _pipe
            return self._info

    @property
    def pipeline(self) -> Any:
        self.load()
        return self._pipe

    @property
    def info(self) -> ModelInfo:
        return self.load()

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    @property
    def adapter(self) -> AdapterInfo | None:
        return self._adapter

    @property
    def lock(self) -> threading.RLock:
        """Held for every load, adapter switch and run: the pipeline and its adapters are shared state."""
        return self._lock

    def load_lora(self, source: str) -> AdapterInfo:
        with self._lock:
            if self._adapter is not None and self._adapter.source == source:
                return self._adapter
            self.unload_lora()
            self._adapter = load_adapter(self.pipeline, source, _ADAPTER_NAME)
            return self._adapter

    def unload_lora(self) -> None:
        with self._lock:
            if self._adapter is not None:
                self.pipeline.unload_lora_weights()
                self._adapter = None

    # --- requests ----------------------------------------------------------------------------------------------
    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """Fill model defaults and a seed into the request; the result is the replayable recipe."""
        info = self.info
        changes: dict[str, Any] = {}
        if request.steps is None:
            changes["steps"] = info.steps
        if request.guidance_scale is None:
            changes["guidance_scale"] = info.guidance_scale
        if request.shift is None:
            changes["shift"] = info.shift
        if request.cfg_interval_start is None:
            changes["cfg_interval_start"] = info.cfg_interval_start
        if request.cfg_interval_end is None:
            changes["cfg_interval_end"] = info.cfg_interval_end
        if request.seed is None:
            changes["seed"] = secrets.randbelow(_SEED_LIMIT)
        if request.duration_s is None and not request.needs_source and not isinstance(request, AudioCodes):
            changes["duration_s"] = DEFAULT_DURATION_S
        return dataclasses.replace(request, **changes) if changes else request

    def run(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        request.validate()
        started = time.perf_counter()
        with self._lock:
            request = self.resolve(request)
            require_components(self.pipeline, request.task, _needs_codes(request))
            timings: dict[str, float] = {}
            t0 = time.perf_counter()
            prepared = prepare(request)
            timings["prepare_s"] = time.perf_counter() - t0
            self._apply_lora(request)
            result = self._generate(request, prepared, progress, cancel, timings)
        timings["total_s"] = time.perf_counter() - started
        if progress is not None and result.ok:
            progress(Progress("done", 1, 1))
        return result

    def _apply_lora(self, request: GenerationRequest) -> None:
        if request.lora is None:
            self.unload_lora()
        else:
            self.load_lora(request.lora.path)

    def _generate(
        self,
        request: GenerationRequest,
        prepared: Prepared,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        timings: dict[str, float],
    ) -> RunResult:
        import torch

        pipe = self.pipeline
        seeds = [int(request.seed or 0) + i for i in range(request.batch_size)]
        batch_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
        steps_done = 0
        total = int(request.steps or 0)
        lora_scale = request.lora.scale if request.lora is not None else None
        audio_s = max(1, round(float(request.duration_s or 0) * request.batch_size))
        decode_started = 0.0

        def on_step(_pipe: Any, step: int, _t: float, kwargs: dict[str, Any]) -> dict[str, Any]:
            nonlocal steps_done, decode_started
            steps_done = step + 1
            finite.check_latents(kwargs.get("latents"), step, total, self._adapter, lora_scale)
            if progress is not None:
                progress(Progress("denoising", step + 1, total))
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            if steps_done == total:
                # The pipeline decodes the latents right after its last step callback
                # (huggingface/diffusers@58eb52c080:src/diffusers/pipelines/ace_step/pipeline_ace_step.py).
                decode_started = time.perf_counter()
                if progress is not None:
                    progress(Progress("decoding", 0, audio_s))
            return kwargs

        def cancelled() -> RunResult:
            return RunResult(
                request,
                "cancelled",
                [],
                self.info,
                self._adapter,
                batch_id,
                timings,
                prepared.notes + [f"cancelled after {steps_done} of {total} steps"],
                steps_done,
            )

        if cancel is not None and cancel.is_set():
            return cancelled()
        if progress is not None:
            progress(Progress("preparing", 0, total))
        kwargs = pipeline_kwargs(request, prepared, pipe, seeds)
        if request.lora is not None and self._adapter is not None:
            kwargs["attention_kwargs"] = {"scale": request.lora.scale * self._adapter.correction}
        # The VAE encode of source audio samples its posterior with the global RNG; seeding it makes source
        # tasks as reproducible as text2music.
        torch.manual_seed(seeds[0])
        t0 = time.perf_counter()
        try:
            out = pipe(**kwargs, callback_on_step_end=on_step, output_type="pt")
        except _Cancelled:
            timings["pipeline_s"] = time.perf_counter() - t0
            return cancelled()
        timings["pipeline_s"] = time.perf_counter() - t0
        if decode_started:
            timings["decode_s"] = time.perf_counter() - decode_started
        if progress is not None:
            progress(Progress("decoding", audio_s, audio_s))
        t0 = time.perf_counter()
        audio = out.audios.float().cpu().numpy()
        finite.check_audio(audio, "the VAE decode", self._adapter, lora_scale)
        takes = [
            Take(index=i, seed=s, audio=finish(request, prepared, audio[i])) for i, s in enumerate(seeds)
        ]
        timings["postprocess_s"] = time.perf_counter() - t0
        return RunResult(
            request,
            "ok",
            takes,
            self.info,
            self._adapter,
            batch_id,
            timings,
            list(prepared.notes),
            steps_done,
            prepared.window_s,
        )
