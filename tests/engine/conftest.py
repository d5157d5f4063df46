"""Fixtures for the engine tests: LoRA adapters saved in the other on-disk layouts the engine must accept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The original ACE-Step module names for diffusers' attention projections.
_TO_ORIGINAL = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out.0": "o_proj"}


@pytest.fixture(scope="session")
def save_original(lora_shape: Any) -> Callable[..., Path]:
    """``save_original(state, folder)``: the original ACE-Step PEFT layout, base_model.model.…q_proj… keys,
    r/alpha only in adapter_config.json."""
    from safetensors.torch import save_file

    def save(state: dict[str, Any], folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        renamed = {}
        for key, tensor in state.items():
            module, kind, _ = key.rsplit(".", 2)
            for new, old in _TO_ORIGINAL.items():
                if module.endswith("." + new):
                    module = module[: -len(new)] + old
            renamed[f"base_model.model.{module}.{kind}.weight"] = tensor.contiguous()
        save_file(renamed, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
        config = {
            "r": lora_shape.rank,
            "lora_alpha": lora_shape.alpha,
            "target_modules": list(_TO_ORIGINAL.values()),
            "peft_type": "LORA",
        }
        (folder / "adapter_config.json").write_text(json.dumps(config))
        return folder

    return save


@pytest.fixture(scope="session")
def save_unprefixed(lora_shape: Any) -> Callable[..., Path]:
    """``save_unprefixed(state, folder)``: what ``transformer.save_lora_adapter`` writes, no 'transformer.'
    prefix (diffusers loads nothing from it)."""
    from safetensors.torch import save_file

    def save(state: dict[str, Any], folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        adapter = {
            "r": lora_shape.rank,
            "lora_alpha": lora_shape.alpha,
            "target_modules": list(lora_shape.targets),
        }
        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(folder / "pytorch_lora_weights.safetensors"),
            metadata={"lora_adapter_metadata": json.dumps(adapter)},
        )
        return folder

    return save
