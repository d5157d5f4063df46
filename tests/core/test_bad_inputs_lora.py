"""Adapters that would silently produce garbage are refused at load; non-finite output is never written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from workbench.core.audio_io import Audio, write_audio
from workbench.core.errors import AdapterError, NonFiniteError
from workbench.core.store import Store
from workbench.engine.adapters import load_adapter
from workbench.engine.requests import LoraRef, Text2Music
from workbench.services import Workbench

REQ = {"prompt": "guard", "duration_s": 1.0, "steps": 2, "seed": 3}


def _save(
    folder: Path, state: dict, alpha: float | str | None, rank: int = 4, meta: str | None = None
) -> Path:
    """A diffusers-layout adapter; alpha goes in adapter_config.json (what original-format files carry)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    metadata = {"format": "pt"}
    if meta is not None:
        metadata["lora_adapter_metadata"] = meta
    save_file(
        {f"transformer.{k}": v.contiguous() for k, v in state.items()},
        str(folder / "pytorch_lora_weights.safetensors"),
        metadata=metadata,
    )
    if alpha is not None:
        (folder / "adapter_config.json").write_text(
            json.dumps({"r": rank, "lora_alpha": alpha}), encoding="utf-8"
        )
    return folder


@pytest.fixture
def state(engine, random_lora_state):
    return random_lora_state(engine.pipeline.transformer)


def _nan_state(state):
    out = dict(state)
    key = next(k for k in out if k.endswith("lora_B.weight"))
    out[key] = out[key].clone()
    out[key][0, 0] = math.nan
    return out


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        (1e30, "lora_alpha=1e+30 with r=4 scales every update by 2.5e+29; the limit is 1000"),
        (-64.0, "lora_alpha=-64 is negative, which silently inverts the adapter"),
        ("abc", "lora_alpha='abc': must be a number"),
        (True, "lora_alpha=True: must be a number"),
    ],
)
def test_bad_alpha_refused_at_load(engine, state, tmp_path, alpha, message):
    folder = _save(tmp_path / "lora", state, alpha)
    with pytest.raises(AdapterError, match=message.replace("(", r"\(").replace("+", r"\+")):
        engine.run(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))
    assert engine.adapter is None


def test_nan_alpha_in_the_metadata_header(engine, state, tmp_path):
    folder = _save(tmp_path / "lora", state, None, meta=json.dumps({"transformer.lora_alpha": math.nan}))
    with pytest.raises(AdapterError, match="lora_alpha=nan is not a finite number"):
        engine.run(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))


def test_broken_metadata_header_names_the_file(engine, state, tmp_path):
    folder = _save(tmp_path / "lora", state, None, meta="{not json")
    with pytest.raises(
        AdapterError, match=r"pytorch_lora_weights.safetensors \(its lora_adapter_metadata header\)"
    ):
        engine.run(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))


def test_broken_adapter_config_names_the_file(engine, state, tmp_path):
    folder = _save(tmp_path / "lora", state, None)
    (folder / "adapter_config.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(AdapterError, match=r"adapter_config.json: is not valid JSON"):
        engine.run(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))


def test_nan_weights_refused_at_load(engine, state, tmp_path):
    folder = _save(tmp_path / "lora", _nan_state(state), 8.0)
    with pytest.raises(AdapterError, match=r"tensor 'transformer\..*lora_B.weight' holds 1 NaN or infinite"):
        engine.run(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))


def test_rank_zero_refused(engine, state, tmp_path):
    import torch

    empty = {
        k: torch.zeros((0, v.shape[1])) if k.endswith("lora_A.weight") else torch.zeros((v.shape[0], 0))
        for k, v in state.items()
    }
    folder = _save(tmp_path / "lora", empty, 8.0)
    with pytest.raises(AdapterError, match="rank r=0"):
        engine.run(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))


def test_negative_alpha_loads_only_behind_the_flag(engine, state, tmp_path):
    folder = _save(tmp_path / "lora", state, -8.0)
    with engine.lock:
        engine.unload_lora()
        info = load_adapter(engine.pipeline, str(folder), "neg", allow_negative_alpha=True)
        try:
            assert info.alpha == -8.0 and info.correction == -2.0
        finally:
            engine.pipeline.delete_adapters("neg")


def test_finite_but_huge_weights_refuse_to_write_and_name_the_transformer(engine, state, tmp_path):
    """Weights of 1e30 pass the load checks (finite, sane alpha) but turn the latents into NaN/inf: the run
    stops, names the transformer and the adapter, and leaves no file, sidecar or store row behind."""
    huge = {k: v * 1e30 for k, v in state.items()}
    folder = _save(tmp_path / "lora", huge, 8.0)
    store = Store(tmp_path / "s.sqlite")
    out = tmp_path / "out"
    bench = Workbench(engine, store, runs_dir=out)
    try:
        with pytest.raises(NonFiniteError) as info:
            bench.generate(Text2Music(**REQ, lora=LoraRef(str(folder), 1.0)))
    finally:
        engine.unload_lora()
    message = str(info.value)
    assert "the transformer produced NaN or infinite latents at denoising step 1 of 2" in message
    assert f"LoRA '{folder}' loaded (alpha 8, r 4, scale 1.0)" in message and "nothing was written" in message
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
    assert store.connect().execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_write_audio_refuses_nan(tmp_path):
    samples = np.zeros((2, 100), dtype=np.float32)
    samples[1, 5] = np.inf
    with pytest.raises(
        NonFiniteError, match=r"refusing to write .*x.wav: 1 of 200 samples are NaN or infinite"
    ):
        write_audio(tmp_path / "x.wav", Audio(samples, 48_000), source="the mastering chain")
    assert list(tmp_path.iterdir()) == []
