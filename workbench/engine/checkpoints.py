"""What is in a model folder, what is missing, and the one command that fixes it.

Two layouts reach the workbench: diffusers pipeline folders (``model_index.json`` plus one folder per component)
and ACE-Step's original checkpoint layout (``acestep-v15-<variant>/``, ``vae/``, ``Qwen3-Embedding-0.6B/``). Every
check here reads only names and small JSON files, so a broken download is reported in milliseconds and in words,
before diffusers is asked to load anything (its errors for these cases are tracebacks about config keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.engine import checkpoint_keys as keys
from workbench.engine.convert import (
    DIT_PREFIX,
    SILENCE_FILE,
    TEXT_ENCODER_DIR,
    VAE_DIR,
    read_json,
)

DIFFUSERS = "diffusers"
ORIGINAL = (
    "original"  # a checkpoint root holding acestep-v15-<variant>/ (and usually vae/, Qwen3-Embedding-0.6B/)
)
ORIGINAL_DIT = "original-dit"  # a DiT folder on its own (config.json, model.safetensors, silence_latent.pt)
UNKNOWN = "unknown"
OPTIONAL_COMPONENTS = (keys.AUDIO_TOKENIZER, keys.AUDIO_TOKEN_DETOKENIZER)
# The files that make a component loadable (any one of each tuple).
_NEEDS: dict[str, tuple[str, ...]] = {
    "scheduler": ("scheduler_config.json",),
    "tokenizer": ("tokenizer.json", "vocab.json", "tokenizer.model"),
}


def dit_folders(folder: Path) -> list[str]:
    return sorted(
        p.name
        for p in Path(folder).iterdir()
        if p.is_dir() and p.name.startswith(DIT_PREFIX) and (p / "config.json").is_file()
    )


def detect_layout(folder: Path) -> str:
    folder = Path(folder)
    if (folder / "model_index.json").is_file():
        return DIFFUSERS
    if folder.is_dir() and dit_folders(folder):
        return ORIGINAL
    if (folder / "config.json").is_file() and (folder / SILENCE_FILE).is_file():
        return ORIGINAL_DIT
    return UNKNOWN


@dataclass(frozen=True)
class FolderCheck:
    """The answer of ``workbench models check``: what is there, what is not, and what to run."""

    folder: Path
    layout: str
    present: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.missing


def _component_files(folder: Path, component: str) -> tuple[list[str], list[str]]:
    sub = folder / component
    needs = _NEEDS.get(component)
    if needs is None:  # a model: its config and at least one safetensors file
        have = ["config.json"] if (sub / "config.json").is_file() else []
        weights = sorted(p.name for p in sub.glob("*.safetensors")) if sub.is_dir() else []
        missing = [] if have else [f"{component}/config.json"]
        if not weights:
            missing.append(f"{component}/*.safetensors")
        return [f"{component}/{n}" for n in have + weights], missing
    found = [n for n in needs if (sub / n).is_file()]
    return [f"{component}/{n}" for n in found], [] if found else [f"{component}/{needs[0]}"]


def check_diffusers(folder: Path) -> FolderCheck:
    index = read_json(folder / "model_index.json", "pipeline index")
    if not isinstance(index, dict):
        raise InputError(str(folder / "model_index.json"), type(index).__name__, "must be a JSON object")
    present, missing, notes = ["model_index.json"], [], []
    for component, value in sorted(index.items()):
        if component.startswith("_"):
            continue
        if not isinstance(value, list) or not value or value[0] is None:
            continue
        have, lack = _component_files(folder, component)
        present += have
        missing += lack
    for component in OPTIONAL_COMPONENTS:
        value = index.get(component)
        if not isinstance(value, list) or not value or value[0] is None:
            notes.append(f"no {component}: cover/style transfer and audio codes cannot run from this folder")
    return FolderCheck(folder, DIFFUSERS, tuple(present), tuple(missing), tuple(notes))


def check_original(folder: Path, variant: str = "") -> FolderCheck:
    """Names every missing file of an original-layout checkpoint (not just the first one)."""
    layout = detect_layout(folder)
    if layout == ORIGINAL and not variant:
        found = dit_folders(folder)
        variant = found[0] if len(found) == 1 else ""
        if not variant:
            note = f"several DiT folders ({', '.join(found)}); convert one with --variant"
            return FolderCheck(folder, layout, tuple(found), (), (note,))
    dit = folder / variant if variant else folder
    present: list[str] = []
    missing: list[str] = []
    for rel in ("config.json", SILENCE_FILE):
        (present if (dit / rel).is_file() else missing).append(f"{dit.name}/{rel}")
    shards = sorted(p.name for p in dit.glob("*.safetensors"))
    if shards:
        present += [f"{dit.name}/{n}" for n in shards]
    else:
        missing.append(f"{dit.name}/model.safetensors")
    roots = [folder, folder.parent]
    for sub, needs in (
        (VAE_DIR, ("config.json", "diffusion_pytorch_model.safetensors")),
        (TEXT_ENCODER_DIR, ("config.json", "model.safetensors", "tokenizer.json")),
    ):
        root = next((r for r in roots if (r / sub).is_dir()), folder)
        for name in needs:
            (present if (root / sub / name).is_file() else missing).append(f"{sub}/{name}")
    return FolderCheck(folder, layout, tuple(present), tuple(missing))


def check_folder(folder: Path) -> FolderCheck:
    layout = detect_layout(folder)
    if layout == DIFFUSERS:
        return check_diffusers(folder)
    if layout in (ORIGINAL, ORIGINAL_DIT):
        return check_original(folder)
    return FolderCheck(
        folder, UNKNOWN, (), ("model_index.json (diffusers) or acestep-v15-<variant>/config.json (original)",)
    )


def guard_diffusers(folder: Path, name: str, fix: str) -> None:
    """Refuse a diffusers folder that cannot load or run, with its own message per case, before diffusers reads it."""
    report = check_diffusers(folder)
    pickled = sorted(str(p.relative_to(folder)) for p in folder.glob("*/*.bin"))
    if report.missing and pickled:
        # A .bin weights file is a pickle: torch would run code hidden in it, so it is never loaded.
        raise InputError(
            "model",
            name,
            f"{folder} has {', '.join(pickled)} in place of .safetensors weights; .bin files hold pickled "
            "objects, which are never loaded (they could run code). Use .safetensors weights (pull the model "
            f"again). Fix: {fix}",
        )
    if report.missing:
        raise InputError(
            "model",
            name,
            f"the pipeline folder {folder} is incomplete (missing {', '.join(report.missing)}): a partial "
            f"download or copy. Fix: {fix}",
        )
    transformer = read_json(folder / "transformer" / "config.json", "transformer config")
    vae = read_json(folder / "vae" / "config.json", "VAE config")
    dit_dim = (transformer or {}).get("audio_acoustic_hidden_dim")
    vae_dim = (vae or {}).get("decoder_input_channels")
    if dit_dim is not None and vae_dim is not None and int(dit_dim) != int(vae_dim):
        raise InputError(
            "model",
            name,
            f"the DiT works on {dit_dim}-channel latents but the VAE in {folder / 'vae'} makes {vae_dim}-channel "
            "ones: they come from different models. Use the VAE released with this DiT",
        )


def require_components(pipe: Any, task: str, needs_codes: bool) -> None:
    """Cover/style transfer and audio codes run the audio tokenizer/detokenizer; say so instead of a traceback."""
    if not needs_codes:
        return
    absent = [c for c in OPTIONAL_COMPONENTS if getattr(pipe, c, None) is None]
    if absent:
        raise InputError(
            "task",
            task,
            f"this model folder has no {' and '.join(absent)}, which this task needs. Re-convert the original "
            "checkpoint with `workbench models convert SRC --variant NAME --out DIR` (it writes both), or use a "
            "pipeline folder that has them",
        )
