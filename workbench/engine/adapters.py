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


# alpha/r multiplies every LoRA delta. Trained adapters sit near 1-2 (the official ACE-Step recipe uses 2);
# 1e30 is finite yet turns every output sample into NaN, so a ratio this far out is refused at load.
MAX_ALPHA_RATIO = 1000.0


def _read_alpha(weights: Path, header: dict[str, str]) -> float | None:
    meta = header.get("lora_adapter_metadata")
    if meta:
        parsed = _parse_json(meta, f"{weights} (its lora_adapter_metadata header)")
        if isinstance(parsed, dict):
            # diffusers writes {"transformer.lora_alpha": …}; older files nest {"transformer": {"lora_alpha": …}}.
            nested = parsed.get("transformer")
            for source in (nested if isinstance(nested, dict) else {}, parsed):
                for key in ("transformer.lora_alpha", "lora_alpha"):
                    if key in source:
                        return _alpha_value(source[key], f"{weights.name} metadata {key}")
    config = weights.parent / "adapter_config.json"
    if config.is_file():
        try:
            text = config.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AdapterError(
                f"LoRA adapter config {config} cannot be read ({exc}); re-save it as UTF-8 JSON"
            ) from None
        data = _parse_json(text, str(config))
        if isinstance(data, dict) and "lora_alpha" in data:
            return _alpha_value(data["lora_alpha"], f"{config} lora_alpha")
    return None


def _parse_json(text: str, where: str) -> Any:
    from workbench.core.config import parse_json
    from workbench.core.errors import ConfigError

    try:
        return parse_json(text, "adapter config", where)
    except ConfigError as exc:
        raise AdapterError(f"LoRA {where}: {exc.fix}; fix or re-export the adapter") from None


def _alpha_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AdapterError(f"LoRA {where}={value!r:.40}: must be a number (e.g. twice the rank)")
    return float(value)


def check_adapter(
    state: dict[str, Any], rank: int, alpha: float, source: str, *, allow_negative_alpha: bool = False
) -> None:
    """Refuse an adapter that would silently produce garbage: r <= 0, alpha non-finite, far out of range or
    negative (a negative alpha inverts the adapter; a negative scale does that on purpose), non-finite tensors."""
    import math

    import torch

    if rank <= 0:
        raise AdapterError(
            f"LoRA '{source}': rank r={rank}; the adapter's lora_A tensors must have rank >= 1"
        )
    if not math.isfinite(alpha):
        raise AdapterError(
            f"LoRA '{source}': lora_alpha={alpha} is not a finite number; set it (usually 2 x r)"
        )
    if alpha < 0 and not allow_negative_alpha:
        raise AdapterError(
            f"LoRA '{source}': lora_alpha={alpha:g} is negative, which silently inverts the adapter; set a "
            "positive alpha, and give a negative LoRA scale if inverting it is what you want"
        )
    if abs(alpha / rank) > MAX_ALPHA_RATIO:
        raise AdapterError(
            f"LoRA '{source}': lora_alpha={alpha:g} with r={rank} scales every update by {alpha / rank:g}; "
            f"the limit is {MAX_ALPHA_RATIO:g} (trained adapters use about 1-2); fix lora_alpha"
        )
    for key, tensor in state.items():
        if not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise AdapterError(
                f"LoRA '{source}': tensor '{key}' holds {bad} NaN or infinite value(s); the adapter is "
                "corrupt (re-export it, or resume training from an earlier checkpoint)"
            )


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


def load_adapter(
    pipe: Any, source: str, adapter_name: str, *, allow_negative_alpha: bool = False
) -> AdapterInfo:
    """Load ``source`` into ``pipe`` after every check above; ``allow_negative_alpha`` is for library callers
    that load an inverted adapter deliberately (the app and CLI never set it: they offer a negative scale)."""
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
    rank = ranks.most_common(1)[0][0] if ranks else 0
    alpha = _read_alpha(weights, header)
    check_adapter(
        state,
        rank,
        alpha if alpha is not None else float(rank),
        source,
        allow_negative_alpha=allow_negative_alpha,
    )
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
