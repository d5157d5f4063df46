"""On-demand evaluation of a finished run: the per-checkpoint table and a LoRA-scale sweep of one adapter.

The sweep goes through ``workbench.engine.engine.Engine`` with a ``LoraRef`` (exactly what the Generate tab does), so it
also checks that the saved file loads and applies, and renders fixed prompts × seeds × scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora import checkpoints as ck
from lora.config import load_config
from lora.evaluate import Preview
from lora.model import ADAPTER_FILE
from workbench.core.errors import InputError


@dataclass
class SweepResult:
    adapter_dir: Path
    previews: list[Preview]
    checkpoints: list[dict[str, Any]]
    feature_gaps: dict[float, float | None]  # per scale; lower = closer to the training clips


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
    from workbench.core.audio_io import write_audio
    from workbench.engine.engine import Engine
    from workbench.engine.requests import LoraRef, Text2Music

    if cfg.model == "tiny":
        from workbench.engine.tiny import ensure_tiny

        ensure_tiny()  # the local random test model is built, never downloaded
    engine = Engine(cfg.model, device=device)
    use_prompts = prompts or cfg.preview_prompts
    if not use_prompts:
        summary, _ = ck.read_json_record(run / ck.SUMMARY_FILE)
        use_prompts = summary.get("preview_prompts") or ["instrumental"]
    out = run / "sweeps" / adapter.name
    previews = []
    for p_index, prompt in enumerate(use_prompts):
        for seed in seeds or cfg.preview_seeds:
            for scale in scales if scales is not None else [0.0, 0.5, 1.0, 1.5]:
                request = Text2Music(
                    prompt=prompt,
                    instrumental=True,
                    seed=seed,
                    duration_s=duration_s or cfg.preview_duration_s,
                    steps=cfg.preview_steps or None,
                    lora=LoraRef(str(adapter), scale),
                )
                result = engine.run(request)
                path = write_audio(out / f"p{p_index}_seed{seed}_scale{scale:g}.wav", result.audio)
                previews.append(Preview(prompt, seed, scale, path))
    return SweepResult(adapter, previews, checkpoint_table(run), _gaps_by_scale(cfg.data, previews))


def _gaps_by_scale(data: str | None, previews: list[Preview]) -> dict[float, float | None]:
    """Feature gap to the training clips per LoRA scale (scale 0 = the base model); empty without the dataset."""
    from lora.analysis import feature_gap, mean_features
    from lora.dataset import load_records

    if not data or not Path(data).is_dir():
        return {}
    try:
        train = [Path(r.audio_path) for r in load_records(data, "train") if Path(r.audio_path).exists()]
    except InputError:
        return {}
    if not train:
        return {}
    reference = mean_features(train)
    scales = sorted({p.scale for p in previews})
    return {
        s: feature_gap(mean_features([p.path for p in previews if p.scale == s]), reference) for s in scales
    }
