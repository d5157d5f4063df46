"""Audio -> 5 Hz semantic codes with the loaded pipeline's own audio tokenizer (VAE latents pooled 5:1 and
FSQ-quantised), the input Understand gives the LM. Deterministic: the VAE posterior's mode, not a sample."""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.core.audio_io import load_conformed
from workbench.core.errors import InputError
from workbench.engine.engine import Engine


def audio_to_codes(engine: Engine, path: str | Path) -> str:
    audio = load_conformed(path)
    with engine.lock:
        pipe = engine.pipeline
        if getattr(pipe, "audio_tokenizer", None) is None:
            raise InputError(
                "audio", str(path), "the loaded model has no audio tokenizer; load an ACE-Step 1.5 model"
            )
        param = next(pipe.vae.parameters())
        samples = torch.from_numpy(audio.samples).unsqueeze(0).to(device=param.device, dtype=param.dtype)
        with torch.inference_mode():
            latents = pipe.vae.encode(samples).latent_dist.mode()
            _, indices = pipe.audio_tokenizer.tokenize(latents.transpose(1, 2))
    flat = indices.reshape(-1).tolist()
    if not flat:
        raise InputError("audio", str(path), "is too short to give a single 5 Hz code (0.2 s)")
    return "".join(f"<|audio_code_{int(n)}|>" for n in flat)
