"""How the original ACE-Step 1.5 checkpoint names map onto diffusers' ``AceStepPipeline`` components.

The original release keeps the whole DiT (decoder, condition encoder, audio tokenizer and detokenizer) in one
``model.safetensors`` under one module tree, plus ``silence_latent.pt`` next to it; diffusers splits that tree
into four models. These facts come from diffusers' conversion script
(huggingface/diffusers@58eb52c:scripts/convert_ace_step_to_diffusers.py) and ACE-Step's loader
(ace-step/ACE-Step-1.5@f30aee4:acestep/handler.py, the ``silence_latent`` transpose). The mapping is a pure
function both ways, so the tiny original-layout builder and the converter cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from workbench.core.errors import InputError

TRANSFORMER = "transformer"
CONDITION_ENCODER = "condition_encoder"
AUDIO_TOKENIZER = "audio_tokenizer"
AUDIO_TOKEN_DETOKENIZER = "audio_token_detokenizer"
DIT_COMPONENTS = (TRANSFORMER, CONDITION_ENCODER, AUDIO_TOKENIZER, AUDIO_TOKEN_DETOKENIZER)

# Original top-level module prefix -> diffusers component. "detokenizer." must be tried as its own prefix:
# "tokenizer." is not a prefix of it, so the order does not matter, but each key has exactly one owner.
_PREFIXES = (
    ("decoder.", TRANSFORMER),
    ("encoder.", CONDITION_ENCODER),
    ("tokenizer.", AUDIO_TOKENIZER),
    ("detokenizer.", AUDIO_TOKEN_DETOKENIZER),
)
# A top-level parameter of the original model that diffusers keeps on the condition encoder, because the
# pipeline takes its unconditional sequence from there.
NULL_CONDITION = "null_condition_emb"
# The silence latent is a separate torch file in the original layout, stored [1, C, T]; diffusers keeps it
# as a persistent buffer of the condition encoder, [1, T, C].
SILENCE_LATENT = "silence_latent"

# ACE-Step's own attention module names -> diffusers' Attention names, in every component.
_ATTENTION = (
    (".q_proj.", ".to_q."),
    (".k_proj.", ".to_k."),
    (".v_proj.", ".to_v."),
    (".o_proj.", ".to_out.0."),
    (".q_norm.", ".norm_q."),
    (".k_norm.", ".norm_k."),
)
# The original DiT wraps its patch convolutions in nn.Sequential(Lambda, Conv, Lambda); only index 1 holds
# weights. Diffusers names the bare convolutions. Only the transformer has these (the detokenizer's own
# ``proj_out`` is a plain Linear and keeps its name).
_TRANSFORMER_ONLY = (("proj_in.1.", "proj_in_conv."), ("proj_out.1.", "proj_out_conv."))


def _replace_all(key: str, pairs: tuple[tuple[str, str], ...], reverse: bool) -> str:
    for old, new in pairs:
        a, b = (new, old) if reverse else (old, new)
        key = key.replace(a, b)
    return key


def _replace_prefix(key: str, pairs: tuple[tuple[str, str], ...], reverse: bool) -> str:
    for old, new in pairs:
        a, b = (new, old) if reverse else (old, new)
        if key.startswith(a):
            return b + key[len(a) :]
    return key


def to_diffusers(original: str) -> tuple[str, str] | None:
    """(component, key) for an original DiT checkpoint key; None for a key no diffusers component owns."""
    if original == NULL_CONDITION:
        return CONDITION_ENCODER, NULL_CONDITION
    for prefix, component in _PREFIXES:
        if original.startswith(prefix):
            key = original[len(prefix) :]
            if component == TRANSFORMER:
                key = _replace_prefix(key, _TRANSFORMER_ONLY, reverse=False)
            return component, _replace_all(key, _ATTENTION, reverse=False)
    return None


def to_original(component: str, key: str) -> str:
    """The original checkpoint key of a diffusers component's parameter (the inverse of ``to_diffusers``)."""
    if component == CONDITION_ENCODER and key == NULL_CONDITION:
        return NULL_CONDITION
    prefix = next((p for p, c in _PREFIXES if c == component), None)
    if prefix is None:
        raise InputError("component", component, f"choose one of {', '.join(DIT_COMPONENTS)}")
    key = _replace_all(key, _ATTENTION, reverse=True)
    if component == TRANSFORMER:
        key = _replace_prefix(key, _TRANSFORMER_ONLY, reverse=True)
    return prefix + key


def silence_to_diffusers(silence: Any) -> Any:
    """[1, C, T] as stored in silence_latent.pt -> the condition encoder's [1, T, C] buffer."""
    return silence.transpose(1, 2).contiguous()


def silence_to_original(buffer: Any) -> Any:
    return buffer.transpose(1, 2).contiguous()


# --- configs ------------------------------------------------------------------------------------------------
# Fields every original DiT config.json carries that the translation needs (the rest have upstream defaults).
REQUIRED_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "in_channels",
    "audio_acoustic_hidden_dim",
    "patch_size",
    "rope_theta",
    "rms_norm_eps",
    "sliding_window",
    "layer_types",
    "text_hidden_dim",
    "timbre_hidden_dim",
    "num_lyric_encoder_hidden_layers",
    "num_timbre_encoder_hidden_layers",
)
# Defaults that ACE-Step's AceStepConfig applies when a field is absent (diffusers' script applies the same).
_OPTIONAL = {
    "attention_bias": False,
    "attention_dropout": 0.0,
    "pool_window_size": 5,
    "fsq_input_levels": [8, 8, 8, 5, 5, 5],
    "fsq_input_num_quantizers": 1,
    "num_attention_pooler_hidden_layers": 2,
}
_SHARED_ATTENTION = ("head_dim", "rope_theta", "attention_bias", "attention_dropout", "rms_norm_eps")
# Fields the DiT config copies unchanged from the original config.json.
TRANSFORMER_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "in_channels",
    "audio_acoustic_hidden_dim",
    "patch_size",
    "sliding_window",
    *_SHARED_ATTENTION,
)


def translate_config(original: dict[str, Any], where: str = "config.json") -> dict[str, dict[str, Any]]:
    """The four diffusers component configs of an original DiT config.json, field by field.

    On XL the condition encoder (and the audio tokenizer/detokenizer that share its width) is narrower than the
    DiT: ``encoder_hidden_size`` and friends describe it; on the 2B models they are absent and equal the DiT's.
    """
    missing = [f for f in REQUIRED_FIELDS if f not in original]
    if missing:
        raise InputError(
            where,
            missing,
            "this DiT config.json lacks fields every ACE-Step 1.5 config has; re-download the checkpoint",
        )
    c = {**_OPTIONAL, **original}
    enc_hidden = c.get("encoder_hidden_size") or c["hidden_size"]
    enc = {
        "hidden_size": enc_hidden,
        "intermediate_size": c.get("encoder_intermediate_size") or c["intermediate_size"],
        "num_attention_heads": c.get("encoder_num_attention_heads") or c["num_attention_heads"],
        "num_key_value_heads": c.get("encoder_num_key_value_heads") or c["num_key_value_heads"],
        **{k: c[k] for k in _SHARED_ATTENTION},
        "sliding_window": c["sliding_window"],
    }
    pooler_layers = int(c["num_attention_pooler_hidden_layers"])
    transformer = {
        **{k: c[k] for k in TRANSFORMER_FIELDS},
        "layer_types": list(c["layer_types"]),
        "encoder_hidden_size": enc_hidden,
        # Carried so the pipeline (and the workbench registry) know the variant: turbo runs without CFG.
        "is_turbo": bool(c.get("is_turbo", False)),
        "model_version": c.get("model_version"),
    }
    condition_encoder = {
        **enc,
        "text_hidden_dim": c["text_hidden_dim"],
        "timbre_hidden_dim": c["timbre_hidden_dim"],
        "num_lyric_encoder_hidden_layers": c["num_lyric_encoder_hidden_layers"],
        "num_timbre_encoder_hidden_layers": c["num_timbre_encoder_hidden_layers"],
    }
    pooler = {
        **enc,
        "audio_acoustic_hidden_dim": c["audio_acoustic_hidden_dim"],
        "pool_window_size": c["pool_window_size"],
        "num_attention_pooler_hidden_layers": pooler_layers,
        "layer_types": list(c["layer_types"])[:pooler_layers],
    }
    audio_tokenizer = {
        **pooler,
        "fsq_dim": c.get("fsq_dim") or enc_hidden,
        "fsq_input_levels": list(c["fsq_input_levels"]),
        "fsq_input_num_quantizers": c["fsq_input_num_quantizers"],
    }
    return {
        TRANSFORMER: transformer,
        CONDITION_ENCODER: condition_encoder,
        AUDIO_TOKENIZER: audio_tokenizer,
        AUDIO_TOKEN_DETOKENIZER: dict(pooler),
    }
