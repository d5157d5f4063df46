"""LoRA adapters load at the trained strength in both formats; scale 0 and unload give the base bit-exactly."""

from __future__ import annotations

import numpy as np
import pytest
from diffusers import AceStepPipeline

from workbench.core.errors import AdapterError
from workbench.engine.engine import Engine
from workbench.engine.requests import LoraRef, Text2Music

REQ = dict(prompt="lounge jazz", duration_s=2.0, steps=2, seed=11)


@pytest.fixture(scope="module")
def adapters(engine, tmp_path_factory, random_lora_state, save_diffusers, save_original, save_unprefixed):
    state = random_lora_state(engine.pipeline.transformer)
    root = tmp_path_factory.mktemp("loras")
    return state, {
        "diffusers": save_diffusers(AceStepPipeline, state, root / "diffusers"),
        "original": save_original(state, root / "original"),
        "unprefixed": save_unprefixed(state, root / "unprefixed"),
    }


def _run(engine, lora=None):
    return engine.run(Text2Music(**REQ, lora=lora))


@pytest.fixture(scope="module")
def reference(engine, adapters, tiny_model_dir, lora_shape):
    """The adapter applied in memory with PEFT at alpha/r = 2: what 'trained strength' means."""
    from peft import LoraConfig
    from peft.utils import set_peft_model_state_dict

    from workbench.engine.models import load_pipeline

    pipe, _ = load_pipeline("tiny")  # loaded like the engine's (weights in aligned memory), then PEFT on top
    pipe.transformer.add_adapter(
        LoraConfig(r=lora_shape.rank, lora_alpha=lora_shape.alpha, target_modules=list(lora_shape.targets))
    )
    set_peft_model_state_dict(pipe.transformer, adapters[0])
    return Engine("tiny", pipeline=pipe, model_info=engine.info).run(Text2Music(**REQ)).audio.samples


@pytest.mark.parametrize("layout", ["diffusers", "original", "unprefixed"])
def test_each_layout_loads_at_trained_strength(engine, adapters, reference, layout, lora_shape):
    result = _run(engine, LoraRef(str(adapters[1][layout]), 1.0))
    assert (
        result.lora is not None
        and result.lora.alpha == lora_shape.alpha
        and result.lora.rank == lora_shape.rank
    )
    np.testing.assert_array_equal(result.audio.samples, reference)
    engine.unload_lora()


def test_plain_diffusers_loads_original_format_at_half_strength(engine, adapters, reference, tiny_model_dir):
    """The pitfall the engine guards against: diffusers ignores adapter_config.json's alpha."""
    pipe = AceStepPipeline.from_pretrained(tiny_model_dir)
    pipe.load_lora_weights(str(adapters[1]["original"]))
    naive = Engine("tiny", pipeline=pipe, model_info=engine.info).run(Text2Music(**REQ))
    assert not np.array_equal(naive.audio.samples, reference)


def test_scale_zero_and_unload_equal_base(engine, adapters):
    base = _run(engine).audio.samples
    with_lora = _run(engine, LoraRef(str(adapters[1]["diffusers"]), 1.0)).audio.samples
    zero = _run(engine, LoraRef(str(adapters[1]["diffusers"]), 0.0)).audio.samples
    after_unload = _run(engine).audio.samples
    assert not np.array_equal(with_lora, base)
    np.testing.assert_array_equal(zero, base)
    np.testing.assert_array_equal(after_unload, base)
    assert engine.adapter is None


def test_layout_that_matches_no_module_raises(engine, adapters, tmp_path):
    from safetensors.torch import save_file

    state = {k.replace("layers.", "blocks."): v.contiguous() for k, v in adapters[0].items()}
    save_file(state, str(tmp_path / "pytorch_lora_weights.safetensors"))
    with pytest.raises(AdapterError, match="would load nothing"):
        _run(engine, LoraRef(str(tmp_path), 1.0))
    assert engine.adapter is None


def test_adapter_for_other_model_size_raises(engine, adapters, tmp_path):
    from safetensors.torch import save_file

    state = {k: (v[:, :8] if "lora_A" in k else v).contiguous() for k, v in adapters[0].items()}
    save_file(state, str(tmp_path / "pytorch_lora_weights.safetensors"))
    with pytest.raises(AdapterError, match="another model size"):
        _run(engine, LoraRef(str(tmp_path), 1.0))


def test_corrupt_adapter_raises(engine, adapters, tmp_path):
    data = (adapters[1]["diffusers"] / "pytorch_lora_weights.safetensors").read_bytes()
    (tmp_path / "pytorch_lora_weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(AdapterError, match="corrupt or truncated"):
        _run(engine, LoraRef(str(tmp_path), 1.0))


def test_missing_adapter_messages(engine, tmp_path):
    with pytest.raises(AdapterError, match="no such file or folder"):
        _run(engine, LoraRef(str(tmp_path / "nope"), 1.0))
    with pytest.raises(AdapterError, match="hf download someone/not-cached"):
        _run(engine, LoraRef("someone/not-cached", 1.0))
    with pytest.raises(AdapterError, match="no adapter weights found"):
        _run(engine, LoraRef(str(tmp_path), 1.0))
