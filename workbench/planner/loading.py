"""Loading a 5 Hz LM with transformers' Auto classes from its original folder (no remote code), on the device and
in the dtype the engine would pick, and unloading it to give the memory back (e.g. before LoRA training)."""

from __future__ import annotations

import gc
from dataclasses import asdict, dataclass
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.engine.models import pick_device, pick_dtype, torch_dtype
from workbench.planner.constraints import Vocabulary
from workbench.planner.registry import load_lm_registry, resolve_lm
from workbench.planner.tiny_lm import CODEBOOK_SIZE


@dataclass(frozen=True)
class LmInfo:
    """What was loaded, recorded with every plan."""

    name: str
    folder: str
    revision: str
    device: str
    dtype: str
    max_model_len: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadedLm:
    model: Any
    tokenizer: Any
    vocab: Vocabulary
    info: LmInfo

    def unload(self) -> None:
        """Drop the weights and empty the accelerator's cache; the object cannot plan afterwards."""
        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def load_lm(name: str, *, device: str | None = None, dtype: str | None = None) -> LoadedLm:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    spec = load_lm_registry().get(name)
    if spec is not None and spec.is_local_build:
        from workbench.planner.tiny_lm import ensure_tiny_lm

        ensure_tiny_lm()  # a local build of a few seconds, never a download
    resolved = resolve_lm(name)
    device_name = pick_device(device)
    dtype_name = pick_dtype(device_name, dtype)
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            resolved.folder, dtype=torch_dtype(dtype_name), local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"the LM folder {resolved.folder} could not be loaded: {exc}") from exc
    model.to(device_name)  # type: ignore[arg-type]  # transformers' stub types the device loosely
    model.eval()
    if tokenizer.chat_template is None:
        raise WorkbenchError(f"the LM at {resolved.folder} has no chat template; it is not a 5 Hz LM")
    max_len = spec.max_model_len if spec is not None else 4096
    vocab = Vocabulary(tokenizer, int(model.config.vocab_size), CODEBOOK_SIZE)
    info = LmInfo(name, str(resolved.folder), resolved.revision, device_name, dtype_name, max_len)
    return LoadedLm(model, tokenizer, vocab, info)
