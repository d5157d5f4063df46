"""Encode a dataset once: VAE latents, condition encoder states and context latents, cached on disk.

Every tensor is produced by the pipeline's own functions (`encode_prompt`, `condition_encoder`,
`prepare_src_latents`, `_build_chunk_mask`, `vae.encode(...).latent_dist.sample()`), called exactly as
`AceStepPipeline.__call__` calls them for text2music with no reference audio, so training
conditions match inference. Each item is one file named by a hash of its audio content, its text fields, the
model revision and the settings: a re-run skips unchanged items, a changed caption re-encodes that item only, and
files are written atomically so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lora.dataset import Record
from lora.dataset_sources import Issue
from workbench.core.audio_io import SAMPLE_RATE, load_conformed
from workbench.core.errors import AudioInputError

CACHE_VERSION = 1  # bump when what an entry contains changes
TIMBRE_REFERENCE_S = 30  # the pipeline's silence-latent timbre reference length
Progress = Callable[[int, int, str], None]


@dataclass
class PreprocessResult:
    cache_dir: Path
    entries: dict[str, Path]  # record id -> cache file
    encoded: int = 0
    skipped: int = 0
    issues: list[Issue] = field(default_factory=list)
    stopped: bool = False


def cache_key(record: Record, model_revision: str, max_duration_s: float, precision: str = "") -> str:
    payload = {
        "precision": precision,
        "v": CACHE_VERSION,
        "audio": record.audio_sha256,
        "caption": record.caption,
        "lyrics": record.lyrics_for_model,
        "language": record.language,
        "bpm": record.bpm,
        "key": record.key,
        "time_signature": record.time_signature,
        "model": model_revision,
        "max_duration_s": max_duration_s,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _device(pipe: Any) -> torch.device:
    return pipe._execution_device


@torch.no_grad()
def encode_record(pipe: Any, record: Record, max_duration_s: float, seed: int) -> dict[str, Any]:
    """Encode one clip. Returns CPU fp32 tensors: target_latents [T, D], encoder_hidden_states [L, H],
    context_latents [T, 2D]."""
    device = _device(pipe)
    dtype = pipe.transformer.dtype
    audio = load_conformed(record.audio_path, max_duration_s=max(max_duration_s, record.duration_s + 1))
    samples = audio.samples[:, : int(max_duration_s * SAMPLE_RATE)]
    duration_s = samples.shape[1] / SAMPLE_RATE
    wave = torch.from_numpy(samples).unsqueeze(0).to(device=device, dtype=pipe.vae.dtype)
    # A sample, not the mean, as the official preprocessing and the pipeline's own source-audio path do; seeded
    # from the cache key so the same item always encodes to the same latents.
    generator = torch.Generator("cpu").manual_seed(seed)
    latents = pipe.vae.encode(wave).latent_dist.sample(generator=generator).transpose(1, 2).to(dtype)
    latent_length = latents.shape[1]

    instruction = pipe._get_task_instruction(task_type="text2music")
    text_hs, text_mask, lyric_hs, lyric_mask = pipe.encode_prompt(
        prompt=record.caption,
        lyrics=record.lyrics_for_model,
        device=device,
        vocal_language=record.language,
        audio_duration=duration_s,
        instruction=instruction,
        bpm=record.bpm,
        keyscale=record.key,
        timesignature=record.time_signature,
    )
    timbre_frames = math.ceil(TIMBRE_REFERENCE_S * pipe.latents_per_second)
    timbre = pipe.condition_encoder.silence_latent[:, :timbre_frames, :].to(device=device, dtype=dtype)
    encoder_hidden_states, _ = pipe.condition_encoder(
        text_hidden_states=text_hs,
        text_attention_mask=text_mask,
        lyric_hidden_states=lyric_hs,
        lyric_attention_mask=lyric_mask,
        refer_audio_acoustic_hidden_states_packed=timbre,
        refer_audio_order_mask=torch.arange(1, device=device, dtype=torch.long),
    )
    src_latents, _ = pipe.prepare_src_latents(
        device=device, dtype=dtype, batch_size=1, latent_length=latent_length
    )
    chunk_mask = pipe._build_chunk_mask(
        task_type="text2music",
        latent_length=latent_length,
        batch_size=1,
        device=device,
        dtype=dtype,
        acoustic_dim=latents.shape[-1],
    )
    context = torch.cat([src_latents, chunk_mask], dim=-1)
    return {
        "target_latents": latents[0].float().cpu(),
        "encoder_hidden_states": encoder_hidden_states[0].float().cpu(),
        "context_latents": context[0].float().cpu(),
        "record_id": record.id,
        "duration_s": duration_s,
    }


def _atomic_save(obj: dict[str, Any], path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def preprocess(
    records: list[Record],
    pipe: Any,
    model_revision: str,
    cache_dir: str | os.PathLike[str],
    *,
    max_duration_s: float = 240.0,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> PreprocessResult:
    """Encode every record not already cached. Safe to interrupt and re-run."""
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    result = PreprocessResult(cache_dir=folder, entries={})
    # Encoder precision is part of the key: latents from a bf16 VAE are not those of an fp32 one.
    precision = f"{pipe.vae.dtype}/{pipe.text_encoder.dtype}/{pipe.condition_encoder.dtype}"
    for i, record in enumerate(records):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        key = cache_key(record, model_revision, max_duration_s, precision)
        path = folder / f"{key}.pt"
        if path.exists():
            result.skipped += 1
            result.entries[record.id] = path
            if progress is not None:
                progress(i + 1, len(records), f"cached {record.source}")
            continue
        if progress is not None:
            progress(i, len(records), f"encoding {record.source}")
        try:
            entry = encode_record(pipe, record, max_duration_s, seed=int(key[:12], 16))
        except AudioInputError as exc:  # the file changed or vanished since the dataset was built
            result.issues.append(Issue(record.source, exc.fix))
            continue
        _atomic_save(entry, path)
        result.encoded += 1
        result.entries[record.id] = path
        if progress is not None:
            progress(i + 1, len(records), f"encoded {record.source}")
    return result


def load_entry(path: Path) -> dict[str, Any]:
    from lora.checkpoints import load_state

    return load_state(
        path, "preprocessed clip", "delete the dataset's preprocessed folder so it is encoded again"
    )
