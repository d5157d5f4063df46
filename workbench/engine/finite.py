"""Checks that what the model produced is finite, naming the part that went wrong.

A NaN anywhere in the denoising loop spreads to every sample, and soundfile writes NaN without complaint, so a
broken adapter or checkpoint would otherwise leave an all-NaN file with a sidecar and a store row. The latents
are checked after every step (the transformer's output) and the audio after the VAE decode, so the message can
say which of the two produced it and which adapter was loaded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.errors import NonFiniteError
from workbench.engine.adapters import AdapterInfo


def _suspect(adapter: AdapterInfo | None, scale: float | None) -> str:
    if adapter is None:
        return "no LoRA was loaded; check the model with: workbench models check"
    return (
        f"with LoRA '{adapter.source}' loaded (alpha {adapter.alpha:g}, r {adapter.rank}, scale {scale}); "
        "lower the scale or check the adapter"
    )


def check_latents(
    latents: Any, step: int, total: int, adapter: AdapterInfo | None, scale: float | None = None
) -> None:
    """Raise if the transformer's latents after denoising step ``step`` (0-based) hold NaN or inf."""
    import torch

    if latents is None or bool(torch.isfinite(latents).all()):
        return
    raise NonFiniteError(
        f"the transformer produced NaN or infinite latents at denoising step {step + 1} of {total}; nothing "
        f"was written ({_suspect(adapter, scale)})"
    )


def check_audio(
    audio: np.ndarray, stage: str, adapter: AdapterInfo | None, scale: float | None = None
) -> None:
    """Raise if ``audio`` (what ``stage`` returned) holds NaN or inf."""
    finite = np.isfinite(audio)
    if finite.all():
        return
    bad = int(finite.size - np.count_nonzero(finite))
    raise NonFiniteError(
        f"{stage} produced {bad} of {finite.size} samples as NaN or infinite; nothing was written "
        f"({_suspect(adapter, scale)})"
    )
