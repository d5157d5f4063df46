"""Knowing whether a LoRA helps: a deterministic validation loss, fixed-seed previews (base vs LoRA, and a
LoRA-scale sweep), optional metrics from the evals package, and best-checkpoint selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lora.objective import flow_matching_loss, shifted_timesteps
from workbench.core.audio_io import Audio, write_audio


def validation_timesteps(
    variant: str, count: int, mu: float, sigma: float, turbo_shift: float
) -> torch.Tensor:
    """Fixed timesteps spread like the training distribution, so validation loss is comparable across checkpoints.

    turbo: the shift-3 table (count ignored); base/sft: quantiles of the max-of-two logit-normal,
    F^-1(q) = sigmoid(mu + sigma * Phi^-1(sqrt(q))).
    """
    if variant == "turbo":
        return shifted_timesteps(8, turbo_shift)
    q = (torch.arange(count, dtype=torch.float64) + 0.5) / count
    normal = torch.distributions.Normal(0.0, 1.0)
    return torch.sigmoid(mu + sigma * normal.icdf(q.sqrt())).float()


@torch.no_grad()
def validation_loss(
    transformer: torch.nn.Module,
    entries: list[dict[str, Any]],
    timesteps: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
    autocast: Any = None,
) -> float | None:
    """Mean flow-matching loss over every validation clip × fixed timestep, with noise seeded per clip."""
    if not entries:
        return None
    was_training = transformer.training
    transformer.eval()
    total, count = 0.0, 0
    for index, entry in enumerate(entries):
        x0 = entry["target_latents"].unsqueeze(0).to(device, dtype)
        ehs = entry["encoder_hidden_states"].unsqueeze(0).to(device, dtype)
        ctx = entry["context_latents"].unsqueeze(0).to(device, dtype)
        generator = torch.Generator("cpu").manual_seed(10_000 + index)
        noise = torch.randn(x0.shape, generator=generator).to(device, dtype)
        n = len(timesteps)
        t = timesteps.to(device)
        with autocast() if autocast is not None else torch.autocast(device.type, enabled=False):
            loss = flow_matching_loss(
                transformer,
                x0.expand(n, -1, -1),
                ehs.expand(n, -1, -1),
                ctx.expand(n, -1, -1),
                t,
                noise.expand(n, -1, -1),
            )
        total += float(loss) * n
        count += n
    transformer.train(was_training)
    return total / count


@dataclass(frozen=True)
class Preview:
    prompt: str
    seed: int
    scale: float
    path: Path


@torch.no_grad()
def render(
    pipe: Any,
    prompt: str,
    seed: int,
    scale: float,
    duration_s: float,
    steps: int,
    guidance_scale: float,
    shift: float,
) -> np.ndarray:
    """One fixed-seed take through the pipeline with the live adapter at ``scale`` (0 = base model exactly).

    It calls the trainer's own pipeline, not the engine: the adapter is the PEFT module being trained, which exists
    only in that pipeline until a checkpoint is saved (docs/lora.md, "The trainer's own model").
    """
    was_training = pipe.transformer.training
    pipe.transformer.eval()
    generator = torch.Generator("cpu").manual_seed(seed)
    out = pipe(
        prompt=prompt,
        lyrics="[Instrumental]",
        audio_duration=duration_s,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        shift=shift,
        generator=generator,
        output_type="np",
        attention_kwargs={"scale": float(scale)},
    ).audios
    pipe.transformer.train(was_training)
    return np.asarray(out[0], dtype=np.float32)


def render_previews(
    pipe: Any,
    folder: Path,
    prompts: list[str],
    seeds: list[int],
    scales: list[float],
    *,
    duration_s: float,
    steps: int,
    guidance_scale: float,
    shift: float,
) -> list[Preview]:
    """Render every prompt × seed × scale into ``folder`` as wav files."""
    folder.mkdir(parents=True, exist_ok=True)
    previews = []
    for p_index, prompt in enumerate(prompts):
        for seed in seeds:
            for scale in scales:
                samples = render(pipe, prompt, seed, scale, duration_s, steps, guidance_scale, shift)
                path = folder / f"p{p_index}_seed{seed}_scale{scale:g}.wav"
                write_audio(path, Audio(samples, int(pipe.sample_rate)))
                previews.append(Preview(prompt, seed, scale, path))
    return previews


def audio_metrics(
    previews: list[Preview], base_previews: list[Path], reference: dict[str, float]
) -> dict[str, float]:
    """Features of the LoRA previews (evals analysis), and how far they and the base previews sit from the
    training clips' features: ``eval/feature_gap`` below ``eval/base_feature_gap`` means the LoRA moved the
    output toward the data."""
    from lora.analysis import feature_gap, mean_features

    lora_features = mean_features([p.path for p in previews])
    metrics = {f"eval/{k}": v for k, v in lora_features.items()}
    gap = feature_gap(lora_features, reference)
    base_gap = feature_gap(mean_features(base_previews), reference)
    if gap is not None:
        metrics["eval/feature_gap"] = gap
    if base_gap is not None:
        metrics["eval/base_feature_gap"] = base_gap
    return metrics


def select_best(checkpoints: list[dict[str, Any]], metric: str) -> tuple[dict[str, Any] | None, str]:
    """The checkpoint to ship, and why. ``val_loss``: lowest validation loss; ``feature_gap``: previews closest
    to the training clips' features; ``last``: the newest."""
    if not checkpoints:
        return None, "no checkpoints"
    if metric == "feature_gap":
        scored = [c for c in checkpoints if isinstance(c.get("eval/feature_gap"), (int, float))]
        if scored:
            best = min(scored, key=lambda c: (c["eval/feature_gap"], -c["step"]))
            return (
                best,
                f"previews closest to the training clips (feature gap {best['eval/feature_gap']:.3g})",
            )
        metric = "val_loss"  # previews off: fall back to the validation loss
    if metric == "val_loss":
        scored = [c for c in checkpoints if isinstance(c.get("val_loss"), (int, float))]
        if scored:
            best = min(scored, key=lambda c: (c["val_loss"], -c["step"]))
            return best, f"lowest validation loss {best['val_loss']:.5g} of {len(scored)} checkpoints"
        last = max(checkpoints, key=lambda c: c["step"])
        return last, "no validation split, so the last checkpoint"
    last = max(checkpoints, key=lambda c: c["step"])
    return last, "select_metric=last"
