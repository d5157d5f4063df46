"""Stem separation with demucs (htdemucs family): drums, bass, other, vocals.

Weights come from, in order: a configured local demucs repo folder (``WORKBENCH_DEMUCS_REPO`` or the app's
setting: ``<name>.yaml`` bags and/or ``<sig>[-<checksum>].th`` models, as ``demucs --repo`` expects), the Hugging
Face cache (``adefossez/HTDemucs`` style repos) and torch hub's checkpoint folder (where ``demucs`` downloads the
legacy files). Everything is looked up locally *before* demucs is asked to load: demucs' own lookup goes to the
hub first and retries for 20+ s without network. A missing model therefore fails in well under a second with the
fix. ``build_tiny_demucs`` writes a small random HTDemucs repo for tests and demos.
"""

from __future__ import annotations

import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.audio_io import Audio, conform, write_audio
from workbench.core.errors import WeightsMissingError

REPO_ENV = "WORKBENCH_DEMUCS_REPO"
STEM_NAMES = ("drums", "bass", "other", "vocals")


@dataclass(frozen=True)
class WeightsLocation:
    kind: str  # "repo", "hf-cache" or "torch-hub"
    folder: Path


def _demucs_remote() -> Path:
    import demucs.pretrained

    return Path(demucs.pretrained.REMOTE_ROOT)


def _bag_signatures(name: str, yaml_folder: Path) -> list[str] | None:
    import yaml

    bag = yaml_folder / f"{name}.yaml"
    if not bag.is_file():
        return None
    return [str(s) for s in (yaml.safe_load(bag.read_text()) or {}).get("models", [])]


def _has_local_model(folder: Path, name: str) -> bool:
    if not folder.is_dir():
        return False
    stems = {p.stem.split("-")[0] for p in folder.glob("*.th")}
    sigs = _bag_signatures(name, folder)
    if sigs is not None:
        return all(s in stems for s in sigs)
    return name in stems


def _hf_cache_folder(name: str) -> Path | None:
    from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(f"{DEFAULT_NAMESPACE}/{hf_repo_name(name)}", f"{name}.yaml")
    return Path(found).parent if isinstance(found, str) else None


def _torch_hub_folder() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def locate_weights(name: str = "htdemucs", repo: str | Path | None = None) -> WeightsLocation:
    """Find the model locally or raise WeightsMissingError with the fix. Never touches the network."""
    repo = repo if repo is not None else os.environ.get(REPO_ENV) or None
    if repo is not None:
        folder = Path(repo).expanduser()
        if _has_local_model(folder, name):
            return WeightsLocation("repo", folder)
        raise WeightsMissingError(
            f"demucs model '{name}' is not in the configured repo {folder} (expected {name}.yaml with its .th files, "
            f"or {name}.th). Put the files there, or unset {REPO_ENV} to use the usual caches."
        )
    hf_folder = _hf_cache_folder(name)
    if hf_folder is not None:
        return WeightsLocation("hf-cache", hf_folder)
    hub = _torch_hub_folder()
    sigs = _bag_signatures(name, _demucs_remote())
    if sigs and all(any(hub.glob(f"{s}-*.th")) for s in sigs):
        return WeightsLocation("torch-hub", hub)
    raise WeightsMissingError(
        f"demucs weights for '{name}' are not on this machine (looked in the Hugging Face cache and {hub}). "
        f"Fix: on a machine with internet run `python -m demucs.separate -n {name} any.wav` once (it caches them), "
        f"or copy a demucs repo folder here and set {REPO_ENV}=/path/to/it."
    )


def load_model(name: str = "htdemucs", repo: str | Path | None = None) -> Any:
    from demucs.repo import AnyModelRepo, BagOnlyRepo, LocalRepo

    location = locate_weights(name, repo)
    model: Any
    if location.kind == "hf-cache":
        import demucs.hf

        # Offline so a stale cache entry cannot trigger the hub retry loop.
        previous = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            model = demucs.hf.get_hf_model(name)
        finally:
            if previous is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = previous
    else:
        models = LocalRepo(location.folder)
        yaml_folder = location.folder if location.kind == "repo" else _demucs_remote()
        model = AnyModelRepo(models, BagOnlyRepo(yaml_folder, models)).get_model(name)
    model.eval()
    return model


class StemSeparator:
    """Lazily loads one demucs model and separates 48 kHz audio into 48 kHz stems (thread-safe)."""

    def __init__(
        self, name: str = "htdemucs", repo: str | Path | None = None, device: str | None = None
    ) -> None:
        self.name = name
        self.repo = repo
        self.device = device
        self._separator: Any = None
        self._lock = threading.Lock()

    def check(self) -> WeightsLocation:
        return locate_weights(self.name, self.repo)

    def _get(self) -> Any:
        import demucs.api
        import torch

        if self._separator is None:
            model = load_model(self.name, self.repo)

            class _Preloaded(demucs.api.Separator):  # type: ignore[misc]
                # Separator.__init__ would call demucs' get_model (hub first, slow offline); hand it ours.
                def _load_model(self) -> None:
                    self._model = model
                    self._audio_channels = model.audio_channels
                    self._samplerate = model.samplerate

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._separator = _Preloaded(model=self.name, device=device, shifts=0, progress=False)
        return self._separator

    def separate(self, audio: Audio) -> dict[str, Audio]:
        import torch

        with self._lock:
            separator = self._get()
            wav = torch.from_numpy(np.ascontiguousarray(audio.samples, dtype=np.float32))
            _mix, stems = separator.separate_tensor(wav, audio.sample_rate)
            rate = separator.samplerate
        return {
            name: conform(Audio(t.detach().cpu().numpy().astype(np.float32), rate))
            for name, t in stems.items()
        }


def write_stems(stems: dict[str, Audio], folder: Path, stem_prefix: str = "") -> tuple[dict[str, Path], Path]:
    """Write each stem as wav and a zip of all of them. Returns ({name: path}, zip path)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: write_audio(folder / f"{stem_prefix}{name}.wav", audio) for name, audio in stems.items()}
    archive = folder / f"{stem_prefix}stems.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in paths.values():
            zf.write(path, arcname=path.name)
    return paths, archive


def build_tiny_demucs(folder: Path, name: str = "tinyht", seed: int = 0) -> Path:
    """A small random HTDemucs saved as a local demucs repo (``<folder>/<name>.th``) - noise out, real code path."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.th"
    if path.is_file():
        return folder
    torch.manual_seed(seed)
    # segment=2: demucs pads every chunk to the segment, so a short one keeps short test clips cheap.
    model = HTDemucs(sources=list(STEM_NAMES), samplerate=44100, segment=2, channels=8, depth=2, t_layers=0)
    package = {
        "klass": model.__class__,
        "args": model._init_args_kwargs[0],
        "kwargs": model._init_args_kwargs[1],
        "state": get_state(model, None),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(package, tmp)
    os.replace(tmp, path)
    return folder
