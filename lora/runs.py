"""Reading a LoRA run back from its folder for the LoRA tab: runs, loss curve, checkpoints, previews, adapters,
and handing an adapter to Generate. Everything comes from the ``lora`` package's own readers.

Runs live in ``<runs_dir>/lora/<name>``, the layout ``workbench lora train`` writes, so a run started in the tab
can be resumed from the CLI and the other way round.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core import paths
from workbench.core.errors import InputError
from workbench.engine.requests import DEFAULT_DURATION_S

if TYPE_CHECKING:
    from lora.config import TrainConfig

PREVIEW_PAIRS = 3  # (base, LoRA) preview players per checkpoint shown in the tab
TRAIN_LOSS = "train loss"
VAL_LOSS = "validation loss"


def runs_root(runs_dir: Path) -> Path:
    return paths.lora_runs_dir(runs_dir)


def list_runs(runs_dir: Path) -> list[str]:
    root = runs_root(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.yaml").is_file())


def run_config(folder: Path) -> TrainConfig:
    """The typed config a run was trained with (its ``config.yaml``), checked like any other config."""
    from lora.config import load_config

    return load_config(folder / "config.yaml")


def run_dir(runs_dir: Path, name: str | None) -> Path:
    from lora.library import check_name

    return runs_root(runs_dir) / check_name(name, "run")


def loss_rows(folder: Path) -> list[dict[str, Any]]:
    """(step, loss, series) rows: lora's training-loss curve (one point per step, also across a resume) and the
    validation loss of each checkpoint."""
    from lora import checkpoints as ck

    rows = [{"step": step, "loss": loss, "series": TRAIN_LOSS} for step, loss in ck.loss_curve(folder)]
    for c in ck.list_checkpoints(folder):
        value = c.metrics.get("val_loss")
        if isinstance(value, (int, float)):
            rows.append({"step": c.step, "loss": float(value), "series": VAL_LOSS})
    return rows


def loss_figure(rows: list[dict[str, Any]], title: str) -> Any:
    """Train loss as a line, validation loss as marked points (a run may have a single checkpoint). A matplotlib
    Figure through the object API (no pyplot global state in a threaded server)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 2.8))
    ax = fig.add_subplot(1, 1, 1)
    for series, style in ((TRAIN_LOSS, {"lw": 1.2}), (VAL_LOSS, {"marker": "o", "lw": 1.0})):
        points = [(r["step"], r["loss"]) for r in rows if r["series"] == series]
        if points:
            steps, losses = zip(*points, strict=True)
            ax.plot(steps, losses, label=series, **style)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title if rows else f"{title}: no steps yet", fontsize=10)
    ax.grid(alpha=0.3)
    if rows:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def checkpoint_rows(folder: Path) -> list[dict[str, Any]]:
    """One row per checkpoint with its numbers (previews left out), rounded for the table."""
    from lora.sweep import checkpoint_table

    rows = []
    for row in checkpoint_table(folder):
        rows.append({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()})
    return rows


def checkpoint_names(folder: Path) -> list[str]:
    from lora import checkpoints as ck

    return [c.path.name for c in ck.list_checkpoints(folder)]


def previews(folder: Path, checkpoint: str | None) -> list[Any]:
    """lora's base-vs-LoRA preview pairs of one checkpoint (``step-000200``)."""
    from lora import checkpoints as ck

    steps = {c.path.name: c.step for c in ck.list_checkpoints(folder)}
    if not checkpoint or checkpoint not in steps:
        return []
    return [p for p in ck.checkpoint_previews(folder) if p.step == steps[checkpoint]]


def run_overview(folder: Path) -> str:
    """A one-paragraph summary of a run on disk: its config, progress and verdict."""
    from lora import checkpoints as ck

    if not (folder / "config.yaml").is_file():
        return "Pick a run."
    cfg = run_config(folder)
    found = ck.list_checkpoints(folder)
    text = (
        f"**{folder.name}**: model `{cfg.model}`, rank {cfg.rank}, alpha {cfg.alpha}, "
        f"lr {cfg.learning_rate}, targets {', '.join(cfg.target_modules)}. "
    )
    summary_path = folder / ck.SUMMARY_FILE
    summary, note = ck.read_json_record(summary_path)
    if note:
        text += f"Note: {note}. "
    if summary:
        best = summary.get("best") or {}
        text += f"Finished at step {summary.get('final', {}).get('step')}; best: step {best.get('step')} ({best.get('reason', '')})."
    elif found:
        text += f"{len(found)} checkpoint(s), the latest at step {found[-1].step}; Resume continues it."
    else:
        text += "No checkpoint yet."
    return text


def adapter_rows(runs_dir: Path) -> list[dict[str, Any]]:
    from lora.checkpoints import list_adapters

    return [
        {
            "run": a.run,
            "kind": a.kind,
            "step": a.step,
            "val_loss": round(a.val_loss, 5) if isinstance(a.val_loss, (int, float)) else None,
            "path": str(a.path),
        }
        for a in list_adapters(runs_root(runs_dir))
    ]


def install_adapter(adapter_dir: str | Path, runs_dir: Path, loras_dir: Path) -> str:
    """Copy a trained adapter into the app's LoRA folder as ``<run>-<kind>`` (what Generate's LoRA picker
    lists). Returns that name. Only adapters of this app's LoRA runs can be installed."""
    from lora.model import ADAPTER_FILE

    src = Path(adapter_dir)
    root = runs_root(runs_dir).resolve()
    if root not in src.resolve().parents or not (src / ADAPTER_FILE).is_file():
        raise InputError("adapter", str(adapter_dir), "pick an adapter from the list")
    rel = src.resolve().relative_to(root).parts  # (run, "best") or (run, "checkpoints", "step-000200")
    name = f"{rel[0]}-{rel[-1]}"
    dest = loras_dir / name
    loras_dir.mkdir(parents=True, exist_ok=True)
    tmp = loras_dir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for item in (ADAPTER_FILE, "README.md"):
        if (src / item).is_file():
            shutil.copy2(src / item, tmp / item)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)  # whole, or not at all: the picker never lists a half-copied adapter
    return name


def adapter_request(adapter_dir: str | Path, runs_dir: Path) -> dict[str, Any]:
    """The request "Use in Generate" sends: the adapter at scale 1 and a prompt it was trained on (trigger tag
    included)."""
    src = Path(adapter_dir)
    root = runs_root(runs_dir).resolve()
    if root not in src.resolve().parents:
        raise InputError("adapter", str(adapter_dir), "pick an adapter from the list")
    run = root / src.resolve().relative_to(root).parts[0]
    from lora import checkpoints as ck

    summary, _ = ck.read_json_record(run / ck.SUMMARY_FILE)
    prompts = summary.get("preview_prompts") or []
    prompt = str(prompts[0]) if isinstance(prompts, list) and prompts else ""
    duration_s = run_config(run).preview_duration_s if (run / "config.yaml").is_file() else DEFAULT_DURATION_S
    request = {
        "prompt": prompt,
        "instrumental": True,
        "duration_s": duration_s,
        "lora": {"path": str(src), "scale": 1.0},
    }
    return request
