"""What a finished run leaves behind: ``final/`` (last step) and ``best/`` (chosen checkpoint) adapters, each
with a model card, and ``summary.json``; the adapter is also logged as a tracking artifact."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora import checkpoints as ck
from lora.config import TrainConfig
from lora.evaluate import select_best
from lora.model import ADAPTER_FILE, save_adapter


@dataclass
class RunOutputs:
    final_dir: Path
    best_dir: Path | None
    best_step: int | None
    checkpoints: list[dict[str, Any]]


def checkpoint_rows(run_dir: Path) -> list[dict[str, Any]]:
    return [{"step": c.step, **c.metrics, "path": str(c.path)} for c in ck.list_checkpoints(run_dir)]


def write_run_outputs(
    run_dir: Path,
    transformer: Any,
    cfg: TrainConfig,
    *,
    model: dict[str, Any],
    dataset: dict[str, Any],
    variant: str,
    step: int,
    total_steps: int,
    preview_prompts: list[str],
    tracker: Any,
) -> RunOutputs:
    rows = checkpoint_rows(run_dir)
    best, reason = select_best(rows, cfg.select_metric)
    card: dict[str, Any] = dict(config=cfg.to_dict(), dataset=dataset, model=model, checkpoints=rows)
    final_dir = run_dir / "final"
    shutil.rmtree(final_dir, ignore_errors=True)
    save_adapter(transformer, final_dir)
    ck.write_model_card(
        final_dir, title=f"{cfg.name} (final, step {step})", chosen_step=step, reason="last step", **card
    )
    best_folder = run_dir / "best"
    shutil.rmtree(best_folder, ignore_errors=True)
    best_dir: Path | None = None
    if best is not None:
        best_folder.mkdir(parents=True)
        shutil.copy2(Path(best["path"]) / ADAPTER_FILE, best_folder)
        ck.write_model_card(
            best_folder,
            title=f"{cfg.name} (best, step {best['step']})",
            chosen_step=best["step"],
            reason=reason,
            **card,
        )
        best_dir = best_folder
    ck.prune_checkpoints(run_dir, cfg.keep_checkpoints, {best["step"]} if best else set())
    summary = {
        "best": {"step": best["step"], "val_loss": best.get("val_loss"), "reason": reason} if best else None,
        "final": {"step": step, "val_loss": rows[-1].get("val_loss") if rows else None},
        "variant": variant,
        "total_steps": total_steps,
        "checkpoints": rows,
        "preview_prompts": preview_prompts,
    }
    (run_dir / ck.SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    if tracker is not None:
        tracker.summary(
            {
                "best_step": best["step"] if best else None,
                "best_val_loss": best.get("val_loss") if best else None,
                "steps": step,
            }
        )
        tracker.log_artifact(f"{cfg.name}-lora", "lora", best_dir or final_dir)
    return RunOutputs(final_dir, best_dir, best["step"] if best else None, rows)
