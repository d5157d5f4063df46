"""The planner's token loop: batched, with a KV cache, LM classifier-free guidance and a cancel check per step.

Like upstream's PyTorch path (ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py ``_generate_with_cfg_custom``)
the conditional and unconditional prompts run as one left-padded batch; the guided logits are
``uncond + scale * (cond - uncond)`` in float32, then the constraint, the repetition penalty, top-k, top-p and
the temperature are applied in that order and one token is sampled and appended to both rows. Sampling draws
from a ``torch.Generator`` seeded by the plan, so a plan is reproducible from its seed. We write the loop (rather
than calling ``model.generate``) because CFG needs two rows that share every sampled token and because the
cancel check must sit between two token steps; benchmarks/lm_planner.py compares its speed with ``generate``.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from workbench.planner.constraints import ProgramProcessor

TokenFn = Callable[[int], None]  # called with the number of tokens written so far


class PlanCancelled(Exception):
    """The plan's cancel event was set; raised between two token steps."""


@dataclass(frozen=True)
class Sampling:
    """LM sampling settings. Defaults are upstream's API defaults
    (ace-step/ACE-Step-1.5@f30aee4:acestep/api_server.py ``lm_temperature`` 0.85, ``lm_cfg_scale`` 2.5,
    ``lm_top_k`` None, ``lm_top_p`` 0.9, ``lm_repetition_penalty`` 1.0, ``lm_negative_prompt`` "NO USER INPUT")."""

    temperature: float = 0.85
    cfg_scale: float = 2.5
    top_k: int | None = None
    top_p: float | None = 0.9
    repetition_penalty: float = 1.0
    negative_prompt: str = "NO USER INPUT"

    def warpers(self) -> list[Any]:
        steps: list[Any] = []
        if self.repetition_penalty != 1.0:
            steps.append(RepetitionPenaltyLogitsProcessor(self.repetition_penalty))
        if self.top_k is not None and self.top_k > 0:
            steps.append(TopKLogitsWarper(self.top_k))
        if self.top_p is not None and 0.0 < self.top_p < 1.0:
            steps.append(TopPLogitsWarper(self.top_p))
        if self.temperature > 0:
            steps.append(TemperatureLogitsWarper(self.temperature))
        return steps


def left_pad(tokenizer: Any, prompts: list[str], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    width = max(len(r) for r in rows)
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


def decode(
    model: Any,
    tokenizer: Any,
    prompt: str,
    negative: str | None,
    constraint: ProgramProcessor,
    sampling: Sampling,
    seed: int,
    max_new_tokens: int,
    cancel: threading.Event | None = None,
    on_token: TokenFn | None = None,
) -> list[int]:
    """Write one turn under ``constraint``; returns the new token ids (without the prompt).

    With ``negative`` and ``cfg_scale > 1`` the unconditional prompt runs as a second row."""
    device = str(next(model.parameters()).device)
    guided = negative is not None and sampling.cfg_scale > 1.0
    prompts = [prompt, negative] if guided and negative is not None else [prompt]
    ids, mask = left_pad(tokenizer, prompts, device)
    generator = torch.Generator(device=device).manual_seed(int(seed))
    warpers = sampling.warpers()
    penalty = LogitsProcessorList(
        [constraint, *[w for w in warpers if isinstance(w, RepetitionPenaltyLogitsProcessor)]]
    )
    narrowing = LogitsProcessorList(
        [w for w in warpers if not isinstance(w, RepetitionPenaltyLogitsProcessor)]
    )
    written: list[int] = []
    history = ids[:1]  # the conditional row: what the constraint and the repetition penalty read
    position = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = None
    step_ids, step_mask = ids, mask
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            if cancel is not None and cancel.is_set():
                raise PlanCancelled()
            out = model(
                input_ids=step_ids,
                attention_mask=step_mask if cache is None else mask,
                position_ids=position,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = out.past_key_values
            logits = out.logits[:, -1, :].float()
            if guided:
                logits = logits[1:2] + sampling.cfg_scale * (logits[0:1] - logits[1:2])
            scores = penalty(typing.cast(torch.LongTensor, history), typing.cast(torch.FloatTensor, logits))
            # Top-k, top-p and temperature only see the allowed tokens: the masked ones have probability 0 either
            # way, and a trie step allows a handful of a 64k vocabulary, so this skips sorting the rest.
            allowed = torch.isfinite(scores[0]).nonzero().squeeze(-1)
            narrow = narrowing(typing.cast(torch.LongTensor, history), scores[:, allowed])
            if sampling.temperature > 0:
                pick = torch.multinomial(torch.softmax(narrow, dim=-1), 1, generator=generator)
            else:
                pick = narrow.argmax(dim=-1, keepdim=True)
            token = allowed[pick]
            written.append(int(token.item()))
            history = torch.cat([history, token], dim=-1)
            constraint.consume(history)
            if on_token is not None:
                on_token(len(written))
            if constraint.finished:
                break
            step_ids = token.expand(len(prompts), 1)
            mask = torch.cat([mask, torch.ones((len(prompts), 1), dtype=mask.dtype, device=mask.device)], -1)
            position = position[:, -1:] + 1
    return written
