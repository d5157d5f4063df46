"""Build small LoRA adapters for the tiny transformer in every on-disk layout the engine must accept."""

from __future__ import annotations

import json
from pathlib import Path

import torch

RANK = 4
ALPHA = 8.0
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
_TO_ORIGINAL = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out.0": "o_proj"}


def random_lora_state(transformer, seed: int = 0) -> dict[str, torch.Tensor]:
    """``layers.0.self_attn.to_q.lora_A.weight``-style tensors with non-zero A and B (a trained-looking adapter)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, module in transformer.named_modules():
        if any(name.endswith("attn." + t) for t in TARGETS):
            out_f, in_f = module.weight.shape
            state[f"{name}.lora_A.weight"] = torch.randn(RANK, in_f, generator=gen) * 0.5
            state[f"{name}.lora_B.weight"] = torch.randn(out_f, RANK, generator=gen) * 0.5
    return state


def save_diffusers(pipe_cls, state, folder: Path) -> Path:
    """Diffusers format with r/alpha metadata, as AceStepPipeline.save_lora_weights writes it."""
    pipe_cls.save_lora_weights(
        str(folder),
        transformer_lora_layers=state,
        transformer_lora_adapter_metadata={"r": RANK, "lora_alpha": ALPHA, "target_modules": TARGETS},
    )
    return folder


def save_original(state, folder: Path) -> Path:
    """The original ACE-Step PEFT layout: base_model.model.…q_proj… keys, r/alpha only in adapter_config.json."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    renamed = {}
    for key, tensor in state.items():
        module, kind, _ = key.rsplit(".", 2)
        for new, old in _TO_ORIGINAL.items():
            if module.endswith("." + new):
                module = module[: -len(new)] + old
        renamed[f"base_model.model.{module}.{kind}.weight"] = tensor.contiguous()
    save_file(renamed, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    (folder / "adapter_config.json").write_text(
        json.dumps(
            {
                "r": RANK,
                "lora_alpha": ALPHA,
                "target_modules": list(_TO_ORIGINAL.values()),
                "peft_type": "LORA",
            }
        )
    )
    return folder


def save_unprefixed(state, folder: Path) -> Path:
    """What ``transformer.save_lora_adapter`` writes: no 'transformer.' prefix (diffusers loads nothing from it)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    meta = {"lora_adapter_metadata": json.dumps({"r": RANK, "lora_alpha": ALPHA, "target_modules": TARGETS})}
    save_file(
        {k: v.contiguous() for k, v in state.items()},
        str(folder / "pytorch_lora_weights.safetensors"),
        metadata=meta,
    )
    return folder
