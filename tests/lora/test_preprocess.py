"""Cached preprocessing: conditions identical to inference, skip unchanged, re-encode changed, resume."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
import torch

from lora.dataset import load_records
from lora.preprocess import load_entry, preprocess


@pytest.fixture(scope="module")
def pipe(tiny_model_dir: Path):
    from diffusers import AceStepPipeline

    p = AceStepPipeline.from_pretrained(tiny_model_dir)
    p.set_progress_bar_config(disable=True)
    return p


def _count_vae(pipe) -> list[int]:
    calls = [0]
    original = pipe.vae.encode

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    pipe.vae.encode = counted
    return calls


def test_cached_conditions_equal_what_the_pipeline_feeds_the_dit(
    pipe, tmp_path: Path, build_small_dataset
) -> None:
    records = load_records(build_small_dataset(tmp_path, n=1, val_fraction=0.0, duration_s=1.0))
    result = preprocess(records, pipe, "rev-a", tmp_path / "cache")
    record = records[0]
    entry = load_entry(result.entries[record.id])
    assert entry["target_latents"].shape == (25, 8)  # 1 s at 25 latents/s, latent dim 8

    seen = {}

    def grab(_module, _args, kwargs):
        seen.update(kwargs)

    handle = pipe.transformer.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        pipe(
            prompt=record.caption,
            lyrics=record.lyrics_for_model,
            audio_duration=1.0,
            num_inference_steps=1,
            guidance_scale=1.0,
            bpm=record.bpm,
            keyscale=record.key,
            timesignature=record.time_signature,
            vocal_language=record.language,
            generator=torch.Generator().manual_seed(0),
            output_type="latent",
        )
    finally:
        handle.remove()
    assert "zzlobby" in record.caption  # the trigger tag is part of what was encoded
    assert torch.equal(seen["encoder_hidden_states"][0].float(), entry["encoder_hidden_states"])
    assert torch.equal(seen["context_latents"][0].float(), entry["context_latents"])


def test_rerun_skips_unchanged_and_reencodes_only_changes(pipe, tmp_path: Path, build_small_dataset) -> None:
    records = load_records(build_small_dataset(tmp_path, n=3, val_fraction=0.0, duration_s=1.0))
    calls = _count_vae(pipe)
    try:
        first = preprocess(records, pipe, "rev-a", tmp_path / "cache")
        assert (first.encoded, first.skipped, calls[0]) == (3, 0, 3)
        again = preprocess(records, pipe, "rev-a", tmp_path / "cache")
        assert (again.encoded, again.skipped, calls[0]) == (0, 3, 3)
        assert again.entries == first.entries
        changed = [dataclasses.replace(records[0], caption="a different caption"), *records[1:]]
        third = preprocess(changed, pipe, "rev-a", tmp_path / "cache")
        assert (third.encoded, third.skipped, calls[0]) == (1, 2, 4)
        assert third.entries[records[0].id] != first.entries[records[0].id]
        other_model = preprocess(records[:1], pipe, "rev-b", tmp_path / "cache")
        assert other_model.encoded == 1  # a different model revision never reuses latents
        # Same item, same key -> the VAE sample is seeded by the key, so re-encoding gives the same latents.
        (tmp_path / "cache" / first.entries[records[1].id].name).unlink()
        fourth = preprocess(records, pipe, "rev-a", tmp_path / "cache")
        assert fourth.encoded == 1
        assert torch.equal(
            load_entry(fourth.entries[records[1].id])["target_latents"],
            load_entry(third.entries[records[1].id])["target_latents"],
        )
    finally:
        del pipe.vae.encode


def test_interrupted_preprocessing_resumes(pipe, tmp_path: Path, build_small_dataset) -> None:
    records = load_records(build_small_dataset(tmp_path, n=3, val_fraction=0.0, duration_s=1.0))
    stop = threading.Event()
    events = []

    def progress(done: int, total: int, message: str) -> None:
        events.append((done, total, message))
        if message.startswith("encoded") and done == 1:
            stop.set()

    partial = preprocess(records, pipe, "rev-a", tmp_path / "cache", progress=progress, stop=stop)
    assert partial.stopped and partial.encoded == 1
    assert not list((tmp_path / "cache").glob(".*.tmp"))  # nothing half-written
    rest = preprocess(records, pipe, "rev-a", tmp_path / "cache")
    assert (rest.encoded, rest.skipped) == (2, 1)
    assert events[-1][1] == 3
