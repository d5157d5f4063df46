"""Turning a plan into the engine's request: the codes render the plan, and only the fields the user left empty
take the LM's values (a user-fixed bpm, key, time signature, duration or language is never changed)."""

from __future__ import annotations

import threading
from typing import Any

from workbench.core.errors import InputError
from workbench.engine.requests import AudioCodes, GenerationRequest, Text2Music
from workbench.planner.decoding import Sampling
from workbench.planner.plans import DEFAULT_LM, Plan, PlanProgress, PlanRequest, ThinkOptions


def plan_request(
    request: GenerationRequest,
    *,
    lm: str = DEFAULT_LM,
    sampling: Sampling | None = None,
    language_fixed: bool = True,
    caption_tokens: int | None = None,
) -> PlanRequest:
    """What Think asks the LM for a text2music request (its seed seeds the LM too)."""
    if not isinstance(request, Text2Music):
        raise InputError("think", True, f"Think plans text2music requests only, not '{request.task}'")
    extra: dict[str, Any] = {} if caption_tokens is None else {"caption_tokens": caption_tokens}
    return PlanRequest(
        caption=request.prompt,
        lyrics=request.lyrics,
        instrumental=request.instrumental,
        bpm=request.bpm,
        keyscale=request.keyscale,
        time_signature=request.time_signature,
        duration_s=request.duration_s,
        language=request.vocal_language if language_fixed else None,
        seed=request.seed if request.seed is not None else 0,
        lm=lm,
        sampling=sampling if sampling is not None else Sampling(),
        **extra,
    )


def planned_request(request: GenerationRequest, plan: Plan) -> AudioCodes:
    """The request the DiT renders: the user's fields, the LM's values where the user left them empty, and the
    plan's codes (whose count sets the length)."""
    m = plan.metadata
    data = {k: v for k, v in request.to_dict().items() if k != "task"}
    data.update(
        bpm=request.bpm if request.bpm is not None else m.bpm,
        keyscale=request.keyscale if request.keyscale is not None else m.keyscale,
        time_signature=request.time_signature if request.time_signature is not None else m.time_signature,
        duration_s=request.duration_s if request.duration_s is not None else plan.code_count / 5.0,
        codes=plan.codes,
    )
    if request.lora is not None:
        data["lora"] = request.lora
    return AudioCodes(**data)


def think(
    planner: Any,
    request: GenerationRequest,
    options: ThinkOptions,
    *,
    progress: PlanProgress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[AudioCodes, Plan]:
    """Plan ``request`` (its seed seeds the LM, so it must be set) and make the request the DiT renders.

    The one Think step the Workbench, batch runs and campaign systems share; raises ``PlanCancelled``.
    """
    if request.seed is None:
        raise InputError("seed", None, "Think needs a fixed seed: the plan is reproducible only from one")
    asked = plan_request(
        request, lm=options.lm, sampling=options.sampling, caption_tokens=options.caption_tokens
    )
    plan = planner.plan(asked, progress=progress, cancel=cancel)
    return planned_request(request, plan), plan


def plan_record(request: GenerationRequest, plan: Plan) -> dict[str, Any]:
    """The sidecar's ``plan`` block: what the user asked (for ``replay --replan``) and what the LM planned."""
    return {"think_request": request.to_dict(), "plan": plan.to_dict()}
