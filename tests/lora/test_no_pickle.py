"""A pickle planted in every place the workbench loads files from never runs, and each refusal says why.

Each planted file, if unpickled, would create a marker file. Every case asserts the marker is absent and that
the message names the file and the reason.
"""

from __future__ import annotations

import pickle
import shutil
import threading
from pathlib import Path

import pytest
import torch

from lora import checkpoints as ck
from lora.trainer import TrainProgress, train
from workbench.core.errors import AdapterError, InputError


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what a crafted file does: call a function (here: create a file) when unpickled
        return (open, (str(self.marker), "w"))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PICKLE-RAN"


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory, tiny_model_dir, build_small_dataset, tiny_config) -> tuple[Path, Path]:
    """(dataset, run folder) of a tiny run stopped at its step-2 checkpoint, as `lora train --resume` finds it."""
    torch.set_num_threads(1)
    data = build_small_dataset(tmp_path_factory.mktemp("pickle-data"), n=2, val_fraction=0.0)
    out = tmp_path_factory.mktemp("pickle-run") / "run"
    stop = threading.Event()

    def progress(p: TrainProgress) -> None:
        if p.phase == "train" and p.step == 2:
            stop.set()

    result = train(tiny_config(data, out, max_steps=4, checkpoint_every=2), progress=progress, stop=stop)
    assert result.stopped and ck.latest_checkpoint(out).step == 2
    return data, out


@pytest.mark.parametrize("planted", [ck.STATE_FILE, "rng_rank0.pt"])
def test_resume_refuses_a_pickled_state_file(stopped_run, tmp_path, tiny_config, marker, planted):
    data, run = stopped_run
    copy = Path(shutil.copytree(run, tmp_path / "run"))
    latest = ck.latest_checkpoint(copy)
    torch.save({"step": 2, "payload": _RunsCode(marker)}, latest.path / planted)
    with pytest.raises(InputError) as info:
        train(tiny_config(data, copy, max_steps=4, checkpoint_every=2), resume=True)
    assert not marker.exists()
    message = str(info.value)
    assert planted in message and "it could run code" in message


def test_resume_refuses_a_pickle_in_place_of_the_adapter(stopped_run, tmp_path, tiny_config, marker):
    data, run = stopped_run
    copy = Path(shutil.copytree(run, tmp_path / "run"))
    adapter = ck.latest_checkpoint(copy).path / "pytorch_lora_weights.safetensors"
    adapter.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(InputError, match="cannot be read as safetensors"):
        train(tiny_config(data, copy, max_steps=4, checkpoint_every=2), resume=True)
    assert not marker.exists()


def test_preprocessed_clip_cache_refuses_a_pickle(tmp_path, marker):
    from lora.preprocess import load_entry

    path = tmp_path / "clip.pt"
    torch.save({"latents": _RunsCode(marker)}, path)
    with pytest.raises(
        InputError, match=r"preprocessed clip=.*clip.pt.*\(it could run code\); delete the dataset"
    ):
        load_entry(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("adapter_model.bin", "no adapter weights found"),
        ("pytorch_lora_weights.safetensors", "cannot read pytorch_lora_weights.safetensors"),
    ],
)
def test_generation_adapter_folder_with_a_pickle(engine, tmp_path, marker, name, message):
    from workbench.engine.requests import LoraRef, Text2Music

    folder = tmp_path / "lora"
    folder.mkdir()
    (folder / name).write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(AdapterError, match=message):
        engine.run(Text2Music(prompt="x", duration_s=1.0, steps=1, lora=LoraRef(str(folder), 1.0)))
    assert not marker.exists()


def test_generation_adapter_given_as_a_pt_file(engine, tmp_path, marker):
    from workbench.engine.requests import LoraRef, Text2Music

    path = tmp_path / "adapter.pt"
    torch.save(_RunsCode(marker), path)
    with pytest.raises(AdapterError, match="expected a .safetensors file or a folder, got '.pt'"):
        engine.run(Text2Music(prompt="x", duration_s=1.0, steps=1, lora=LoraRef(str(path), 1.0)))
    assert not marker.exists()


def test_model_checkpoint_with_only_a_pickled_bin(tiny_model_dir, tmp_path, marker):
    """A model folder whose transformer weights were swapped for a pickle: diffusers' loader is weights-only."""
    from workbench.engine.models import load_pipeline

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()
    torch.save({"payload": _RunsCode(marker)}, folder / "transformer" / "diffusion_pytorch_model.bin")
    with pytest.raises(InputError) as info:
        load_pipeline(str(folder), device="cpu")
    assert not marker.exists()
    assert "diffusion_pytorch_model.bin" in str(info.value) and "never loaded (they could run code)" in str(
        info.value
    )


def test_embedding_cache_entry_holding_a_pickle_is_recomputed(tmp_path, marker, write_tone):
    import numpy as np

    from evals.sets.embeddings import EmbeddingCache

    class Backend:
        cache_id = "test-backend"

        def embed(self, audio):
            return np.ones((2, 3), dtype=np.float32)

    cache = EmbeddingCache(tmp_path / "cache")
    clip = write_tone(tmp_path / "t.wav", duration_s=0.5)
    target = cache.location(Backend(), clip)
    target.parent.mkdir(parents=True)
    np.save(target, np.array([_RunsCode(marker)], dtype=object), allow_pickle=True)
    frames = cache.embed_file(Backend(), clip)
    assert not marker.exists()
    assert frames.shape == (2, 3)


def test_yaml_config_with_a_python_tag(tmp_path, marker):
    from workbench.campaigns.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(f"name: !!python/object/apply:builtins.open ['{marker}', 'w']\n", encoding="utf-8")
    with pytest.raises(InputError, match="is not valid YAML: could not determine a constructor"):
        load_config(path)
    assert not marker.exists()
