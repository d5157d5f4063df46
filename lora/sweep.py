"""On-demand evaluation of a finished run: the per-checkpoint table and a LoRA-scale sweep of one adapter.

The sweep loads the saved adapter through ``AceStepPipeline.load_lora_weights`` (the path users take), so it
also checks that the file applies, and renders fixed prompts × seeds × scales.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora import checkpoints as ck
from lora.config import load_config
from lora.evaluate import Preview, render_previews
from lora.model import ADAPTER_FILE, load_training_pipeline
from workbench.errors import InputError


@dataclass
class SweepResult:
    adapter_dir: Path
    previews: list[Preview]
    checkpoints: list[dict[str, Any]]


def resolve_adapter(run_dir: Path, which: str) -> Path:
    """``best``, ``final``, ``step-000200`` or ``200``, or a folder holding an adapter."""
    candidates = [run_dir / which, run_dir / ck.CHECKPOINTS / which]
    if which.isdigit():
        candidates.append(run_dir / ck.CHECKPOINTS / ck.checkpoint_name(int(which)))
    candidates.append(Path(which).expanduser())
    for folder in candidates:
        if (folder / ADAPTER_FILE).exists():
            return folder
    available = ["best", "final"] + [c.path.name for c in ck.list_checkpoints(run_dir)]
    raise InputError("checkpoint", which, f"no adapter there; choose one of {', '.join(available)}")


def checkpoint_table(run_dir: Path) -> list[dict[str, Any]]:
    return [
        {"step": c.step, **{k: v for k, v in c.metrics.items() if not k.startswith("preview")}}
        for c in ck.list_checkpoints(run_dir)
    ]


def scale_sweep(
    run_dir: str | Path,
    checkpoint: str = "best",
    scales: list[float] | None = None,
    prompts: list[str] | None = None,
    seeds: list[int] | None = None,
    duration_s: float | None = None,
    device: str | None = None,
) -> SweepResult:
    run = Path(run_dir).expanduser()
    if not (run / "config.yaml").exists():
        raise InputError(
            "run", str(run_dir), "not a LoRA run folder (no config.yaml); see `workbench lora list`"
        )
    cfg = load_config(run / "config.yaml")
    adapter = resolve_adapter(run, checkpoint)
    from workbench.models import pick_device, pick_dtype

    dev = pick_device(device)
    pipe, info = load_training_pipeline(cfg.model, device=dev, dtype=pick_dtype(dev))
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(str(adapter))
    if not any("lora_" in n for n, _ in pipe.transformer.named_parameters()):
        raise InputError(
            "checkpoint", str(adapter), "the adapter file loaded no LoRA weights into the transformer"
        )
    use_prompts = prompts or cfg.preview_prompts
    if not use_prompts:
        summary = json.loads((run / ck.SUMMARY_FILE).read_text()) if (run / ck.SUMMARY_FILE).exists() else {}
        use_prompts = summary.get("preview_prompts") or ["instrumental"]
    out = run / "sweeps" / adapter.name
    previews = render_previews(
        pipe,
        out,
        use_prompts,
        seeds or cfg.preview_seeds,
        scales or [0.0, 0.5, 1.0, 1.5],
        duration_s=duration_s or cfg.preview_duration_s,
        steps=cfg.preview_steps or info.steps,
        guidance_scale=info.guidance_scale,
        shift=info.shift,
    )
    return SweepResult(adapter, previews, checkpoint_table(run))
