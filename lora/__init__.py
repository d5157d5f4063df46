"""Per-genre LoRA training for ACE-Step 1.5: dataset building, cached preprocessing, a PEFT/accelerate trainer,
checkpoint evaluation. The public API (what the CLI and the LoRA tab call):

- `scan(source)` -> (editable rows, issues); `build_dataset(source_or_rows, out_dir, DatasetOptions(...), progress)`
  -> `DatasetReport` (`.to_text()`, `.issues`, `.records`); `load_records(dir)`
- `preprocess(records, pipe, model_revision, cache_dir, progress=, stop=)` -> `PreprocessResult`
- `load_config(path, overrides)` -> `TrainConfig`; `train(config, progress=, stop=, resume=)` -> `TrainResult`
- `list_adapters(root)`, `list_checkpoints(run_dir)`, `loss_curve(run_dir)`, `checkpoint_previews(run_dir)`
- `scale_sweep(run_dir, checkpoint, scales)`

Heavy imports (torch, diffusers, datasets) happen inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "DatasetOptions": "lora.dataset",
    "DatasetReport": "lora.dataset",
    "Record": "lora.dataset",
    "build_dataset": "lora.dataset",
    "scan": "lora.dataset",
    "load_records": "lora.dataset",
    "dataset_summary": "lora.dataset",
    "Issue": "lora.dataset_sources",
    "preprocess": "lora.preprocess",
    "PreprocessResult": "lora.preprocess",
    "TrainConfig": "lora.config",
    "load_config": "lora.config",
    "parse_override": "lora.config",
    "train": "lora.trainer",
    "Trainer": "lora.trainer",
    "TrainProgress": "lora.trainer",
    "TrainResult": "lora.trainer",
    "list_adapters": "lora.checkpoints",
    "list_checkpoints": "lora.checkpoints",
    "AdapterInfo": "lora.checkpoints",
    "scale_sweep": "lora.sweep",
    "checkpoint_table": "lora.sweep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lora' has no attribute {name!r}")
