"""Checkpoints (adapter + full training state), model cards, and listing runs and adapters.

A checkpoint folder ``checkpoints/step-000200/`` holds a loadable adapter, ``training_state.pt`` (optimizer,
scheduler, data position, every RNG state) and ``metrics.json``. It is written under a temporary name and renamed,
so a run killed mid-save leaves the previous checkpoint as the latest complete one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lora.model import ADAPTER_FILE
from workbench.core import paths
from workbench.core.errors import InputError

STATE_FILE = "training_state.pt"
METRICS_FILE = "metrics.json"
CHECKPOINTS = "checkpoints"
SUMMARY_FILE = "summary.json"


def lora_root() -> Path:
    return paths.lora_runs_dir()


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def rng_state() -> dict[str, Any]:
    """Every RNG state as tensors and plain Python values only, so the checkpoint loads with
    ``torch.load(weights_only=True)`` (no pickled objects that could run code when a checkpoint is opened)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                  float(cached)],
        "python": random.getstate(),
    }  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_state(path: Path, field: str = "checkpoint", fix: str = "") -> dict[str, Any]:
    """A checkpoint's training or RNG state (or any ``.pt`` this project wrote), through torch's weights-only
    loader: tensors and plain values only, so a planted pickle is refused instead of run."""
    import pickle

    fix = fix or "resume from a checkpoint this version wrote, or start the run again"
    if not path.is_file():
        raise InputError(field, str(path), f"file not found; {fix}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise InputError(
            field,
            str(path),
            f"holds objects other than tensors and plain values, so it is not loaded (it could run code); {fix}",
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:  # torch's errors for a cut or foreign file
        raise InputError(field, str(path), f"is corrupt or truncated ({type(exc).__name__}); {fix}") from None
    if not isinstance(data, dict):
        raise InputError(
            field, str(path), f"does not hold a workbench state (a {type(data).__name__}); {fix}"
        )
    return data


def begin_checkpoint(run_dir: Path, step: int) -> Path:
    tmp = run_dir / CHECKPOINTS / f".{checkpoint_name(step)}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def commit_checkpoint(tmp: Path, step: int) -> Path:
    final = tmp.parent / checkpoint_name(step)
    if final.exists():  # a resumed run re-reaching a step it had saved before the kill
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


@dataclass
class CheckpointInfo:
    step: int
    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def adapter_dir(self) -> Path:
        return self.path


def list_checkpoints(run_dir: str | Path) -> list[CheckpointInfo]:
    """Complete checkpoints of a run, oldest first."""
    folder = Path(run_dir) / CHECKPOINTS
    out: list[CheckpointInfo] = []
    if not folder.is_dir():
        return out
    for sub in sorted(folder.glob("step-*")):
        if not (sub / STATE_FILE).exists() or not (sub / ADAPTER_FILE).exists():
            continue
        step = sub.name.split("-", 1)[1]
        if not step.isdigit():  # a folder someone made by hand is not a checkpoint this trainer wrote
            continue
        metrics, _ = read_json_record(sub / METRICS_FILE)
        out.append(CheckpointInfo(int(step), sub, metrics))
    out.sort(key=lambda c: c.step)
    return out


def read_json_record(path: Path) -> tuple[dict[str, Any], str | None]:
    """(data, None) for a readable JSON object file, ({}, None) if absent, ({}, note) if it is broken: one
    corrupt record makes its own entry incomplete, never the whole listing fail."""
    from workbench.core.config import read_json
    from workbench.core.errors import ConfigError

    if not path.is_file():
        return {}, None
    try:
        data = read_json(path, path.name)
    except ConfigError as exc:
        return {}, f"{path} is unreadable ({exc.fix}); its entries show no metrics"
    if not isinstance(data, dict):
        return {}, f"{path} does not hold a JSON object; its entries show no metrics"
    return data, None


def latest_checkpoint(run_dir: str | Path) -> CheckpointInfo | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def prune_checkpoints(run_dir: Path, keep: int, protect: set[int]) -> None:
    if keep <= 0:
        return
    found = list_checkpoints(run_dir)
    for ckpt in found[:-keep]:
        if ckpt.step not in protect:
            shutil.rmtree(ckpt.path, ignore_errors=True)


def write_model_card(
    folder: Path,
    *,
    title: str,
    config: dict[str, Any],
    dataset: dict[str, Any],
    model: dict[str, Any],
    checkpoints: list[dict[str, Any]],
    chosen_step: int | None,
    reason: str,
) -> Path:
    """A README.md next to the adapter: what it was trained on, how, how well, and how to load it."""
    import yaml

    lines = [
        f"# {title}",
        "",
        f"LoRA adapter for ACE-Step 1.5 ({model.get('name', '?')}, variant {model.get('variant', '?')}, "
        f"revision `{model.get('revision', '?')}`), trained with ACE Workbench.",
        "",
        f"Chosen checkpoint: step {chosen_step} ({reason}).",
        "",
        "## Use",
        "",
        "```python",
        "from diffusers import AceStepPipeline",
        f'pipe = AceStepPipeline.from_pretrained("{model.get("location", "ACE-Step/Ace-Step1.5")}")',
        'pipe.load_lora_weights("<this folder>")  # applies r/alpha from the file\'s metadata',
        'audio = pipe(prompt="...", attention_kwargs={"scale": 1.0}).audios',
        "```",
        "",
        "Or: `workbench generate --lora <this folder> ...`.",
        "",
        "## Dataset",
        "",
    ]
    for k, v in dataset.items():
        lines.append(f"- {k}: {v}")
    lines += [
        "",
        "## Checkpoints",
        "",
        "Feature gap: mean relative distance of the previews' tempo, spectral centroid, onset density and loudness "
        "from the training clips' (evals analysis); the LoRA should sit closer than the base model.",
        "",
        "| step | val loss | train loss | lr | feature gap LoRA | feature gap base |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c in checkpoints:
        lines.append(
            f"| {c['step']} | {_fmt(c.get('val_loss'))} | {_fmt(c.get('train_loss'))} | {_fmt(c.get('lr'))} | "
            f"{_fmt(c.get('eval/feature_gap'))} | {_fmt(c.get('eval/base_feature_gap'))} |"
        )
    lines += ["", "## Config", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path


def _fmt(value: Any) -> str:
    return f"{value:.5g}" if isinstance(value, (int, float)) else "–"


@dataclass
class AdapterInfo:
    run: str
    kind: str  # "best", "final" or "checkpoint"
    path: Path
    step: int | None
    val_loss: float | None
    note: str | None = None  # set when the run's summary.json could not be read

    def to_dict(self) -> dict[str, Any]:
        out = {
            "run": self.run,
            "kind": self.kind,
            "path": str(self.path),
            "step": self.step,
            "val_loss": self.val_loss,
        }
        return out | ({"note": self.note} if self.note else {})


def list_adapters(root: str | Path | None = None, include_checkpoints: bool = False) -> list[AdapterInfo]:
    """Every loadable adapter under the LoRA runs folder (best and final per run; checkpoints on request)."""
    base = Path(root) if root is not None else lora_root()
    out: list[AdapterInfo] = []
    if not base.is_dir():
        return out
    for run in sorted(p for p in base.iterdir() if p.is_dir()):
        summary, note = read_json_record(run / SUMMARY_FILE)
        for kind in ("best", "final"):
            folder = run / kind
            if (folder / ADAPTER_FILE).exists():
                entry = summary.get(kind)
                info: dict[str, Any] = entry if isinstance(entry, dict) else {}
                out.append(AdapterInfo(run.name, kind, folder, info.get("step"), info.get("val_loss"), note))
        if include_checkpoints:
            for ckpt in list_checkpoints(run):
                out.append(
                    AdapterInfo(run.name, "checkpoint", ckpt.path, ckpt.step, ckpt.metrics.get("val_loss"))
                )
    return out


def loss_curve(run_dir: str | Path) -> list[tuple[int, float]]:
    """(step, training loss) from the run's tracking mirror; after a resume the re-run steps replace the ones
    logged before the interruption, so the curve has one point per step."""
    path = Path(run_dir) / "tracking.jsonl"
    if not path.exists():
        return []
    curve: dict[int, float] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a killed process
            continue
        if record.get("event") == "log" and "train/loss" in record.get("values", {}):
            curve[int(record["step"])] = float(record["values"]["train/loss"])
    return sorted(curve.items())


@dataclass
class PreviewPair:
    """One fixed prompt/seed at one checkpoint: the base model's take and the LoRA's."""

    step: int
    prompt: str
    base: Path | None
    lora: Path


def checkpoint_previews(run_dir: str | Path) -> list[PreviewPair]:
    """Base-vs-LoRA preview pairs for every checkpoint, for side-by-side players."""
    run = Path(run_dir)
    pairs = []
    for ckpt in list_checkpoints(run):
        prompts = ckpt.metrics.get("preview_prompts", [])
        for rel, prompt in zip(ckpt.metrics.get("previews", []), prompts, strict=False):
            lora_path = ckpt.path / rel
            base_path = run / "previews_base" / Path(rel).name.replace("_scale1.wav", "_scale0.wav")
            pairs.append(PreviewPair(ckpt.step, prompt, base_path if base_path.exists() else None, lora_path))
    return pairs
