"""The model registry (configs/models.yaml) and loading ACE-Step pipelines from it, a hub id or a local folder.

Loading never downloads: ``workbench models pull NAME`` does that explicitly. A missing model therefore fails in
well under 2 s with the exact command that fixes it, instead of huggingface_hub's retry loop (20+ s offline).
"""

from __future__ import annotations

import hashlib
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.core import paths
from workbench.core.config import from_mapping, in_file, read_yaml
from workbench.core.errors import ConfigError, InputError, WeightsMissingError

REGISTRY_PATH = paths.CONFIG_DIR / "models.yaml"
Variant = Literal["turbo", "base", "sft"]
VARIANTS: tuple[str, ...] = typing.get_args(Variant)
DTYPES = ("bf16", "fp16", "fp32")
DEVICES = ("cuda", "mps", "cpu")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hub_id: str
    variant: Variant = "turbo"
    steps: int = 8
    guidance_scale: float = 1.0
    shift: float = 3.0
    revision: str | None = None
    params: str = ""
    notes: str = ""

    @property
    def is_local_build(self) -> bool:
        return self.hub_id.startswith("local:")


def load_registry(path: Path = REGISTRY_PATH) -> dict[str, ModelSpec]:
    raw = read_yaml(path, "models file") or {}
    models = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(models, dict):
        raise ConfigError("models", models, f"{path} must have a top-level 'models:' mapping")
    with in_file(path):
        return {
            name: from_mapping(ModelSpec, entry, f"models.{name}", fixed={"name": name})
            for name, entry in models.items()
        }


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, recorded with every result."""

    name: str  # registry name, hub id or folder as the user gave it
    source: str  # "registry-hub", "registry-local", "hub" or "folder"
    location: str  # hub id or absolute folder
    revision: str  # hub commit, or "local:<hash of configs and weight sizes>"
    variant: str
    steps: int
    guidance_scale: float
    shift: float
    device: str
    dtype: str
    offload: bool

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def pick_device(device: str | None = None) -> str:
    import torch

    if device is not None:
        if device.split(":")[0] not in DEVICES:
            raise InputError("device", device, f"choose one of {', '.join(DEVICES)} (e.g. cuda:1)")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError("device", device, "CUDA is not available on this machine; use cpu")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, dtype: str | None = None) -> str:
    if dtype is not None:
        if dtype not in DTYPES:
            raise InputError("dtype", dtype, f"choose one of {', '.join(DTYPES)}")
        return dtype
    # bf16 is what ACE-Step ships and trains in on CUDA; MPS and CPU run fp32 for correctness.
    return "bf16" if device.startswith("cuda") else "fp32"


def torch_dtype(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def local_revision(folder: Path) -> str:
    """A cheap fingerprint of a local pipeline folder: config texts plus weight file names and sizes."""
    digest = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(folder).as_posix()
        digest.update(rel.encode())
        if f.suffix in (".json", ".txt"):
            digest.update(f.read_bytes())
        else:
            digest.update(str(f.stat().st_size).encode())
    return "local:" + digest.hexdigest()[:16]


def _pull_hint(name: str) -> str:
    return f"workbench models pull {name}"


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    source: str
    folder: Path
    revision: str
    spec: ModelSpec | None
    hub_id: str | None = None  # set for hub models: loaded by id (local_files_only), exactly as a user would

    def pretrained_args(self) -> tuple[str, dict[str, Any]]:
        if self.hub_id is None:
            return str(self.folder), {}
        return self.hub_id, {"revision": self.revision, "local_files_only": True}


def _hub_snapshot(hub_id: str, revision: str | None, name: str) -> tuple[Path, str]:
    """Find a hub model in the local HF cache without touching the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(hub_id, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise WeightsMissingError(
            f"weights for '{name}' ({hub_id}) are not in the local Hugging Face cache ({cache}). "
            f"Download them with: {_pull_hint(name)}   (or pass --model /path/to/a/diffusers/folder)"
        ) from exc
    if not (folder / "model_index.json").exists():
        raise WeightsMissingError(
            f"'{hub_id}' in the cache has no model_index.json, so it is not a diffusers-format pipeline; "
            f"re-download with: {_pull_hint(name)}"
        )
    return folder, folder.name  # the snapshot folder is named after the commit


def resolve_model(model: str, registry: dict[str, ModelSpec] | None = None) -> ResolvedModel:
    """Turn a registry name, a local folder or a hub id into a local folder. Raises fast if absent."""
    registry = registry if registry is not None else load_registry()
    if not model or not str(model).strip():
        raise InputError(
            "model", model, f"give a registry name ({', '.join(registry)}), a hub id or a folder"
        )
    spec = registry.get(model)
    if spec is not None and spec.is_local_build:
        from workbench.engine.tiny import tiny_dir

        folder = tiny_dir()
        if not (folder / "model_index.json").exists():
            raise WeightsMissingError(
                f"the '{model}' model is not built yet. Build it with: {_pull_hint(model)}"
            )
        return ResolvedModel(model, "registry-local", folder, local_revision(folder), spec)
    if spec is not None:
        folder, rev = _hub_snapshot(spec.hub_id, spec.revision, model)
        return ResolvedModel(model, "registry-hub", folder, rev, spec, hub_id=spec.hub_id)
    candidate = Path(model).expanduser()
    if candidate.exists():
        if not (candidate / "model_index.json").exists():
            raise InputError(
                "model", model, "this folder has no model_index.json; give a diffusers-format pipeline folder"
            )
        return ResolvedModel(model, "folder", candidate.resolve(), local_revision(candidate), None)
    if model.count("/") == 1 and not model.startswith(("/", ".", "~")):
        folder, rev = _hub_snapshot(model, None, model)
        return ResolvedModel(model, "hub", folder, rev, None, hub_id=model)
    raise InputError(
        "model",
        model,
        f"not a registry name ({', '.join(registry)}), an existing folder or an org/name hub id",
    )


def defaults_for(resolved: ResolvedModel, is_turbo: bool) -> tuple[str, int, float, float]:
    """(variant, steps, guidance, shift): the registry's values, else the diffusers docs' per-variant defaults."""
    if resolved.spec is not None:
        s = resolved.spec
        return s.variant, s.steps, s.guidance_scale, s.shift
    return ("turbo", 8, 1.0, 3.0) if is_turbo else ("base", 8, 7.0, 3.0)


def load_pipeline(
    model: str, *, device: str | None = None, dtype: str | None = None, offload: bool = False
) -> tuple[Any, ModelInfo]:
    """Load an AceStepPipeline exactly as a user with weights would: ``from_pretrained`` of a local folder."""
    from diffusers import AceStepPipeline
    from diffusers.utils import logging as diffusers_logging

    spec = load_registry().get(model)
    if spec is not None and spec.is_local_build:
        from workbench.engine.tiny import ensure_tiny

        ensure_tiny()  # a local build of a few seconds, never a download: no reason to make the user do it
    resolved = resolve_model(model)
    diffusers_logging.disable_progress_bar()
    device_name = pick_device(device)
    dtype_name = pick_dtype(device_name, dtype)
    if offload and not device_name.startswith("cuda"):
        raise InputError(
            "offload", offload, "CPU offload needs a CUDA device; drop --offload on this machine"
        )
    location, options = resolved.pretrained_args()
    try:
        pipe = AceStepPipeline.from_pretrained(location, dtype=torch_dtype(dtype_name), **options)
    except OSError as exc:  # diffusers' message for weights it refuses (a pickled .bin) or cannot read
        raise InputError(
            "model",
            model,
            f"{exc}; the weights are corrupt, or a .bin file holds pickled objects, which are never loaded "
            "(they could run code). Use .safetensors weights (pull the model again)",
        ) from None
    if offload:
        pipe.enable_model_cpu_offload(device=device_name)
    else:
        pipe.to(device_name)
    pipe.set_progress_bar_config(disable=True)
    variant, steps, guidance, shift = defaults_for(resolved, bool(pipe.is_turbo))
    info = ModelInfo(
        name=model,
        source=resolved.source,
        location=str(resolved.folder),
        revision=resolved.revision,
        variant=variant,
        steps=steps,
        guidance_scale=guidance,
        shift=shift,
        device=device_name,
        dtype=dtype_name,
        offload=offload,
    )
    return pipe, info


def check_model(model: str) -> dict[str, Any]:
    """Is this model loadable offline? Checks the folder structure without loading weights."""
    resolved = resolve_model(model)
    index = json.loads((resolved.folder / "model_index.json").read_text())
    missing = []
    for component, value in index.items():
        if component.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        sub = resolved.folder / component
        if not sub.is_dir() or not any(sub.iterdir()):
            missing.append(component)
    if missing:
        raise WeightsMissingError(
            f"'{model}' at {resolved.folder} lacks components {missing}; re-download with: {_pull_hint(model)}"
        )
    return {
        "model": model,
        "folder": str(resolved.folder),
        "revision": resolved.revision,
        "source": resolved.source,
    }


def pull_model(model: str) -> Path:
    """Download (or for 'tiny', build) a model into the local cache."""
    registry = load_registry()
    spec = registry.get(model)
    if spec is not None and spec.is_local_build:
        from workbench.engine.tiny import ensure_tiny

        return ensure_tiny()
    hub_id = spec.hub_id if spec is not None else model
    if spec is None and model.count("/") != 1:
        raise InputError(
            "model", model, f"give a registry name ({', '.join(registry)}) or an org/name hub id"
        )
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(hub_id, revision=spec.revision if spec else None))
