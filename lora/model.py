"""Loading the pipeline for training, attaching the LoRA, and saving it in the one format diffusers reloads.

Only `AceStepPipeline.save_lora_weights` with `get_peft_model_state_dict` and the adapter's config as metadata
gives a file that `AceStepPipeline.load_lora_weights` applies at the trained strength (alpha/r); the other save
paths load nothing or lose alpha (tests/lora/test_train.py checks the round trip).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from lora.config import TrainConfig
from workbench.core.errors import InputError

ADAPTER_FILE = "pytorch_lora_weights.safetensors"
ADAPTER_NAME = "default"


def load_training_pipeline(model: str, device: str, dtype: str) -> tuple[Any, Any]:
    """(pipe, ModelInfo) through the project's model registry; the local tiny model is built on first use."""
    from workbench.engine import models

    spec = models.load_registry().get(model)
    if spec is not None and spec.is_local_build:
        from workbench.engine.tiny import ensure_tiny

        ensure_tiny()  # a local random build, not a download
    return models.load_pipeline(model, device=device, dtype=dtype)


def resolve_variant(cfg: TrainConfig, info: Any, pipe: Any) -> str:
    if cfg.variant != "auto":
        return cfg.variant
    variant = getattr(info, "variant", None)
    if variant in ("turbo", "base", "sft"):
        return str(variant)
    return "turbo" if getattr(pipe, "is_turbo", False) else "base"


def lora_config(cfg: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        bias="none",
        init_lora_weights=True,
    )


def attach_lora(pipe: Any, cfg: TrainConfig) -> list[torch.nn.Parameter]:
    """Freeze every component, add the adapter to the DiT, keep the trainable LoRA weights in fp32."""
    for name in (
        "transformer",
        "vae",
        "text_encoder",
        "condition_encoder",
        "audio_tokenizer",
        "audio_token_detokenizer",
    ):
        module = getattr(pipe, name, None)
        if module is not None:
            module.requires_grad_(False)
    pipe.transformer.add_adapter(lora_config(cfg), adapter_name=ADAPTER_NAME)
    params = [p for n, p in pipe.transformer.named_parameters() if "lora_" in n]
    if not params:
        raise InputError("target_modules", cfg.target_modules, "matched no module of the transformer")
    for p in params:
        p.data = p.data.float()  # fp32 master copy; the frozen base may be bf16 (standard diffusers practice)
        p.requires_grad_(True)
    return params


def lora_state_dict(transformer: Any) -> dict[str, torch.Tensor]:
    from peft.utils import get_peft_model_state_dict

    return get_peft_model_state_dict(transformer, adapter_name=ADAPTER_NAME)


def save_adapter(transformer: Any, folder: str | Path) -> Path:
    """Write ``pytorch_lora_weights.safetensors`` with r/alpha metadata in the header."""
    from diffusers import AceStepPipeline

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in lora_state_dict(transformer).items()}
    metadata = transformer.peft_config[ADAPTER_NAME].to_dict()
    AceStepPipeline.save_lora_weights(
        str(out),
        transformer_lora_layers=state,
        transformer_lora_adapter_metadata=_jsonable(metadata),
        safe_serialization=True,
    )
    return out / ADAPTER_FILE


def _jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    # LoraConfig.to_dict holds sets (target_modules); the safetensors header is JSON.
    return json.loads(json.dumps(metadata, default=lambda v: sorted(v) if isinstance(v, set) else str(v)))


def load_adapter_into(transformer: Any, folder: str | Path) -> None:
    """Overwrite the attached adapter's weights from a saved adapter folder (used on resume)."""
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    try:
        state = load_file(str(Path(folder) / ADAPTER_FILE))
    except Exception as exc:  # safetensors raises several types for a missing, cut or foreign file
        raise InputError(
            "adapter",
            str(Path(folder) / ADAPTER_FILE),
            f"cannot be read as safetensors ({type(exc).__name__}); resume from an earlier checkpoint",
        ) from None
    state = {k.removeprefix("transformer."): v for k, v in state.items()}
    result = set_peft_model_state_dict(transformer, state, adapter_name=ADAPTER_NAME)
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise InputError(
            "adapter", str(folder), f"does not match this run's LoRA config ({unexpected[:2]}...)"
        )
    for _, p in transformer.named_parameters():
        if p.requires_grad:
            p.data = p.data.float()
