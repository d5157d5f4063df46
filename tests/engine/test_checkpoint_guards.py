"""Each broken model folder gets its own clear InputError before diffusers is asked to load it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from workbench.core.errors import InputError
from workbench.engine.convert import convert_checkpoint
from workbench.engine.engine import Engine
from workbench.engine.models import load_pipeline
from workbench.engine.requests import AudioCodes, StyleTransfer, Text2Music


@pytest.fixture(scope="module")
def original_dir(tmp_path_factory) -> Path:
    from workbench.engine.tiny_original import tiny_original_pipeline, write_original_layout

    return write_original_layout(tiny_original_pipeline(0), tmp_path_factory.mktemp("orig") / "checkpoints")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_partial_original_download_names_the_missing_weights(original_dir, tmp_path):
    partial = _copy(original_dir, tmp_path / "partial")
    (partial / "acestep-v15-base" / "model.safetensors").unlink()
    with pytest.raises(InputError, match="the DiT weights are missing: the download is partial"):
        load_pipeline(str(partial))


def test_dit_folder_without_vae_and_text_encoder(original_dir, tmp_path):
    dit = _copy(original_dir / "acestep-v15-base", tmp_path / "acestep-v15-base-alone")
    with pytest.raises(
        InputError, match=r"has no vae or Qwen3-Embedding-0.6B next to it; they ship in the main repo"
    ):
        load_pipeline(str(dit))
    # with the main repo's components named, the same DiT folder converts
    report = convert_checkpoint(dit, "", tmp_path / "out", components=original_dir)
    assert (report.folder / "model_index.json").is_file()


def test_original_dit_and_vae_with_different_latent_sizes(original_dir, tmp_path):
    mixed = _copy(original_dir, tmp_path / "mixed")
    config = json.loads((mixed / "vae" / "config.json").read_text())
    config["decoder_input_channels"] = 16
    (mixed / "vae" / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="the DiT and the VAE come from different models"):
        convert_checkpoint(mixed, "base", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_diffusers_folder_with_mismatched_latent_sizes(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path / "pipe")
    config = json.loads((folder / "vae" / "config.json").read_text())
    config["decoder_input_channels"] = 16
    (folder / "vae" / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        InputError, match="the DiT works on 8-channel latents but the VAE .* makes 16-channel ones"
    ):
        load_pipeline(str(folder))


def test_partial_diffusers_folder_names_the_missing_component_file(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path / "pipe")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(
        InputError, match=r"is incomplete \(missing transformer/\*\.safetensors\): a partial download"
    ):
        load_pipeline(str(folder))


def test_diffusers_folder_without_optional_components(tiny_model_dir, tmp_path, src_wav):
    folder = _copy(tiny_model_dir, tmp_path / "pipe")
    index = json.loads((folder / "model_index.json").read_text())
    for name in ("audio_tokenizer", "audio_token_detokenizer"):
        index.pop(name)
        shutil.rmtree(folder / name)
    (folder / "model_index.json").write_text(json.dumps(index))
    from workbench.engine.models import check_model

    assert any(
        "cover/style transfer and audio codes cannot run" in n for n in check_model(str(folder))["notes"]
    )
    engine = Engine(str(folder))
    assert engine.run(Text2Music(prompt="x", duration_s=1.0, steps=1, seed=0)).ok  # the rest still works
    needs = "has no audio_tokenizer and audio_token_detokenizer, which this task needs"
    with pytest.raises(InputError, match=needs):
        engine.run(StyleTransfer(src=str(src_wav), strength=0.5, steps=1, seed=0))
    with pytest.raises(InputError, match=needs):
        engine.run(AudioCodes(codes="<|audio_code_1|>" * 5, steps=1, seed=0))


class _NotATensor:
    pass


def test_a_pickled_object_as_silence_latent_is_refused(original_dir, tmp_path):
    tampered = _copy(original_dir, tmp_path / "tampered")
    torch.save({"payload": _NotATensor()}, tampered / "acestep-v15-base" / "silence_latent.pt")
    with pytest.raises(InputError, match="silence_latent.pt is not a plain tensor file"):
        convert_checkpoint(tampered, "base", tmp_path / "out")


def test_checkpoint_root_with_several_variants_asks_which(original_dir, tmp_path):
    both = _copy(original_dir, tmp_path / "both")
    shutil.copytree(both / "acestep-v15-base", both / "acestep-v15-sft")
    with pytest.raises(
        InputError, match=r"several DiT variants \(acestep-v15-base, acestep-v15-sft\).*--variant"
    ):
        load_pipeline(str(both))
