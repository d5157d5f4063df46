"""Original-layout ACE-Step checkpoints: the tiny original builder, `workbench models convert`, and loading.

The tiny pipeline is written in the official layout with the original key names, converted through the CLI, and
the result must hold the same tensors (after the documented renames and the silence-latent transpose), generate
the same bytes as the in-memory pipeline it came from, and run every task.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.core.digest import file_sha256
from workbench.core.errors import InputError
from workbench.engine import checkpoint_keys as keys
from workbench.engine.convert import PROVENANCE, convert_checkpoint, read_provenance
from workbench.engine.engine import Engine
from workbench.engine.requests import (
    AudioCodes,
    Complete,
    Extend,
    Extract,
    Lego,
    Repaint,
    StyleTransfer,
    Text2Music,
)
from workbench.engine.tiny_original import tiny_original_pipeline, write_original_layout

FAST = dict(steps=2, seed=11)
_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "workbench.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or _ENV, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def reference_pipe():
    """The in-memory tiny pipeline whose weights the original-layout checkpoint holds."""
    return tiny_original_pipeline(0)


@pytest.fixture(scope="module")
def original_dir(reference_pipe, tmp_path_factory) -> Path:
    return write_original_layout(reference_pipe, tmp_path_factory.mktemp("ckpt") / "checkpoints")


@pytest.fixture(scope="module")
def converted_dir(original_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("conv") / "tiny-base-diffusers"
    done = _cli("models", "convert", str(original_dir), "--variant", "base", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "converted" in done.stdout and f"--model {out}" in done.stdout
    return out


@pytest.fixture(scope="module")
def converted_engine(converted_dir):
    eng = Engine(str(converted_dir))
    eng.load()
    return eng


def test_original_layout_has_the_official_files_and_names(original_dir, reference_pipe):
    dit = original_dir / "acestep-v15-base"
    assert sorted(p.name for p in dit.iterdir()) == ["config.json", "model.safetensors", "silence_latent.pt"]
    assert (original_dir / "vae" / "diffusion_pytorch_model.safetensors").is_file()
    assert (original_dir / "Qwen3-Embedding-0.6B" / "model.safetensors").is_file()
    assert (original_dir / "Qwen3-Embedding-0.6B" / "tokenizer.json").is_file()
    assert not (original_dir / "model_index.json").exists()
    from safetensors import safe_open

    with safe_open(str(dit / "model.safetensors"), "pt") as f:
        names = set(f.keys())
    assert "decoder.proj_in.1.weight" in names and "decoder.proj_out.1.bias" in names
    assert (
        "decoder.layers.0.self_attn.q_proj.weight" in names
        and "encoder.lyric_encoder.layers.0.self_attn.k_norm.weight" in names
    )
    assert "null_condition_emb" in names and "detokenizer.proj_out.weight" in names
    assert not any(".to_q." in n or "proj_in_conv" in n or "silence" in n for n in names)
    silence = torch.load(dit / "silence_latent.pt", weights_only=True)
    assert silence.shape == (1, 8, 15000)  # [1, C, T] as released


def test_key_mapping_round_trips_every_tiny_parameter(reference_pipe):
    for component in keys.DIT_COMPONENTS:
        for key in getattr(reference_pipe, component).state_dict():
            if key == keys.SILENCE_LATENT:
                continue
            assert keys.to_diffusers(keys.to_original(component, key)) == (component, key)
    assert keys.to_diffusers("something.else") is None


def test_converted_tensors_equal_the_originals_bit_for_bit(original_dir, converted_dir):
    from safetensors import safe_open

    with safe_open(str(original_dir / "acestep-v15-base" / "model.safetensors"), "pt") as f:
        originals = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - a safe_open handle is not iterable
    converted: dict[tuple[str, str], torch.Tensor] = {}
    for component in keys.DIT_COMPONENTS:
        with safe_open(str(converted_dir / component / "diffusion_pytorch_model.safetensors"), "pt") as f:
            converted.update({(component, k): f.get_tensor(k) for k in f.keys()})  # noqa: SIM118
    for name, tensor in originals.items():
        target = keys.to_diffusers(name)
        assert target is not None, name
        got = converted.pop(target)
        assert got.dtype == tensor.dtype and torch.equal(got, tensor), name
    # What is left is the silence latent: the released [1, C, T] file transposed to the buffer's [1, T, C].
    silence = torch.load(original_dir / "acestep-v15-base" / "silence_latent.pt", weights_only=True)
    assert list(converted) == [(keys.CONDITION_ENCODER, keys.SILENCE_LATENT)]
    assert torch.equal(converted[(keys.CONDITION_ENCODER, keys.SILENCE_LATENT)], silence.transpose(1, 2))
    for rel in ("vae/diffusion_pytorch_model.safetensors", "vae/config.json"):
        assert file_sha256(converted_dir / rel) == file_sha256(original_dir / rel)
    assert file_sha256(converted_dir / "text_encoder/model.safetensors") == file_sha256(
        original_dir / "Qwen3-Embedding-0.6B/model.safetensors"
    )


def test_configs_translate_field_by_field_and_carry_the_variant(original_dir, converted_dir, reference_pipe):
    original = json.loads((original_dir / "acestep-v15-base" / "config.json").read_text())
    transformer = json.loads((converted_dir / "transformer" / "config.json").read_text())
    assert transformer["is_turbo"] is False and transformer["model_version"] == "base"
    for name in (
        "hidden_size",
        "num_hidden_layers",
        "in_channels",
        "audio_acoustic_hidden_dim",
        "layer_types",
    ):
        assert transformer[name] == original[name]
    tokenizer = json.loads((converted_dir / "audio_tokenizer" / "config.json").read_text())
    assert tokenizer["fsq_input_levels"] == original["fsq_input_levels"]
    assert (
        tokenizer["layer_types"] == original["layer_types"][: original["num_attention_pooler_hidden_layers"]]
    )
    for component in keys.DIT_COMPONENTS:
        reloaded = json.loads((converted_dir / component / "config.json").read_text())
        live = dict(getattr(reference_pipe, component).config)
        for name, value in reloaded.items():
            if not name.startswith("_") and live.get(name) is not None:
                assert value == live[name], (component, name)


def test_provenance_records_source_version_and_hashes(converted_dir, original_dir):
    record = read_provenance(converted_dir)
    assert record is not None
    assert record["converter_version"] and record["source_revision"] == "local"
    assert record["source"] == str(original_dir.resolve()) and record["dit_folder"] == "acestep-v15-base"
    assert record["source_files_sha256"]["acestep-v15-base/model.safetensors"] == file_sha256(
        original_dir / "acestep-v15-base" / "model.safetensors"
    )
    for rel, digest in record["output_files_sha256"].items():
        assert file_sha256(converted_dir / rel) == digest, rel
    assert len(record["content_sha256"]) == 64


def test_generation_from_the_converted_folder_equals_the_in_memory_pipeline(converted_engine, reference_pipe):
    in_memory = Engine("in-memory", pipeline=reference_pipe, model_info=converted_engine.info)
    for request in (
        Text2Music(prompt="warm lounge jazz", duration_s=2.0, **FAST),
        Text2Music(prompt="warm lounge jazz", duration_s=2.0, guidance_scale=4.0, **FAST),  # APG + null emb
    ):
        a = converted_engine.run(request).audio.samples
        b = in_memory.run(request).audio.samples
        assert np.array_equal(a, b)


def test_a_converted_folder_records_its_hash_and_the_upstream_preset(converted_engine, converted_dir):
    info = converted_engine.info
    assert info.layout == "diffusers" and info.source == "folder"  # a converted folder is a diffusers folder
    assert info.converted == read_provenance(converted_dir)["content_sha256"]
    assert info.variant == "base" and info.steps == 50 and info.shift == 1.0 and info.guidance_scale == 7.0
    assert "model_discovery.py" in info.preset


@pytest.mark.parametrize(
    "make",
    [
        lambda src: Text2Music(prompt="spa ambient", duration_s=2.0, **FAST),
        lambda src: Repaint(src=src, start_s=1.0, end_s=2.0, **FAST),
        lambda src: Extend(src=src, side="right", extend_s=1.0, **FAST),
        lambda src: StyleTransfer(src=src, strength=0.5, reference=src, **FAST),
        lambda src: Extract(src=src, track="bass", **FAST),
        lambda src: Lego(src=src, track="drums", start_s=0.5, end_s=2.5, **FAST),
        lambda src: Complete(src=src, tracks=("drums", "bass"), **FAST),
        lambda src: AudioCodes(codes="<|audio_code_7|>" * 10, **FAST),
    ],
    ids=[
        "text2music",
        "repaint",
        "extend",
        "cover-with-reference",
        "extract",
        "lego",
        "complete",
        "audio-codes",
    ],
)
def test_every_task_runs_from_the_converted_folder(converted_engine, src_wav, make):
    result = converted_engine.run(make(str(src_wav)))
    assert result.ok and result.audio.sample_rate == 48_000
    assert np.isfinite(result.audio.samples).all() and result.audio.samples.shape[0] == 2


def test_generate_cli_runs_with_model_dir_and_records_the_preset(converted_dir, tmp_path):
    done = _cli(
        "generate",
        "--model",
        str(converted_dir),
        "--prompt",
        "x",
        "--duration",
        "1",
        "--steps",
        "1",
        "--seed",
        "3",
        env={**_ENV, "WORKBENCH_HOME": str(tmp_path / "home")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (sidecar,) = (tmp_path / "outputs").glob("*.json")
    recipe = json.loads(sidecar.read_text())
    assert recipe["model"]["converted"] == read_provenance(converted_dir)["content_sha256"]
    assert "model_discovery.py" in recipe["model"]["preset"]
    assert recipe["request"]["shift"] == 1.0 and recipe["request"]["cfg_interval_end"] == 1.0


def test_an_original_folder_given_as_model_is_converted_once_with_a_message(
    original_dir, caplog, monkeypatch
):
    from workbench.engine import convert
    from workbench.engine.models import load_pipeline

    with caplog.at_level("WARNING"):
        _pipe, info = load_pipeline(str(original_dir))
    assert "original ACE-Step layout; converting it once" in caplog.text
    assert info.layout == "original" and info.converted and info.variant == "base"

    def no_second_conversion(*args, **kwargs):
        raise AssertionError("converted twice")

    monkeypatch.setattr(convert, "convert_checkpoint", no_second_conversion)
    _pipe, again = load_pipeline(str(original_dir))
    assert again.location == info.location and again.converted == info.converted


def test_tiny_original_runs_end_to_end_through_the_registry(tmp_path, monkeypatch):
    from workbench.engine.models import check_model, load_pipeline

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    with pytest.raises(Exception, match="workbench models pull tiny-original"):
        check_model("tiny-original")
    pipe, info = load_pipeline("tiny-original")
    assert info.layout == "original" and info.source == "registry-local" and info.converted
    assert Path(info.location).is_relative_to(tmp_path / "home")
    assert pipe.audio_tokenizer is not None and pipe.audio_token_detokenizer is not None
    assert check_model("tiny-original")["ready"] is True
    result = Engine("tiny-original", pipeline=pipe, model_info=info).run(
        Text2Music(prompt="x", duration_s=1.0, **FAST)
    )
    assert result.ok and result.model.layout == "original"


def test_the_converter_never_overwrites(original_dir, converted_dir):
    before = file_sha256(converted_dir / PROVENANCE)
    with pytest.raises(InputError, match="already exists; the converter never overwrites"):
        convert_checkpoint(original_dir, "base", converted_dir)
    assert file_sha256(converted_dir / PROVENANCE) == before


def test_an_interrupted_conversion_leaves_no_folder_that_loads(original_dir, tmp_path):
    out = tmp_path / "half"
    calls = {"n": 0}

    def crash(index: int) -> None:
        calls["n"] += 1
        if calls["n"] == 40:  # inside the condition encoder, after the transformer was written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_checkpoint(original_dir, "base", out, hook=crash)
    assert calls["n"] == 40
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone too
    from workbench.engine.models import resolve_model

    with pytest.raises(InputError):
        resolve_model(str(out))
    # and the same call without the interruption succeeds into the same place
    convert_checkpoint(original_dir, "base", out)
    assert (out / "model_index.json").is_file()


def test_tensors_are_streamed_one_at_a_time(tmp_path):
    """The writer loads each tensor only when it is its turn: a multi-GB DiT never sits in memory twice."""
    from safetensors.torch import load_file

    from workbench.engine.convert import _Entry, write_safetensors

    loaded: list[str] = []
    tensors = {f"t{i}": torch.full((3, i + 1), float(i), dtype=torch.bfloat16) for i in range(5)}

    def loader(name: str):
        def load() -> torch.Tensor:
            loaded.append(name)
            return tensors[name]

        return load

    entries = [_Entry(n, "BF16", tuple(t.shape), loader(n)) for n, t in tensors.items()]

    def before(index: int) -> None:
        assert len(loaded) == index  # nothing is read ahead of the tensor being written

    write_safetensors(tmp_path / "x.safetensors", entries, before)
    back = load_file(str(tmp_path / "x.safetensors"))
    assert all(torch.equal(back[n], t) for n, t in tensors.items())


def test_a_sharded_dit_converts_like_a_single_file(original_dir, converted_dir, tmp_path):
    """XL DiT folders ship as model.safetensors.index.json plus shards."""
    from safetensors.torch import load_file, save_file

    sharded = tmp_path / "sharded"
    shutil.copytree(original_dir, sharded)
    dit = sharded / "acestep-v15-base"
    state = load_file(str(dit / "model.safetensors"))
    (dit / "model.safetensors").unlink()
    names = sorted(state)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys_ in halves.items():
        save_file({k: state[k] for k in keys_}, str(dit / shard))
    index = {"weight_map": {k: shard for shard, keys_ in halves.items() for k in keys_}}
    (dit / "model.safetensors.index.json").write_text(json.dumps(index))
    out = convert_checkpoint(sharded, "base", tmp_path / "out").folder
    for component in keys.DIT_COMPONENTS:
        rel = f"{component}/diffusion_pytorch_model.safetensors"
        assert file_sha256(out / rel) == file_sha256(converted_dir / rel), component


def test_xl_config_gives_the_condition_encoder_its_own_width():
    original = {
        **{f: 1 for f in keys.REQUIRED_FIELDS},
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "encoder_hidden_size": 2048,
        "encoder_intermediate_size": 6144,
        "encoder_num_attention_heads": 16,
        "layer_types": ["sliding_attention", "full_attention"] * 16,
        "is_turbo": True,
        "model_version": "xl_turbo",
    }
    configs = keys.translate_config(original)
    assert (
        configs[keys.TRANSFORMER]["hidden_size"] == 2560
        and configs[keys.TRANSFORMER]["encoder_hidden_size"] == 2048
    )
    assert (
        configs[keys.TRANSFORMER]["is_turbo"] is True
        and configs[keys.TRANSFORMER]["model_version"] == "xl_turbo"
    )
    for component in (keys.CONDITION_ENCODER, keys.AUDIO_TOKENIZER, keys.AUDIO_TOKEN_DETOKENIZER):
        c = configs[component]
        assert (c["hidden_size"], c["intermediate_size"], c["num_attention_heads"]) == (2048, 6144, 16), (
            component
        )
    assert (
        configs[keys.AUDIO_TOKENIZER]["fsq_dim"] == 2048
        and len(configs[keys.AUDIO_TOKENIZER]["layer_types"]) == 2
    )
    with pytest.raises(InputError, match="lacks fields every ACE-Step 1.5 config has"):
        keys.translate_config({"hidden_size": 8})
