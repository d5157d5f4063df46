"""A full-size ACE-Step 1.5 turbo pipeline with random weights, for speed and memory benchmarks on a GPU.

Speed and memory do not depend on weight values, so the published architecture with random weights measures
what real weights would. Sizes: DiT (AceStepTransformer1DModel defaults = the published 2B turbo: hidden 2048,
24 layers, 16/8 heads, head_dim 128, in_channels 192, latent 64, patch 2, sliding window 128), condition encoder
(diffusers defaults: 8 lyric + 4 timbre layers, text dim 1024), Qwen3-Embedding-0.6B text encoder geometry,
the 48 kHz Oobleck VAE (strides 2·4·4·6·10 = 1920 samples per latent, 25 latents/s). The tokenizer is the tiny
local BPE (token ids are all valid in the big vocabulary; prompt length barely affects the timing).
"""

from __future__ import annotations

import torch


def build_full_size_pipeline(device: str = "cuda", dtype: torch.dtype = torch.bfloat16, turbo: bool = True):
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
    )
    from transformers import Qwen3Config, Qwen3Model

    from workbench.engine.tiny import _tokenizer

    torch.manual_seed(0)
    with torch.device(device):
        text_encoder = Qwen3Model(
            Qwen3Config(
                vocab_size=151_669,
                hidden_size=1024,
                intermediate_size=3072,
                num_hidden_layers=28,
                num_attention_heads=16,
                num_key_value_heads=8,
                head_dim=128,
                max_position_embeddings=32_768,
                rope_theta=1_000_000.0,
            )
        ).to(dtype)
        transformer = AceStepTransformer1DModel(is_turbo=turbo).to(dtype)
        condition_encoder = AceStepConditionEncoder().to(dtype)
        vae = AutoencoderOobleck(
            encoder_hidden_size=128,
            downsampling_ratios=[2, 4, 4, 6, 10],
            channel_multiples=[1, 2, 4, 8, 16],
            decoder_channels=128,
            decoder_input_channels=64,
            audio_channels=2,
            sampling_rate=48_000,
        ).to(dtype)
        audio_tokenizer = AceStepAudioTokenizer(fsq_input_levels=[8, 8, 8, 5, 5, 5]).to(dtype)
        detokenizer = AceStepAudioTokenDetokenizer().to(dtype)
    pipe = AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_tokenizer(),
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
        audio_tokenizer=audio_tokenizer,
        audio_token_detokenizer=detokenizer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_counts(pipe) -> dict[str, int]:
    return {
        name: sum(p.numel() for p in getattr(pipe, name).parameters())
        for name in ("transformer", "condition_encoder", "text_encoder", "vae")
    }
