"""A tiny, randomly initialised 5 Hz LM at the release's token layout, for tests and demos.

It is a real ``Qwen3ForCausalLM`` with a byte-level BPE tokenizer (trained here, because the real Qwen3 vocabulary
lives on the hub) carrying what the planner depends on: the chat specials ``<|im_start|>``/``<|im_end|>``/
``<|endoftext|>``, the ``<think>``/``</think>`` tokens and one token ``<|audio_code_N|>`` per code of the DiT's
audio tokenizer (FSQ levels 8·8·8·5·5·5 = 64000 codes; ace-step/ACE-Step-1.5@f30aee4:
acestep/constrained_logits_processor.py ``MAX_AUDIO_CODE = 63999``). It is saved as the release saves an LM, in a
folder ``acestep-5Hz-lm-tiny/`` with config.json, model.safetensors, tokenizer.json and tokenizer_config.json
(chat template included), and loads through the same ``AutoModelForCausalLM``/``AutoTokenizer`` path as real
weights.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from workbench.core import paths

TINY_LM_VERSION = 1  # bump when the layout below changes, so stale builds are rebuilt
CODEBOOK_SIZE = 64000
_STAMP = "workbench_tiny_lm.json"

# Renders system, user and assistant turns exactly as the Qwen3 chat template the released LMs carry does for
# those roles (no tools): an assistant turn after the last user turn gets its reasoning in a <think> block, and
# the generation prompt opens an assistant turn. Written for the tiny LM; real LMs bring their own template.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' %}"
    "{%- set content = message.content %}"
    "{%- set reasoning = '' %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if loop.last or reasoning %}"
    "{{- '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{{- content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_CORPUS = [
    "# Instruction\nGenerate audio semantic tokens based on the given conditions:\n\n",
    "# Instruction\nFormat the user's input into a more detailed and specific musical description:\n\n",
    "# Instruction\nExpand the user's input into a more detailed and specific musical description:\n\n",
    "# Caption\nelegant lounge jazz, soft piano, upright bass\n\n# Lyric\n[Instrumental]\n",
    "bpm: 120\ncaption: upbeat modern pop, bright synths\nduration: 30\nkeyscale: F# minor\n",
    "language: en\ntimesignature: 4\ninstrumental: false\nNO USER INPUT\n",
    "[verse]\nSoft notes in the morning light\n[chorus]\nMusic fills the air tonight\n",
    "0123456789 C C# D Eb E F F# G Ab A Bb B major minor",
]


def tiny_lm_dir(seed: int = 0) -> Path:
    return paths.models_dir() / f"lm-tiny-v{TINY_LM_VERSION}-seed{seed}" / "acestep-5Hz-lm-tiny"


def _tokenizer_files(folder: Path) -> int:
    """Train the small BPE, add the specials and the audio codes, save tokenizer.json + tokenizer_config.json.
    Returns the vocabulary size."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    plain = ["<think>", "</think>"] + [f"<|audio_code_{n}|>" for n in range(CODEBOOK_SIZE)]
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in plain])
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "model_max_length": 4096,
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return int(tok.get_vocab_size(with_added_tokens=True))


def build_tiny_lm(folder: Path, seed: int = 0) -> None:
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    vocab = _tokenizer_files(folder)
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=2,
        pad_token_id=0,
        bos_token_id=None,
    )
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=2, pad_token_id=0)
    model.save_pretrained(folder, safe_serialization=True)


def ensure_tiny_lm(seed: int = 0) -> Path:
    """Build the tiny LM once (under a temporary name, then renamed) and return its folder."""
    target = tiny_lm_dir(seed)
    if (target / _STAMP).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build_tiny_lm(tmp, seed)
        (tmp / _STAMP).write_text(json.dumps({"version": TINY_LM_VERSION, "seed": seed}))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / _STAMP).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
