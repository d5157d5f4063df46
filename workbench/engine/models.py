"""Loading ACE-Step pipelines from a registry name (``registry``), a hub id or a local folder, in either layout.

Loading never downloads: ``workbench models pull NAME`` does that explicitly. A missing model therefore fails in
well under 2 s with the exact command that fixes it, instead of huggingface_hub's retry loop (20+ s offline).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import InputError, WeightsMissingError
from workbench.engine.registry import FALLBACK_PRESETS as FALLBACK_PRESETS
from workbench.engine.registry import LAYOUTS as LAYOUTS
from workbench.engine.registry import REGISTRY_PATH as REGISTRY_PATH
from workbench.engine.registry import VARIANTS as VARIANTS
from workbench.engine.registry import ModelSpec as ModelSpec
from workbench.engine.registry import Preset as Preset
from workbench.engine.registry import load_registry as load_registry

logger = logging.getLogger(__name__)
DTYPES = ("bf16", "fp16", "fp32")
DEVICES = ("cuda", "mps", "cpu")


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
    # Added after the first release of this record; defaults keep older positional callers working.
    cfg_interval_start: float = 0.0
    cfg_interval_end: float = 1.0
    preset: str = ""  # where the defaults above come from
    layout: str = "diffusers"  # the layout the weights came in ("original" was converted on pull/load)
    converted: str = ""  # the converted folder's content hash when the weights were converted

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
    layout: str = "diffusers"  # the layout the weights came in; "original" means ``folder`` is the conversion
    pending: Conversion | None = None  # an original-layout source not converted yet (resolve(convert=False))

    def pretrained_args(self) -> tuple[str, dict[str, Any]]:
        if self.hub_id is None:
            return str(self.folder), {}
        return self.hub_id, {"revision": self.revision, "local_files_only": True}


@dataclass(frozen=True)
class Conversion:
    """An original-layout checkpoint and where its diffusers conversion is cached."""

    source: Path
    variant: str  # the DiT folder inside ``source`` ("" when ``source`` is the DiT folder)
    components: Path | None  # where vae/ and Qwen3-Embedding-0.6B/ are when not next to the DiT
    target: Path
    revision: str

    @property
    def done(self) -> bool:
        from workbench.engine.convert import CONVERTER_VERSION, read_provenance

        record = read_provenance(self.target)
        return record is not None and record.get("converter_version") == CONVERTER_VERSION

    def command(self, name: str) -> str:
        variant = self.variant or "<the DiT folder name>"
        extra = f" --components {self.components}" if self.components else ""
        return f"workbench models convert {self.source} --variant {variant} --out DIR{extra}   (or: {_pull_hint(name)})"

    def run(self, name: str) -> Path:
        from workbench.engine.convert import convert_checkpoint

        if self.done:
            return self.target
        logger.warning(
            "'%s' is in the original ACE-Step layout; converting it once to a diffusers folder at %s "
            "(later loads reuse it)",
            name,
            self.target,
        )
        try:
            convert_checkpoint(
                self.source,
                self.variant,
                self.target,
                components=self.components,
                source_revision=self.revision,
            )
        except InputError:
            if self.done:  # another process finished the same conversion first
                return self.target
            raise
        return self.target


def converted_dir(name: str, revision: str) -> Path:
    from workbench.engine.convert import CONVERTER_VERSION

    label = Path(name).name if Path(name).expanduser().exists() else name.strip("/").replace("/", "--")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in label)[-60:]
    rev = revision.removeprefix("local:")[:16]
    return paths.models_dir() / "converted" / f"{safe}-{rev}-c{CONVERTER_VERSION}"


def _hub_snapshot(
    hub_id: str, revision: str | None, name: str, *, diffusers: bool = True
) -> tuple[Path, str]:
    """Find a hub model in the local HF cache without touching the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(hub_id, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise WeightsMissingError(
            f"weights for '{name}' ({hub_id}) are not in the local Hugging Face cache ({cache}). "
            f"Download them with: {_pull_hint(name)}   (or pass --model /path/to/a/model/folder)"
        ) from exc
    if diffusers and not (folder / "model_index.json").exists():
        from workbench.engine.checkpoints import UNKNOWN, detect_layout

        if detect_layout(folder) == UNKNOWN:
            raise WeightsMissingError(
                f"'{hub_id}' in the cache has neither model_index.json (diffusers) nor an ACE-Step DiT folder; "
                f"re-download with: {_pull_hint(name)}"
            )
    return folder, folder.name  # the snapshot folder is named after the commit


def _original(
    name: str,
    source: str,
    folder: Path,
    revision: str,
    spec: ModelSpec | None,
    variant: str,
    components: Path | None,
) -> ResolvedModel:
    pending = Conversion(folder, variant, components, converted_dir(name, revision), revision)
    return ResolvedModel(name, source, pending.target, revision, spec, layout="original", pending=pending)


def _folder_variant(folder: Path, model: str) -> str:
    """The DiT folder to convert inside an original-layout checkpoint root given as --model."""
    from workbench.engine.checkpoints import ORIGINAL_DIT, detect_layout, dit_folders

    if detect_layout(folder) == ORIGINAL_DIT:
        return ""
    found = dit_folders(folder)
    if len(found) > 1:
        raise InputError(
            "model",
            model,
            f"this checkpoint folder holds several DiT variants ({', '.join(found)}); convert the one you want "
            f"with: workbench models convert {folder} --variant {found[0]} --out DIR, then pass --model DIR",
        )
    return found[0]


def resolve_model(
    model: str, registry: dict[str, ModelSpec] | None = None, *, convert: bool = False
) -> ResolvedModel:
    """Turn a registry name, a local folder or a hub id into a local folder. Raises fast if absent.

    Original-layout checkpoints resolve to their cached diffusers conversion; ``convert=True`` runs the
    conversion if it is not cached yet (a one-off per source revision), otherwise ``pending`` says what is left.
    """
    registry = registry if registry is not None else load_registry()
    if not model or not str(model).strip():
        raise InputError(
            "model", model, f"give a registry name ({', '.join(registry)}), a hub id or a folder"
        )
    resolved = _resolve(model, registry)
    if convert and resolved.pending is not None and not resolved.pending.done:
        resolved.pending.run(model)
    return resolved


def _resolve(model: str, registry: dict[str, ModelSpec]) -> ResolvedModel:
    from workbench.engine.checkpoints import DIFFUSERS, UNKNOWN, detect_layout

    spec = registry.get(model)
    if spec is not None and spec.is_local_build:
        if spec.layout == "original":
            from workbench.engine.tiny_original import is_built, tiny_original_dir

            src = tiny_original_dir()
            if not is_built(src):
                raise WeightsMissingError(
                    f"the '{model}' model is not built yet. Build it with: {_pull_hint(model)}"
                )
            return _original(model, "registry-local", src, local_revision(src), spec, spec.subfolder, None)
        from workbench.engine.tiny import tiny_dir

        folder = tiny_dir()
        if not (folder / "model_index.json").exists():
            raise WeightsMissingError(
                f"the '{model}' model is not built yet. Build it with: {_pull_hint(model)}"
            )
        return ResolvedModel(model, "registry-local", folder, local_revision(folder), spec)
    if spec is not None:
        original = spec.layout == "original"
        folder, rev = _hub_snapshot(spec.hub_id, spec.revision, model, diffusers=not original)
        if not original or (folder / "model_index.json").is_file():  # what is on disk wins over the registry
            return ResolvedModel(model, "registry-hub", folder, rev, spec, hub_id=spec.hub_id)
        components = None
        if spec.components_from:
            other = registry.get(spec.components_from)
            if other is None:
                raise InputError(
                    f"models.{model}.components_from", spec.components_from, "name another registry entry"
                )
            components, _ = _hub_snapshot(other.hub_id, other.revision, spec.components_from, diffusers=False)
        return _original(model, "registry-hub", folder, rev, spec, spec.subfolder, components)
    candidate = Path(model).expanduser()
    if candidate.exists():
        layout = detect_layout(candidate)
        if layout == UNKNOWN:
            raise InputError(
                "model",
                model,
                "this folder has no model_index.json (diffusers) and no ACE-Step checkpoint "
                "(acestep-v15-<variant>/config.json); give a diffusers pipeline folder or an original checkpoint",
            )
        rev = local_revision(candidate)
        if layout == DIFFUSERS:
            return ResolvedModel(model, "folder", candidate.resolve(), rev, None)
        return _original(
            model, "folder", candidate.resolve(), rev, None, _folder_variant(candidate, model), None
        )
    if model.count("/") == 1 and not model.startswith(("/", ".", "~")):
        folder, rev = _hub_snapshot(model, None, model)
        if (folder / "model_index.json").exists():
            return ResolvedModel(model, "hub", folder, rev, None, hub_id=model)
        return _original(model, "hub", folder, rev, None, _folder_variant(folder, model), None)
    raise InputError(
        "model",
        model,
        f"not a registry name ({', '.join(registry)}), an existing folder or an org/name hub id",
    )


def preset_for(resolved: ResolvedModel, is_turbo: bool) -> tuple[str, Preset]:
    """(variant, preset): the registry's values, else ACE-Step's own defaults for the variant the weights declare."""
    if resolved.spec is not None:
        return resolved.spec.variant, resolved.spec.preset
    variant = "turbo" if is_turbo else "base"
    return variant, FALLBACK_PRESETS[variant]


def defaults_for(resolved: ResolvedModel, is_turbo: bool) -> tuple[str, int, float, float]:
    """(variant, steps, guidance, shift) of ``preset_for``."""
    variant, p = preset_for(resolved, is_turbo)
    return variant, p.steps, p.guidance_scale, p.shift


def _from_pretrained(resolved: ResolvedModel, dtype_name: str) -> Any:
    from diffusers import AceStepPipeline

    from workbench.engine.checkpoints import guard_diffusers

    guard_diffusers(resolved.folder, resolved.name, f"workbench models check {resolved.name}")
    location, options = resolved.pretrained_args()
    try:
        return AceStepPipeline.from_pretrained(location, dtype=torch_dtype(dtype_name), **options)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        # diffusers raises OSError for weights it refuses to read, among them a pickled .bin file.
        pickled = (
            "; the weights are corrupt, or a .bin file holds pickled objects, which are never loaded "
            "(they could run code): use .safetensors weights (pull the model again)"
            if isinstance(exc, OSError)
            else ""
        )
        raise InputError(
            "model",
            resolved.name,
            f"diffusers could not load {resolved.folder} ({type(exc).__name__}: {first}){pickled}. "
            f"See what is wrong with: workbench models check {resolved.name}",
        ) from exc


def _own_memory(pipe: Any) -> None:
    """Copy every CPU tensor out of the memory-mapped weight files into fresh allocations.

    from_pretrained leaves CPU tensors pointing into the mmapped safetensors files, at whatever byte offset
    each one has there. CPU matmul kernels pick code paths by pointer alignment, so the same weights at
    different offsets give results that differ in the last bits: a converted folder would not reproduce the
    pipeline it came from. Fresh allocations are always aligned, so results depend on values only.
    """
    import torch

    with torch.no_grad():
        for module in pipe.components.values():
            if not isinstance(module, torch.nn.Module):
                continue
            for tensor in [*module.parameters(), *module.buffers()]:
                if tensor.device.type == "cpu":
                    tensor.data = tensor.data.clone()


def load_pipeline(
    model: str, *, device: str | None = None, dtype: str | None = None, offload: bool = False
) -> tuple[Any, ModelInfo]:
    """Load an AceStepPipeline exactly as a user with weights would: ``from_pretrained`` of a local folder.

    An original-layout checkpoint is converted once (with a message) and the conversion is what loads.
    """
    from diffusers.utils import logging as diffusers_logging

    spec = load_registry().get(model)
    if spec is not None and spec.is_local_build:
        # A local build of a few seconds, never a download: no reason to make the user do it.
        if spec.layout == "original":
            from workbench.engine.tiny_original import ensure_tiny_original

            ensure_tiny_original()
        else:
            from workbench.engine.tiny import ensure_tiny

            ensure_tiny()
    resolved = resolve_model(model, convert=True)
    diffusers_logging.disable_progress_bar()
    device_name = pick_device(device)
    dtype_name = pick_dtype(device_name, dtype)
    if offload and not device_name.startswith("cuda"):
        raise InputError(
            "offload", offload, "CPU offload needs a CUDA device; drop --offload on this machine"
        )
    pipe = _from_pretrained(resolved, dtype_name)
    if offload:
        pipe.enable_model_cpu_offload(device=device_name)
    else:
        pipe.to(device_name)
    _own_memory(pipe)
    pipe.set_progress_bar_config(disable=True)
    variant, preset = preset_for(resolved, bool(pipe.is_turbo))
    from workbench.engine.convert import read_provenance

    # Set for every converted folder, whether converted just now or given as --model DIR later.
    converted = str((read_provenance(resolved.folder) or {}).get("content_sha256", ""))
    info = ModelInfo(
        name=model,
        source=resolved.source,
        location=str(resolved.folder),
        revision=resolved.revision,
        variant=variant,
        steps=preset.steps,
        guidance_scale=preset.guidance_scale,
        shift=preset.shift,
        device=device_name,
        dtype=dtype_name,
        offload=offload,
        cfg_interval_start=preset.cfg_interval_start,
        cfg_interval_end=preset.cfg_interval_end,
        preset=preset.source,
        layout=resolved.layout,
        converted=converted,
    )
    return pipe, info


def check_model(model: str) -> dict[str, Any]:
    """Is this model loadable offline? Checks the folder structure without loading weights."""
    from workbench.engine.checkpoints import check_diffusers, check_original

    resolved = resolve_model(model)
    pending = resolved.pending
    if pending is not None and not pending.done:
        report = check_original(pending.source, pending.variant)
        if report.missing:
            raise WeightsMissingError(
                f"'{model}' ({report.layout} layout) at {pending.source} lacks {', '.join(report.missing)}; "
                f"re-download with: {_pull_hint(model)}"
            )
        return {
            "model": model,
            "folder": str(pending.source),
            "revision": resolved.revision,
            "source": resolved.source,
            "layout": report.layout,
            "present": list(report.present),
            "missing": [],
            "ready": False,
            "fix": pending.command(model),
        }
    report = check_diffusers(resolved.folder)
    if report.missing:
        raise WeightsMissingError(
            f"'{model}' at {resolved.folder} lacks {', '.join(report.missing)}; re-download with: {_pull_hint(model)}"
        )
    return {
        "model": model,
        "folder": str(resolved.folder),
        "revision": resolved.revision,
        "source": resolved.source,
        "layout": resolved.layout,
        "present": list(report.present),
        "missing": [],
        "notes": list(report.notes),
        "ready": True,
        "fix": "",
    }


def pull_model(model: str) -> Path:
    """Download (or for local builds, build) a model, converting original-layout repos; returns the loadable folder.

    A second pull of the same revision finds the download in the HF cache and the conversion in the workbench's
    model folder, and does nothing.
    """
    registry = load_registry()
    spec = registry.get(model)
    if spec is not None and spec.is_local_build:
        if spec.layout == "original":
            from workbench.engine.tiny_original import ensure_tiny_original

            ensure_tiny_original()
            return resolve_model(model, registry, convert=True).folder
        from workbench.engine.tiny import ensure_tiny

        return ensure_tiny()
    if spec is None and model.count("/") != 1:
        raise InputError(
            "model", model, f"give a registry name ({', '.join(registry)}) or an org/name hub id"
        )
    from huggingface_hub import snapshot_download

    if spec is None:
        snapshot_download(model)
        return resolve_model(model, registry, convert=True).folder
    snapshot_download(spec.hub_id, revision=spec.revision, allow_patterns=_pull_patterns(spec))
    if spec.components_from:
        other = registry[spec.components_from]
        snapshot_download(other.hub_id, revision=other.revision, allow_patterns=_COMPONENT_PATTERNS)
    return resolve_model(model, registry, convert=True).folder


# The main repo also holds the 5 Hz planner LMs (several GB); the DiT needs only these folders.
_COMPONENT_PATTERNS = ["vae/*", "Qwen3-Embedding-0.6B/*"]


def _pull_patterns(spec: ModelSpec) -> list[str] | None:
    """What of a repo a registry entry needs: its DiT folder plus the VAE and text encoder; None = everything."""
    if spec.layout != "original" or not spec.subfolder:
        return None
    return [f"{spec.subfolder}/*", *_COMPONENT_PATTERNS]
