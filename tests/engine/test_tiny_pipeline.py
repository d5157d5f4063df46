"""The tiny pipeline: all eight real components, real geometry, saved and reloaded through from_pretrained."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch
from diffusers import AceStepPipeline

from workbench.engine.tiny import build_tiny_pipeline, ensure_tiny


def _run(pipe, seed=0):
    return pipe(
        prompt="lounge",
        audio_duration=2.0,
        num_inference_steps=2,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(seed),
    ).audios


def test_components_and_geometry(tiny_model_dir):
    index = json.loads((tiny_model_dir / "model_index.json").read_text())
    components = {k for k, v in index.items() if not k.startswith("_") and isinstance(v, list)}
    assert components == {
        "vae",
        "text_encoder",
        "tokenizer",
        "transformer",
        "condition_encoder",
        "scheduler",
        "audio_tokenizer",
        "audio_token_detokenizer",
    }
    pipe = AceStepPipeline.from_pretrained(tiny_model_dir)
    assert pipe.sample_rate == 48_000 and pipe.latents_per_second == 25.0
    assert _run(pipe).shape == (1, 2, 96_000)


def test_build_is_deterministic_per_seed():
    a, b, c = build_tiny_pipeline(0), build_tiny_pipeline(0), build_tiny_pipeline(1)
    wa = dict(a.transformer.named_parameters())
    wb = dict(b.transformer.named_parameters())
    wc = dict(c.transformer.named_parameters())
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_save_reload_offline_gives_same_output(tmp_path, monkeypatch):
    built = build_tiny_pipeline(3)
    expected = _run(built, seed=7)
    folder = ensure_tiny(seed=3, folder=tmp_path / "tiny")

    def no_network(*args, **kwargs):
        raise AssertionError("loading a local pipeline must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    loaded = AceStepPipeline.from_pretrained(folder)
    np.testing.assert_allclose(_run(loaded, seed=7).numpy(), expected.numpy(), atol=1e-5)


def test_ensure_tiny_is_cached(tmp_path):
    folder = ensure_tiny(seed=0, folder=tmp_path / "t")
    stamp = (folder / "workbench_tiny.json").stat().st_mtime_ns
    assert ensure_tiny(seed=0, folder=tmp_path / "t") == folder
    assert (folder / "workbench_tiny.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("dtype", ["fp32"])
def test_engine_loads_tiny_through_registry(tiny_model_dir, dtype):
    from workbench.engine.models import load_pipeline

    pipe, info = load_pipeline("tiny", dtype=dtype)
    assert info.source == "registry-local" and info.revision.startswith("local:") and info.device == "cpu"
    assert pipe.transformer.dtype == torch.float32


def test_tiny_is_built_on_first_load(tmp_path, monkeypatch):
    """`--model tiny` works on a fresh home: the local build (seconds, no download) happens on first load."""
    from workbench.engine.models import check_model, load_pipeline

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    with pytest.raises(Exception, match="workbench models pull tiny"):
        check_model("tiny")
    _pipe, info = load_pipeline("tiny")
    assert info.source == "registry-local"
    assert check_model("tiny")["folder"].startswith(str(tmp_path / "home"))
