"""The tiny random pipeline written in the ORIGINAL ACE-Step 1.5 checkpoint layout, for tests and demos.

Real downloads of ``ACE-Step/Ace-Step1.5`` are ``acestep-v15-<variant>/{config.json, model.safetensors,
silence_latent.pt}``, ``vae/`` and ``Qwen3-Embedding-0.6B/``. This builder writes exactly that, with the original
key names (the tiny pipeline's weights inverse-mapped by ``checkpoint_keys``), so tests and ``--model
tiny-original`` go through the same conversion a real user's download does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.engine import checkpoint_keys as keys
from workbench.engine.convert import DIT_PREFIX, SILENCE_FILE, TEXT_ENCODER_DIR, VAE_DIR
from workbench.engine.tiny import TINY_VERSION, build_once, build_tiny_pipeline

_STAMP = "workbench_tiny_original.json"
DEFAULT_VARIANT = "base"  # the tiny pipeline is not guidance-distilled


def tiny_original_pipeline(seed: int = 0) -> Any:
    """The tiny pipeline with a non-zero silence latent (the real one is VAE-encoded silence, never zeros), so the
    [1, C, T] <-> [1, T, C] transpose is exercised by every conversion test."""
    import torch

    pipe = build_tiny_pipeline(seed)
    buffer = pipe.condition_encoder.silence_latent
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        buffer.copy_(0.1 * torch.randn(buffer.shape, generator=generator))
    return pipe


def _original_config(pipe: Any, variant: str) -> dict[str, Any]:
    t = pipe.transformer.config
    ce = pipe.condition_encoder.config
    tok = pipe.audio_tokenizer.config
    config: dict[str, Any] = {
        # What ACE-Step's config.json carries besides the architecture (transformers' custom-model fields).
        "architectures": ["AceStepConditionGenerationModel"],
        "model_type": "acestep",
        "torch_dtype": "float32",
        "vocab_size": 64003,
        "max_position_embeddings": 32768,
        "use_sliding_window": True,
        "timbre_fix_frame": 750,
        "timestep_mu": -0.4,
        "timestep_sigma": 1.0,
        "data_proportion": 0.5,
        "num_audio_decoder_hidden_layers": t.num_hidden_layers,
        "is_turbo": "turbo" in variant,
        "model_version": variant,
        "layer_types": list(pipe.transformer.layer_types),
        "text_hidden_dim": ce.text_hidden_dim,
        "timbre_hidden_dim": ce.timbre_hidden_dim,
        "num_lyric_encoder_hidden_layers": ce.num_lyric_encoder_hidden_layers,
        "num_timbre_encoder_hidden_layers": ce.num_timbre_encoder_hidden_layers,
        "pool_window_size": tok.pool_window_size,
        "fsq_dim": tok.fsq_dim,
        "fsq_input_levels": list(tok.fsq_input_levels),
        "fsq_input_num_quantizers": tok.fsq_input_num_quantizers,
        "num_attention_pooler_hidden_layers": tok.num_attention_pooler_hidden_layers,
    }
    for name in keys.TRANSFORMER_FIELDS:
        config[name] = getattr(t, name)
    if ce.hidden_size != t.hidden_size:  # the XL layout: a narrower condition encoder
        config["encoder_hidden_size"] = ce.hidden_size
        config["encoder_intermediate_size"] = ce.intermediate_size
        config["encoder_num_attention_heads"] = ce.num_attention_heads
        config["encoder_num_key_value_heads"] = ce.num_key_value_heads
    return config


def original_state_dict(pipe: Any) -> dict[str, Any]:
    """The single DiT checkpoint of the original layout: four components under their original names."""
    state: dict[str, Any] = {}
    for component in keys.DIT_COMPONENTS:
        for key, tensor in getattr(pipe, component).state_dict().items():
            if component == keys.CONDITION_ENCODER and key == keys.SILENCE_LATENT:
                continue  # a separate file in the original layout
            state[keys.to_original(component, key)] = tensor.detach().contiguous().clone()
    return state


def write_original_layout(pipe: Any, folder: Path, variant: str = DEFAULT_VARIANT) -> Path:
    """Write ``pipe`` into ``folder`` in the original ACE-Step checkpoint layout; returns ``folder``."""
    import torch
    from safetensors.torch import save_file

    dit = Path(folder) / (DIT_PREFIX + variant)
    dit.mkdir(parents=True)
    (dit / "config.json").write_text(json.dumps(_original_config(pipe, variant), indent=2))
    save_file(original_state_dict(pipe), str(dit / "model.safetensors"), metadata={"format": "pt"})
    torch.save(
        keys.silence_to_original(pipe.condition_encoder.silence_latent.detach().clone()), dit / SILENCE_FILE
    )
    pipe.vae.save_pretrained(str(Path(folder) / VAE_DIR))
    text = Path(folder) / TEXT_ENCODER_DIR
    pipe.text_encoder.save_pretrained(str(text))
    pipe.tokenizer.save_pretrained(str(text))
    return Path(folder)


def tiny_original_dir(seed: int = 0) -> Path:
    return paths.models_dir() / f"tiny-original-v{TINY_VERSION}-seed{seed}"


def ensure_tiny_original(seed: int = 0, folder: Path | None = None, variant: str = DEFAULT_VARIANT) -> Path:
    """Build the original-layout tiny checkpoint once (atomically, like ``ensure_tiny``); later calls reuse it."""
    target = Path(folder) if folder is not None else tiny_original_dir(seed)
    record = {"version": TINY_VERSION, "seed": seed, "variant": variant}
    return build_once(
        target, _STAMP, lambda tmp: write_original_layout(tiny_original_pipeline(seed), tmp, variant), record
    )


def is_built(folder: Path) -> bool:
    return (Path(folder) / _STAMP).exists()
