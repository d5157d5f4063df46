"""The tiny LM has the release's folder layout and token layout and loads through the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import InputError, WeightsMissingError
from workbench.planner.registry import load_lm_registry, resolve_lm
from workbench.planner.tiny_lm import CODEBOOK_SIZE


def test_registry_lists_the_released_sizes_and_the_tiny_lm() -> None:
    registry = load_lm_registry()
    assert {"lm-0.6B", "lm-1.7B", "lm-4B", "lm-tiny"} <= set(registry)
    assert registry["lm-1.7B"].subfolder == "acestep-5Hz-lm-1.7B"
    assert all(spec.max_model_len == 4096 for spec in registry.values())


def test_tiny_lm_is_saved_in_the_original_layout(planner) -> None:
    lm = planner.lm("lm-tiny")
    folder = Path(lm.info.folder)
    assert folder.name == "acestep-5Hz-lm-tiny"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (folder / name).is_file(), name
    assert type(lm.model).__name__ == "Qwen3ForCausalLM"
    tok = lm.tokenizer
    ids = tok.convert_tokens_to_ids([f"<|audio_code_{n}|>" for n in (0, 1, CODEBOOK_SIZE - 1)])
    assert len(set(ids)) == 3 and tok.unk_token_id not in ids
    assert len(lm.vocab.code_ids) == CODEBOOK_SIZE
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>"):
        assert len(tok.encode(special, add_special_tokens=False)) == 1, special
    assert tok.eos_token == "<|im_end|>"
    assert lm.model.config.vocab_size >= len(tok)


def test_a_missing_lm_names_the_pull_command() -> None:
    with pytest.raises(WeightsMissingError, match="workbench models pull lm-1.7B"):
        resolve_lm("lm-1.7B")


def test_an_unknown_lm_name_lists_the_registry() -> None:
    with pytest.raises(InputError, match="lm-tiny"):
        resolve_lm("no-such-lm")


def test_unload_frees_the_model_and_the_next_call_reloads(planner) -> None:
    from workbench.planner.planner import Planner

    p = Planner(device="cpu")
    first = p.lm("lm-tiny")
    p.unload()
    assert first.model is None and p.loaded_name is None
    assert p.lm("lm-tiny").model is not None
    p.unload()
