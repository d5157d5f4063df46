"""A tiny, randomly initialised ACE-Step 1.5 pipeline at the real audio geometry (48 kHz stereo, 25 latents/s).

No weights can be downloaded in CI, so tests, demos and benchmarks use this. It goes through exactly the same
``AceStepPipeline.from_pretrained(folder)`` path as real weights: it is built once, saved with ``save_pretrained``
and loaded back. All eight components are real diffusers/transformers classes; only their sizes are small.
The tokenizer is a byte-level BPE trained locally because the real Qwen3 tokenizer lives on the hub.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from workbench.core import paths

TINY_VERSION = 1  # bump when the architecture below changes, so stale cached builds are rebuilt
LATENT_DIM = 8
HIDDEN = 32
_STAMP = "workbench_tiny.json"

_TOKENIZER_CORPUS = [
    "# Instruction\nFill the audio semantic mask based on the given conditions:\n\n",
    "# Caption\n",
    "# Metas\n- bpm: 120\n- timesignature: 4\n- keyscale: C major\n- duration: 30 seconds\n",
    "# Languages\nen\n\n# Lyric\n[Instrumental]<|endoftext|>",
    "[verse]\nSoft notes in the morning light\n[chorus]\nMusic fills the air tonight\n",
    "elegant lounge jazz, soft piano, upright bass, brushed drums, warm, relaxed",
    "ambient new age, soft pads, gentle harp, calm, slow, meditative, airy",
    "upbeat modern pop, bright synths, punchy drums, catchy, positive, energetic",
    "feel-good funk pop, groovy bass, crisp guitar, handclaps, lively",
    "N/A unknown instrumental vocals drums bass guitar piano keyboard strings other",
    "0123456789 bpm key minor major sharp flat seconds A B C D E F G # - : , . \n",
    "<|audio_code_0|><|audio_code_1|><|audio_code_63999|>",
]


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_TOKENIZER_CORPUS * 4, trainer=trainer)
    # The pipeline tokenizes with padding="longest", so a pad token is required.
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>", model_max_length=4096
    )


def build_tiny_pipeline(seed: int = 0):
    """Build all eight components with random weights. Deterministic for a given seed."""
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
    )
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    attn = dict(
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, rope_theta=10000.0, sliding_window=16
    )
    text_encoder = Qwen3Model(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=4096,
        )
    )
    transformer = AceStepTransformer1DModel(
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        in_channels=3 * LATENT_DIM,
        audio_acoustic_hidden_dim=LATENT_DIM,
        patch_size=2,
        **attn,
    )
    condition_encoder = AceStepConditionEncoder(
        hidden_size=HIDDEN,
        intermediate_size=64,
        text_hidden_dim=HIDDEN,
        timbre_hidden_dim=LATENT_DIM,
        num_lyric_encoder_hidden_layers=2,
        num_timbre_encoder_hidden_layers=2,
        **attn,
    )
    # Even strides only: an odd stride makes the decoder return a few samples short. Product 1920 -> 25 latents/s.
    vae = AutoencoderOobleck(
        encoder_hidden_size=2 * LATENT_DIM,
        downsampling_ratios=[2, 4, 4, 6, 10],
        channel_multiples=[1, 1, 1, 1, 1],
        decoder_channels=4,
        decoder_input_channels=LATENT_DIM,
        audio_channels=2,
        sampling_rate=48000,
    )
    audio_tokenizer = AceStepAudioTokenizer(
        hidden_size=HIDDEN,
        intermediate_size=64,
        audio_acoustic_hidden_dim=LATENT_DIM,
        pool_window_size=5,
        fsq_dim=HIDDEN,
        fsq_input_levels=[8, 8, 8, 5, 5, 5],
        fsq_input_num_quantizers=1,
        num_attention_pooler_hidden_layers=2,
        **attn,
    )
    detokenizer = AceStepAudioTokenDetokenizer(
        hidden_size=HIDDEN,
        intermediate_size=64,
        audio_acoustic_hidden_dim=LATENT_DIM,
        pool_window_size=5,
        num_attention_pooler_hidden_layers=2,
        **attn,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    return AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=scheduler,
        audio_tokenizer=audio_tokenizer,
        audio_token_detokenizer=detokenizer,
    )


def tiny_dir(seed: int = 0) -> Path:
    return paths.models_dir() / f"tiny-v{TINY_VERSION}-seed{seed}"


def ensure_tiny(seed: int = 0, folder: Path | None = None) -> Path:
    """Build and save the tiny pipeline once; later calls return the cached folder.

    The folder is written under a temporary name and renamed, so concurrent callers (test workers, two app
    processes) never see half a model.
    """
    target = Path(folder) if folder is not None else tiny_dir(seed)
    record = {"version": TINY_VERSION, "seed": seed}
    return build_once(target, _STAMP, lambda tmp: build_tiny_pipeline(seed).save_pretrained(tmp), record)


def build_once(
    target: Path, stamp: str, write: Callable[[Path], object], record: Mapping[str, object]
) -> Path:
    """Write a locally built model into ``target`` once: into a temporary folder, stamped, then renamed.

    Concurrent callers (test workers, two app processes) never see half a model; the stamp marks a finished one.
    """
    if (target / stamp).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        (tmp / stamp).write_text(json.dumps(record))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / stamp).exists():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
