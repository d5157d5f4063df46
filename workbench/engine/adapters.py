"""Loading LoRA adapters into an AceStepPipeline, in diffusers format or the original ACE-Step PEFT format.

Why not just ``pipe.load_lora_weights``: two verified diffusers pitfalls (see the LoRA notes in docs/):
1. Some layouts (``transformer.save_lora_adapter`` output, or PEFT ``save_pretrained`` of the diffusers
   transformer) load *nothing* and only log a warning, so the output silently equals the base model.
2. Original-format adapters (``adapter_config.json`` + ``base_model.model.…q_proj…`` keys) load at alpha = r,
   i.e. half strength for the official alpha/r = 2, because diffusers ignores ``adapter_config.json``.
So every layout is normalised here to diffusers keys (``transformer.<module>.lora_{A,B}.weight``), every module
is checked against the transformer (names and shapes) before loading, the number of wrapped modules is verified
after loading, and the adapter's alpha/r is applied per call through ``attention_kwargs={"scale": …}``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.digest import file_sha256
from workbench.core.errors import AdapterError

_ORIGINAL_ATTN = {"q_proj": "to_q", "k_proj": "to_k", "v_proj": "to_v", "o_proj": "to_out.0"}
_LORA_KEY = re.compile(r"^(?P<module>.+)\.(?P<kind>lora_A|lora_B)(?:\.[A-Za-z0-9_-]+)?\.weight$")
WEIGHT_NAMES = ("pytorch_lora_weights.safetensors", "adapter_model.safetensors")


@dataclass(frozen=True)
class AdapterInfo:
    name: str  # adapter name inside the pipeline
    source: str  # path or hub id as given
    file: str  # the safetensors file read
    sha256: str
    layout: str  # "diffusers", "original-peft", "peft-diffusers-names" or "unprefixed"
    rank: int
    alpha: float
    modules: int

    @property
    def correction(self) -> float:
        """Factor to multiply the user's scale by, because the adapter is injected with alpha = r."""
        return self.alpha / self.rank

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def find_weights(source: str) -> Path:
    """A folder, a .safetensors file, or a hub id already in the local HF cache."""
    p = Path(source).expanduser()
    if p.is_file():
        if p.suffix != ".safetensors":
            raise AdapterError(f"LoRA '{source}': expected a .safetensors file or a folder, got '{p.suffix}'")
        return p
    if not p.exists() and source.count("/") == 1 and not source.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download

        try:
            p = Path(snapshot_download(source, local_files_only=True))
        except Exception as exc:  # any hub/cache failure means the same thing to the user
            raise AdapterError(
                f"LoRA '{source}' is not a local path and not in the Hugging Face cache; "
                f"download it with: hf download {source}"
            ) from exc
    if not p.is_dir():
        raise AdapterError(f"LoRA '{source}': no such file or folder")
    for candidate in (p, p / "adapter", p / "final" / "adapter"):
        for name in WEIGHT_NAMES:
            if (candidate / name).is_file():
                return candidate / name
    found = sorted(x.name for x in p.glob("*.safetensors"))
    if len(found) == 1:
        return p / found[0]
    raise AdapterError(
        f"LoRA '{source}': no adapter weights found (looked for {', '.join(WEIGHT_NAMES)}"
        + (f"; several .safetensors present: {found}" if found else "")
        + ")"
    )


def _read_alpha(weights: Path, header: dict[str, str]) -> float | None:
    meta = header.get("lora_adapter_metadata")
    if meta:
        parsed = json.loads(meta)
        if isinstance(parsed, dict):
            # diffusers writes {"transformer.lora_alpha": …}; older files nest {"transformer": {"lora_alpha": …}}.
            nested = parsed.get("transformer")
            for source in (nested if isinstance(nested, dict) else {}, parsed):
                for key in ("transformer.lora_alpha", "lora_alpha"):
                    if key in source:
                        return float(source[key])
    config = weights.parent / "adapter_config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        if "lora_alpha" in data:
            return float(data["lora_alpha"])
    return None


def normalise_state_dict(raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Map any supported key layout to ``transformer.<module>.lora_{A,B}.weight``. Returns (dict, layout)."""
    if not raw:
        raise AdapterError("the adapter file holds no tensors")
    keys = list(raw)
    if any(k.startswith("base_model.model.") for k in keys):
        layout = (
            "original-peft"
            if any(f".{o}" in k for k in keys for o in _ORIGINAL_ATTN)
            else "peft-diffusers-names"
        )
    elif all(k.startswith("transformer.") for k in keys):
        layout = "diffusers"
    else:
        layout = "unprefixed"
    out = {}
    for key, tensor in raw.items():
        m = _LORA_KEY.match(key)
        if m is None:
            if "dora_scale" in key or "magnitude" in key:
                raise AdapterError(f"DoRA adapters are not supported (found '{key}')")
            raise AdapterError(
                f"'{key}' is not a LoRA weight (expected '...lora_A.weight' / '...lora_B.weight')"
            )
        module = m.group("module").removeprefix("base_model.model.").removeprefix("transformer.")
        parts = module.split(".")
        if parts[-1] in _ORIGINAL_ATTN:
            parts[-1] = _ORIGINAL_ATTN[parts[-1]]
        out[f"transformer.{'.'.join(parts)}.{m.group('kind')}.weight"] = tensor
    return out, layout


def _check_against(transformer: Any, state: dict[str, Any], source: str) -> int:
    modules = dict(transformer.named_modules())
    names = sorted({k.removeprefix("transformer.").rsplit(".", 2)[0] for k in state})
    missing = [n for n in names if n not in modules]
    if len(missing) == len(names):
        example = next((n for n, m in modules.items() if n.endswith("attn.to_q")), "layers.0.self_attn.to_q")
        raise AdapterError(
            f"LoRA '{source}' would load nothing: none of its {len(names)} modules (e.g. '{names[0]}') exist in this "
            f"model's transformer (e.g. '{example}'). It was trained for a different model or saved in an "
            f"unsupported layout"
        )
    if missing:
        raise AdapterError(
            f"LoRA '{source}': {len(missing)} modules do not exist in this model, e.g. '{missing[0]}'"
        )
    for n in names:
        weight = getattr(modules[n], "weight", None)
        a = state[f"transformer.{n}.lora_A.weight"]
        b = state[f"transformer.{n}.lora_B.weight"]
        if weight is None or a.shape[1] != weight.shape[1] or b.shape[0] != weight.shape[0]:
            raise AdapterError(
                f"LoRA '{source}': module '{n}' has shape {tuple(weight.shape) if weight is not None else '?'} "
                f"but the adapter expects in={a.shape[1]}, out={b.shape[0]}; it was trained for another model size"
            )
    return len(names)


def count_wrapped(transformer: Any, adapter_name: str) -> int:
    return sum(
        1
        for _, m in transformer.named_modules()
        if hasattr(m, "lora_A") and hasattr(m.lora_A, "keys") and adapter_name in m.lora_A
    )


def load_adapter(pipe: Any, source: str, adapter_name: str) -> AdapterInfo:
    from safetensors import safe_open
    from safetensors.torch import load_file

    weights = find_weights(source)
    try:
        with safe_open(str(weights), framework="pt") as fh:
            header = dict(fh.metadata() or {})
        raw = load_file(str(weights))
    except Exception as exc:  # safetensors raises several types for truncated/corrupt files
        raise AdapterError(
            f"LoRA '{source}': cannot read {weights.name} ({exc}); the file is corrupt or truncated"
        ) from None
    state, layout = normalise_state_dict(raw)
    modules = _check_against(pipe.transformer, state, source)
    ranks = Counter(int(t.shape[0]) for k, t in state.items() if k.endswith("lora_A.weight"))
    rank = ranks.most_common(1)[0][0]
    alpha = _read_alpha(weights, header)
    try:
        pipe.load_lora_weights(state, adapter_name=adapter_name)
    except Exception as exc:
        raise AdapterError(f"LoRA '{source}' failed to load: {type(exc).__name__}: {exc}") from exc
    wrapped = count_wrapped(pipe.transformer, adapter_name)
    if wrapped != modules:
        pipe.delete_adapters(adapter_name)
        raise AdapterError(f"LoRA '{source}': {modules} modules in the file but {wrapped} were loaded")
    return AdapterInfo(
        name=adapter_name,
        source=source,
        file=str(weights),
        sha256=file_sha256(weights),
        layout=layout,
        rank=rank,
        alpha=alpha if alpha is not None else float(rank),
        modules=modules,
    )
