"""The flow-matching training objective of ACE-Step 1.5.

x_t = t·x1 + (1 − t)·x0 with x1 ~ N(0, I); target velocity v* = x1 − x0; plain MSE over every element; the DiT is
called with timestep = timestep_r = t in [0, 1]. Turbo checkpoints sample t uniformly from the 8 shift-3 inference
timesteps (what the official trainer does); base/sft sample the max of two logit-normal draws and drop the whole
condition to ``null_condition_emb`` with probability 0.15 (the model's own training forward).
All randomness comes from an explicit CPU generator so that a resumed run draws exactly what the original would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def shifted_timesteps(steps: int = 8, shift: float = 3.0) -> torch.Tensor:
    """t' = s·t / (1 + (s − 1)·t) on linspace(1, 0, steps + 1) without the final 0."""
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)[:-1]
    return (shift * t / (1 + (shift - 1) * t)).float()


def sample_timesteps(
    batch_size: int,
    variant: str,
    generator: torch.Generator,
    *,
    mu: float = -0.4,
    sigma: float = 1.0,
    turbo_shift: float = 3.0,
) -> torch.Tensor:
    """Per-sample t in [0, 1], on the CPU."""
    if variant == "turbo":
        table = shifted_timesteps(8, turbo_shift)
        idx = torch.randint(0, len(table), (batch_size,), generator=generator)
        return table[idx]
    z = torch.randn(2, batch_size, generator=generator)
    u = torch.sigmoid(mu + sigma * z)
    return u.max(dim=0).values  # t = max(u1, u2); r = t since ACE-Step 1.5 does not use mean-flow


def condition_dropout_mask(batch_size: int, probability: float, generator: torch.Generator) -> torch.Tensor:
    """True where a sample's condition is replaced by the null embedding."""
    if probability <= 0:
        return torch.zeros(batch_size, dtype=torch.bool)
    return torch.rand(batch_size, generator=generator) < probability


def apply_condition_dropout(
    encoder_hidden_states: torch.Tensor, null_condition_emb: torch.Tensor, drop: torch.Tensor
) -> torch.Tensor:
    """Replace every token of the dropped samples by the learned null embedding [1, 1, D] (as the pipeline's CFG does)."""
    if not bool(drop.any()):
        return encoder_hidden_states
    null = null_condition_emb.to(encoder_hidden_states.device, encoder_hidden_states.dtype)
    mask = drop.to(encoder_hidden_states.device).view(-1, 1, 1)
    return torch.where(mask, null.expand_as(encoder_hidden_states), encoder_hidden_states)


def noisy_input(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t_ = t.to(x0.dtype).view(-1, 1, 1)
    return t_ * noise + (1 - t_) * x0


def flow_matching_loss(
    transformer: torch.nn.Module,
    x0: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    context_latents: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    """MSE between the predicted and the true velocity, in fp32 (the model may run in bf16 under autocast)."""
    x_t = noisy_input(x0, noise, t)
    t_model = t.to(device=x0.device, dtype=x0.dtype)
    pred = transformer(
        hidden_states=x_t,
        timestep=t_model,
        timestep_r=t_model,
        encoder_hidden_states=encoder_hidden_states,
        context_latents=context_latents,
        return_dict=False,
    )[0]
    return F.mse_loss(pred.float(), (noise - x0).float())
