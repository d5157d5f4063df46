"""Convert an original-layout ACE-Step 1.5 checkpoint into a diffusers ``AceStepPipeline`` folder.

The official release (``ACE-Step/Ace-Step1.5``) is ``acestep-v15-<variant>/{config.json, model.safetensors,
silence_latent.pt}``, ``vae/`` and ``Qwen3-Embedding-0.6B/``, with no ``model_index.json``, so diffusers cannot
load it. This writes the eight-component folder ``from_pretrained`` expects:

- the DiT checkpoint is split into ``transformer``, ``condition_encoder``, ``audio_tokenizer`` and
  ``audio_token_detokenizer`` with the renames in ``checkpoint_keys`` (values untouched, dtypes kept);
- ``silence_latent.pt`` becomes the condition encoder's ``silence_latent`` buffer, transposed to [1, T, C];
- ``vae/`` is copied, ``Qwen3-Embedding-0.6B/`` is split into ``text_encoder/`` and ``tokenizer/``;
- the config is translated field by field, carrying ``is_turbo`` and ``model_version``.

Tensors are streamed one at a time from the source into the output files (a 4.7 GB DiT never sits in memory
twice), everything is written into a hidden temporary folder that is renamed into place only when complete, an
existing output is never overwritten, and ``workbench_conversion.json`` records where it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.digest import file_sha256
from workbench.core.errors import InputError
from workbench.engine import checkpoint_keys as keys

CONVERTER_VERSION = "1"  # bump when the output of the same source would change
PROVENANCE = "workbench_conversion.json"
DIT_PREFIX = "acestep-v15-"
VAE_DIR = "vae"
TEXT_ENCODER_DIR = "Qwen3-Embedding-0.6B"
SILENCE_FILE = "silence_latent.pt"
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
)
_TEXT_ENCODER_FILES = ("config.json", "generation_config.json", "model.safetensors.index.json")
_WEIGHTS = "diffusion_pytorch_model.safetensors"
_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
_TORCH_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
_COMPONENT_CLASSES = {
    keys.TRANSFORMER: ["diffusers", "AceStepTransformer1DModel"],
    keys.CONDITION_ENCODER: ["ace_step", "AceStepConditionEncoder"],
    keys.AUDIO_TOKENIZER: ["ace_step", "AceStepAudioTokenizer"],
    keys.AUDIO_TOKEN_DETOKENIZER: ["ace_step", "AceStepAudioTokenDetokenizer"],
}


def read_json(path: Path, what: str) -> Any:
    """A small JSON file of a checkpoint (configs, indexes); a broken one names the file instead of a traceback."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            str(path), what, f"cannot be read as JSON ({exc}); re-download the checkpoint"
        ) from None


def dit_folder_name(variant: str) -> str:
    """'turbo' -> 'acestep-v15-turbo'; a full folder name is kept."""
    return variant if variant.startswith(DIT_PREFIX) else DIT_PREFIX + variant


@dataclass(frozen=True)
class OriginalCheckpoint:
    """The parts of an original-layout checkpoint one conversion reads."""

    dit: Path
    vae: Path
    text_encoder: Path
    weight_files: tuple[Path, ...]

    @property
    def config(self) -> Path:
        return self.dit / "config.json"

    @property
    def silence(self) -> Path:
        return self.dit / SILENCE_FILE


def _missing(path: Path, what: str, fix: str) -> InputError:
    return InputError(what, str(path), fix)


def _weight_files(dit: Path) -> tuple[Path, ...]:
    single = dit / "model.safetensors"
    if single.is_file():
        return (single,)
    index = dit / "model.safetensors.index.json"
    if index.is_file():
        shard_map = (read_json(index, "DiT shard index") or {}).get("weight_map", {})
        shards = tuple(dit / name for name in sorted(set(shard_map.values())))
        absent = [s.name for s in shards if not s.is_file()]
        if not shards or absent:
            raise _missing(
                dit, "checkpoint", f"DiT shards {absent or 'listed'} are missing: the download is partial"
            )
        return shards
    pickles = [
        p for p in dit.iterdir() if p.suffix in (".bin", ".pth", ".ckpt", ".pt") and p.name != SILENCE_FILE
    ]
    if pickles:
        raise _missing(
            dit,
            "checkpoint",
            "only pickle weights (.bin/.pt) found; the workbench loads safetensors only. Download the "
            "safetensors release (huggingface.co/ACE-Step/Ace-Step1.5)",
        )
    raise _missing(
        dit / "model.safetensors", "checkpoint", "the DiT weights are missing: the download is partial"
    )


def locate(src: Path, variant: str, components: Path | None = None) -> OriginalCheckpoint:
    """Find the DiT folder, VAE and text encoder of an original-layout checkpoint; say exactly what is missing.

    ``src`` is the checkpoint root holding ``acestep-v15-<variant>/`` (the main repo, or ACE-Step's
    ``checkpoints/`` folder), or the DiT folder itself (the base/sft repos). ``components`` is where ``vae/``
    and ``Qwen3-Embedding-0.6B/`` are when they are not next to the DiT (they ship only in the main repo).
    """
    src = Path(src).expanduser()
    if not src.is_dir():
        raise _missing(src, "checkpoint", "no such folder; give the downloaded checkpoint folder")
    name = dit_folder_name(variant) if variant else ""
    dit = src / name if name and (src / name).is_dir() else src
    if not (dit / "config.json").is_file():
        found = sorted(p.name for p in src.iterdir() if p.is_dir() and p.name.startswith(DIT_PREFIX))
        raise _missing(
            src / name / "config.json",
            "checkpoint",
            f"no DiT folder '{name}' here (found: {', '.join(found) or 'none'}); pass --variant with one of them",
        )
    weights = _weight_files(dit)
    if not (dit / SILENCE_FILE).is_file():
        raise _missing(
            dit / SILENCE_FILE,
            "checkpoint",
            "the DiT folder lacks silence_latent.pt: the download is partial",
        )
    roots = [r for r in (components, src, src.parent) if r is not None]
    vae = next((r / VAE_DIR for r in roots if (r / VAE_DIR / "config.json").is_file()), None)
    text = next(
        (r / TEXT_ENCODER_DIR for r in roots if (r / TEXT_ENCODER_DIR / "config.json").is_file()), None
    )
    if vae is None or text is None:
        absent = [n for n, p in ((VAE_DIR, vae), (TEXT_ENCODER_DIR, text)) if p is None]
        raise _missing(
            dit,
            "checkpoint",
            f"this DiT folder has no {' or '.join(absent)} next to it; they ship in the main repo: "
            "run `workbench models pull turbo` and pass its folder with --components",
        )
    if not (vae / _WEIGHTS).is_file():
        raise _missing(vae / _WEIGHTS, "checkpoint", "the VAE weights are missing: the download is partial")
    if not any(text.glob("*.safetensors")):
        raise _missing(
            text / "model.safetensors",
            "checkpoint",
            "the text encoder weights are missing: the download is partial",
        )
    if not (text / "tokenizer.json").is_file() and not (text / "vocab.json").is_file():
        raise _missing(
            text / "tokenizer.json", "checkpoint", "the tokenizer files are missing: the download is partial"
        )
    return OriginalCheckpoint(dit, vae, text, weights)


# --- streaming safetensors ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    name: str
    dtype: str  # safetensors dtype code
    shape: tuple[int, ...]
    load: Callable[[], Any]  # returns the tensor when it is its turn to be written

    @property
    def nbytes(self) -> int:
        count = 1
        for n in self.shape:
            count *= n
        return count * _DTYPE_BYTES[self.dtype]


def _tensor_bytes(tensor: Any) -> bytes:
    import torch

    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def write_safetensors(path: Path, entries: list[_Entry], hook: Callable[[int], None] | None = None) -> str:
    """Write a safetensors file tensor by tensor (the header first, from shapes only); returns its SHA-256.

    safetensors' own ``save_file`` needs every tensor in one dict, i.e. the whole component in memory. The
    format is a little-endian u64 header length, a JSON header of dtypes/shapes/offsets, then the raw bytes,
    so writing it incrementally keeps only one tensor in memory. ``hook(i)`` runs before tensor i (tests use
    it to interrupt a conversion mid-write).
    """
    entries = sorted(entries, key=lambda e: e.name)
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for e in entries:
        header[e.name] = {
            "dtype": e.dtype,
            "shape": list(e.shape),
            "data_offsets": [offset, offset + e.nbytes],
        }
        offset += e.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data must start 8-byte aligned
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        for chunk in (struct.pack("<Q", len(blob)), blob):
            fh.write(chunk)
            digest.update(chunk)
        for i, e in enumerate(entries):
            if hook is not None:
                hook(i)
            data = _tensor_bytes(e.load())
            if len(data) != e.nbytes:
                raise InputError(
                    e.name, len(data), f"tensor has {len(data)} bytes, its header says {e.nbytes}"
                )
            fh.write(data)
            digest.update(data)
    return digest.hexdigest()


# --- the conversion -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConversionReport:
    folder: Path
    variant: str
    is_turbo: bool
    model_version: str | None
    tensors: dict[str, int]  # component -> tensor count
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def _silence(path: Path) -> Any:
    import torch

    # silence_latent.pt is a torch file in the official release, the one file there that is not safetensors.
    # weights_only=True makes torch's unpickler refuse anything but tensors and plain containers, so a tampered
    # file cannot run code; it must hold exactly one [1, C, T] tensor.
    try:
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        raise InputError(
            str(path), type(exc).__name__, "silence_latent.pt is not a plain tensor file; re-download it"
        ) from exc
    if not isinstance(value, torch.Tensor) or value.dim() != 3 or value.shape[0] != 1:
        shown = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise InputError(str(path), shown, "silence_latent.pt must hold one [1, C, T] tensor; re-download it")
    return value


def _dtype_code(tensor: Any) -> str:
    return _TORCH_DTYPES[str(tensor.dtype).removeprefix("torch.")]


def _dit_entries(
    ckpt: OriginalCheckpoint, stack: ExitStack, silence: Any
) -> tuple[dict[str, list[_Entry]], list[str]]:
    from safetensors import safe_open

    split: dict[str, list[_Entry]] = {c: [] for c in keys.DIT_COMPONENTS}
    dropped: list[str] = []
    for path in ckpt.weight_files:
        handle = stack.enter_context(safe_open(str(path), framework="pt"))
        names = handle.keys()  # a safe_open handle is not iterable itself
        for original in names:
            target = keys.to_diffusers(original)
            if target is None:
                dropped.append(original)
                continue
            view = handle.get_slice(original)
            load = lambda h=handle, k=original: h.get_tensor(k)  # noqa: E731 - bound per key
            split[target[0]].append(_Entry(target[1], view.get_dtype(), tuple(view.get_shape()), load))
    buffer = keys.silence_to_diffusers(silence)
    split[keys.CONDITION_ENCODER].append(
        _Entry(keys.SILENCE_LATENT, _dtype_code(buffer), tuple(buffer.shape), lambda: buffer)
    )
    return split, dropped


def _check_geometry(
    configs: dict[str, dict[str, Any]], silence: Any, vae_config: dict[str, Any], where: Path
) -> None:
    """The DiT, its silence latent and the VAE must agree on the acoustic latent size, or nothing will run."""
    dim = int(configs[keys.TRANSFORMER]["audio_acoustic_hidden_dim"])
    vae_dim = vae_config.get("decoder_input_channels")
    if vae_dim is not None and int(vae_dim) != dim:
        raise InputError(
            str(where),
            {"dit_latent": dim, "vae_latent": vae_dim},
            "the DiT and the VAE come from different models (latent sizes differ); use the VAE of the same release",
        )
    if int(silence.shape[1]) != dim:
        raise InputError(
            str(where / SILENCE_FILE),
            tuple(silence.shape),
            f"silence_latent.pt has {silence.shape[1]} channels, the DiT expects {dim}; re-download the DiT folder",
        )


def _copy(src: Path, dst: Path) -> str:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)  # streams in blocks
    return file_sha256(dst)


def _tokenizer_class(folder: Path) -> str:
    import transformers

    cfg = (
        read_json(folder / "tokenizer_config.json", "tokenizer config")
        if (folder / "tokenizer_config.json").is_file()
        else {}
    )
    name = (cfg or {}).get("tokenizer_class")
    # model_index.json names a class diffusers imports from transformers; fall back to the fast backend class.
    return name if isinstance(name, str) and hasattr(transformers, name) else "TokenizersBackend"


def _text_encoder_class(folder: Path) -> str:
    model_type = (read_json(folder / "config.json", "text encoder config") or {}).get("model_type")
    if model_type != "qwen3":
        raise InputError(
            str(folder / "config.json"),
            model_type,
            "the ACE-Step text encoder is a Qwen3 model (model_type 'qwen3')",
        )
    # Qwen3-Embedding's weights have no 'model.' prefix: they load into the bare Qwen3Model, as the pipeline uses.
    return "Qwen3Model"


def _scheduler_config(folder: Path) -> None:
    from diffusers import FlowMatchEulerDiscreteScheduler

    # The pipeline computes its own shifted sigmas in t in [0, 1] and passes them in, so the scheduler must
    # neither rescale (num_train_timesteps=1) nor shift again (shift=1.0).
    scheduler: Any = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    scheduler.save_pretrained(str(folder))


def _source_revision(src: Path) -> str:
    # A huggingface_hub snapshot folder is named after the commit it holds.
    name = src.name
    if len(name) == 40 and all(ch in "0123456789abcdef" for ch in name):
        return name
    return "local"


def _write(
    ckpt: OriginalCheckpoint,
    tmp: Path,
    hook: Callable[[int], None] | None,
) -> tuple[dict[str, str], dict[str, Any], list[str], dict[str, int]]:
    import diffusers

    original = read_json(ckpt.config, "DiT config") or {}
    configs = keys.translate_config(original, str(ckpt.config))
    silence = _silence(ckpt.silence)
    _check_geometry(configs, silence, read_json(ckpt.vae / "config.json", "VAE config") or {}, ckpt.dit)
    hashes: dict[str, str] = {}
    counts: dict[str, int] = {}
    with ExitStack() as stack:
        split, dropped = _dit_entries(ckpt, stack, silence)
        for component in keys.DIT_COMPONENTS:
            folder = tmp / component
            folder.mkdir()
            cls = _COMPONENT_CLASSES[component][1]
            config = {"_class_name": cls, "_diffusers_version": diffusers.__version__, **configs[component]}
            (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
            if not split[component]:
                raise InputError(
                    str(ckpt.weight_files[0]), component, "the DiT checkpoint has no weights for this part"
                )
            hashes[f"{component}/{_WEIGHTS}"] = write_safetensors(folder / _WEIGHTS, split[component], hook)
            counts[component] = len(split[component])
    for f in sorted(ckpt.vae.iterdir()):
        if f.is_file() and (f.suffix == ".safetensors" or f.name == "config.json"):
            hashes[f"vae/{f.name}"] = _copy(f, tmp / "vae" / f.name)
    for f in sorted(ckpt.text_encoder.iterdir()):
        if not f.is_file():
            continue
        if f.name in _TOKENIZER_FILES:
            hashes[f"tokenizer/{f.name}"] = _copy(f, tmp / "tokenizer" / f.name)
        if f.name in _TEXT_ENCODER_FILES or f.suffix == ".safetensors":
            hashes[f"text_encoder/{f.name}"] = _copy(f, tmp / "text_encoder" / f.name)
    (tmp / "scheduler").mkdir()
    _scheduler_config(tmp / "scheduler")
    index = {
        "_class_name": "AceStepPipeline",
        "_diffusers_version": diffusers.__version__,
        **_COMPONENT_CLASSES,
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "text_encoder": ["transformers", _text_encoder_class(ckpt.text_encoder)],
        "tokenizer": ["transformers", _tokenizer_class(ckpt.text_encoder)],
        "vae": ["diffusers", "AutoencoderOobleck"],
    }
    (tmp / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True))
    return hashes, configs[keys.TRANSFORMER], dropped, counts


def _source_hashes(ckpt: OriginalCheckpoint) -> Iterator[tuple[str, str]]:
    for path in (ckpt.config, ckpt.silence, *ckpt.weight_files):
        yield f"{ckpt.dit.name}/{path.name}", file_sha256(path)


def convert_checkpoint(
    src: Path,
    variant: str,
    out: Path,
    *,
    components: Path | None = None,
    source_revision: str | None = None,
    hook: Callable[[int], None] | None = None,
) -> ConversionReport:
    """Convert ``src`` (original layout) into the diffusers pipeline folder ``out``, atomically."""
    out = Path(out).expanduser()
    if out.exists():
        raise InputError(
            "out",
            str(out),
            "this folder already exists; the converter never overwrites: pick another --out or delete it",
        )
    ckpt = locate(Path(src), variant, components)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        hashes, transformer, dropped, counts = _write(ckpt, tmp, hook)
        content = hashlib.sha256(
            "".join(f"{k}={v}\n" for k, v in sorted(hashes.items())).encode()
        ).hexdigest()
        provenance = {
            "converter": "workbench.engine.convert",
            "converter_version": CONVERTER_VERSION,
            "source": str(Path(src).expanduser().resolve()),
            "source_revision": source_revision or _source_revision(Path(src)),
            "source_files_sha256": dict(_source_hashes(ckpt)),
            "dit_folder": ckpt.dit.name,
            "variant": variant,
            "is_turbo": transformer["is_turbo"],
            "model_version": transformer["model_version"],
            "dropped_keys": dropped,
            "output_files_sha256": hashes,
            "content_sha256": content,
        }
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2))
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ConversionReport(
        folder=out,
        variant=variant,
        is_turbo=bool(transformer["is_turbo"]),
        model_version=transformer["model_version"],
        tensors=counts,
        dropped=tuple(dropped),
    )


def read_provenance(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / PROVENANCE
    if not path.is_file():
        return None
    value = read_json(path, "conversion record")
    return value if isinstance(value, dict) else None
