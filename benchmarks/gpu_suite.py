"""One command for a lent H100/H200: full-size ACE-Step 1.5 turbo and base, random weights, timed end to end.

    python benchmarks/gpu_suite.py                      # GPU: full size, bf16, writes gpu_suite.json + .md
    python benchmarks/gpu_suite.py --toy                # anywhere (CPU here): same code paths at toy size
    python benchmarks/gpu_suite.py --budget-s 420       # stop starting new measurements after 7 minutes

The architectures are built through the converter's own config translation
(``workbench.engine.checkpoint_keys.translate_config``) from an original-layout config.json with the published
2B geometry, so the sizes are the ones a converted official checkpoint gets. Speed and memory do not depend on
weight values, so random weights measure what real ones would.

Measured (each row in the JSON and the Markdown table):
- wall time for 60 s and 240 s songs, split into DiT (denoising incl. text/condition encoding) and VAE decode:
  turbo at 8 steps / shift 3 (no CFG), base at its preset (50 steps, shift 1, guidance 7 -> APG, doubled batch);
- turbo 60 s with ``torch.compile`` of the DiT (compile time reported separately), and with each attention
  backend that loads (SDPA ``native``, ``_native_flash``, ``flash`` when flash-attn is installed);
- batch 1/4/8 throughput (turbo, 60 s), songs per minute and x real time;
- one LoRA training step at r=64 on a 30 s clip (forward + backward + AdamW on the turbo DiT);
- peak VRAM (``torch.cuda.max_memory_allocated``) for every row.
At --toy size the durations shrink (60 -> 4 s, 240 -> 8 s, 30 -> 4 s) and compile is skipped unless --compile.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from workbench.engine import checkpoint_keys as keys  # noqa: E402

# The published 2B DiT geometry as it appears in an original config.json (AceStepConfig defaults of the turbo
# release; the same numbers are diffusers' AceStepTransformer1DModel/AceStepConditionEncoder defaults,
# huggingface/diffusers@58eb52c:src/diffusers/models/transformers/ace_step_transformer.py).
FULL_2B = {
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "in_channels": 192,
    "audio_acoustic_hidden_dim": 64,
    "patch_size": 2,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
    "sliding_window": 128,
    "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(24)],
    "text_hidden_dim": 1024,
    "timbre_hidden_dim": 64,
    "num_lyric_encoder_hidden_layers": 8,
    "num_timbre_encoder_hidden_layers": 4,
    "fsq_dim": 2048,
}
TOY = {
    **FULL_2B,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "in_channels": 24,
    "audio_acoustic_hidden_dim": 8,
    "sliding_window": 16,
    "layer_types": ["sliding_attention", "full_attention"],
    "text_hidden_dim": 32,
    "timbre_hidden_dim": 8,
    "num_lyric_encoder_hidden_layers": 1,
    "num_timbre_encoder_hidden_layers": 1,
    "fsq_dim": 64,
}
# ACE-Step's presets as the registry carries them (configs/models.yaml, sourced there).
PRESETS = {"turbo": dict(steps=8, shift=3.0, guidance=1.0), "base": dict(steps=50, shift=1.0, guidance=7.0)}


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_gb() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def build(original: dict[str, Any], turbo: bool, device: str, dtype: torch.dtype, toy: bool) -> Any:
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
    )
    from transformers import Qwen3Config, Qwen3Model

    from workbench.engine.tiny import _tokenizer

    cfg = keys.translate_config(
        {**original, "is_turbo": turbo, "model_version": "turbo" if turbo else "base"}
    )
    torch.manual_seed(0)
    tokenizer = _tokenizer()
    dim = original["audio_acoustic_hidden_dim"]
    with torch.device(device):
        text = Qwen3Config(  # Qwen3-Embedding-0.6B geometry at full size
            vocab_size=len(tokenizer) if toy else 151_669,
            hidden_size=original["text_hidden_dim"],
            intermediate_size=64 if toy else 3072,
            num_hidden_layers=1 if toy else 28,
            num_attention_heads=4 if toy else 16,
            num_key_value_heads=2 if toy else 8,
            head_dim=8 if toy else 128,
            max_position_embeddings=32_768,
            rope_theta=1_000_000.0,
        )
        vae = AutoencoderOobleck(
            encoder_hidden_size=2 * dim,
            downsampling_ratios=[2, 4, 4, 6, 10],
            channel_multiples=[1, 1, 1, 1, 1] if toy else [1, 2, 4, 8, 16],
            decoder_channels=4 if toy else 128,
            decoder_input_channels=dim,
            audio_channels=2,
            sampling_rate=48_000,
        )
        pipe = AceStepPipeline(
            vae=vae,
            text_encoder=Qwen3Model(text),
            tokenizer=tokenizer,
            transformer=AceStepTransformer1DModel(**cfg[keys.TRANSFORMER]),
            condition_encoder=AceStepConditionEncoder(**cfg[keys.CONDITION_ENCODER]),
            scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
            audio_tokenizer=AceStepAudioTokenizer(**cfg[keys.AUDIO_TOKENIZER]),
            audio_token_detokenizer=AceStepAudioTokenDetokenizer(**cfg[keys.AUDIO_TOKEN_DETOKENIZER]),
        )
    pipe.to(dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_counts(pipe: Any) -> dict[str, int]:
    names = (
        "transformer",
        "condition_encoder",
        "audio_tokenizer",
        "audio_token_detokenizer",
        "text_encoder",
        "vae",
    )
    return {n: sum(p.numel() for p in getattr(pipe, n).parameters()) for n in names}


def generate(pipe: Any, variant: str, duration_s: float, batch: int) -> dict[str, float]:
    p = PRESETS[variant]
    generator = [torch.Generator("cpu").manual_seed(i) for i in range(batch)]
    _sync()
    t0 = time.perf_counter()
    latents = pipe(
        prompt=["upbeat modern pop, bright synths"] * batch,
        lyrics=["[Instrumental]"] * batch,
        audio_duration=duration_s,
        num_inference_steps=p["steps"],
        guidance_scale=p["guidance"],
        shift=p["shift"],
        generator=generator,
        output_type="latent",
    ).audios
    _sync()
    t1 = time.perf_counter()
    with torch.no_grad():
        pipe.vae.decode(latents.transpose(1, 2).to(pipe.vae.dtype))
    _sync()
    t2 = time.perf_counter()
    wall = t2 - t0
    return {
        "dit_s": t1 - t0,
        "vae_decode_s": t2 - t1,
        "wall_s": wall,
        "x_realtime": batch * duration_s / wall,
        "songs_per_min": 60.0 * batch / wall,
    }


def lora_step(pipe: Any, clip_s: float, rank: int) -> dict[str, float]:
    from peft import LoraConfig

    from lora.objective import flow_matching_loss

    transformer = pipe.transformer
    transformer.requires_grad_(False)
    transformer.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"]),
        adapter_name="bench",
    )
    params = [p for n, p in transformer.named_parameters() if "lora_" in n]
    for p in params:
        p.data = p.data.float()
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    cfg = transformer.config
    frames = int(clip_s * 25)
    device, dtype = transformer.device, transformer.dtype
    dim = cfg.audio_acoustic_hidden_dim
    x0 = torch.randn(1, frames, dim, device=device, dtype=dtype)
    context = torch.randn(1, frames, cfg.in_channels - dim, device=device, dtype=dtype)
    cond = torch.randn(1, 256, cfg.encoder_hidden_size or cfg.hidden_size, device=device, dtype=dtype)
    t = torch.rand(1, device=device)
    times = []
    for _ in range(3):  # the first step pays allocator warm-up; report the median of the last two
        _sync()
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = flow_matching_loss(transformer, x0, cond, context, t, torch.randn_like(x0))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync()
        times.append(time.perf_counter() - t0)
    transformer.delete_adapters("bench")
    return {"step_s": sorted(times[1:])[0], "trainable_params": float(sum(p.numel() for p in params))}


class Suite:
    def __init__(self, budget_s: float) -> None:
        self.started = time.perf_counter()
        self.budget_s = budget_s
        self.rows: list[dict[str, Any]] = []

    def measure(self, name: str, fn: Callable[[], dict[str, float]], **labels: Any) -> None:
        row: dict[str, Any] = {"name": name, **labels}
        if time.perf_counter() - self.started > self.budget_s:
            row["skipped"] = "time budget used up"
        else:
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            try:
                row.update(fn())
            except Exception as exc:  # a backend or compile failure is a result to report, not a crash
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            row["peak_vram_gb"] = _peak_gb()
        self.rows.append(row)
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
        print(json.dumps(shown), flush=True)


def _attention_backends(pipe: Any) -> list[str]:
    if not torch.cuda.is_available():
        return ["native"]
    names = ["native", "_native_flash", "_native_cudnn"]
    try:
        import flash_attn  # noqa: F401

        names.append("flash")
    except ImportError:
        pass
    return names


def _variant_rows(
    suite: Suite, pipe: Any, variant: str, sizes: tuple[float, float, float], compile_too: bool
) -> None:
    short, long, clip = sizes
    preset = PRESETS[variant]
    for duration in (short, long):
        suite.measure(
            "song",
            lambda d=duration: generate(pipe, variant, d, 1),
            variant=variant,
            duration_s=duration,
            batch=1,
            **preset,
        )
    if variant != "turbo":
        return
    for batch in (1, 4, 8):
        suite.measure(
            "batch",
            lambda b=batch: generate(pipe, variant, short, b),
            variant=variant,
            duration_s=short,
            batch=batch,
            **preset,
        )
    for backend in _attention_backends(pipe):

        def with_backend(name: str = backend) -> dict[str, float]:
            pipe.transformer.set_attention_backend(name)
            try:
                generate(pipe, variant, 2.0, 1)
                return generate(pipe, variant, short, 1)
            finally:
                pipe.transformer.set_attention_backend("native")

        suite.measure("attention", with_backend, variant=variant, duration_s=short, backend=backend, **preset)
    if compile_too:

        def compiled() -> dict[str, float]:
            eager = pipe.transformer
            pipe.transformer = torch.compile(eager, dynamic=False)
            try:
                t = time.perf_counter()
                generate(pipe, variant, short, 1)  # this call compiles
                compile_s = time.perf_counter() - t
                return {**generate(pipe, variant, short, 1), "compile_s": compile_s}
            finally:
                pipe.transformer = eager

        suite.measure("torch.compile", compiled, variant=variant, duration_s=short, batch=1, **preset)
    suite.measure("lora step r=64", lambda: lora_step(pipe, clip, 64), variant=variant, clip_s=clip)


def run(args: argparse.Namespace) -> dict[str, Any]:
    cuda = torch.cuda.is_available() and not args.cpu
    if not cuda and not args.toy:
        raise SystemExit("no CUDA GPU here: run with --toy (same code paths at toy size) or on a GPU machine")
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    original = TOY if args.toy else FULL_2B
    short, long, clip = (4.0, 8.0, 4.0) if args.toy else (60.0, 240.0, 30.0)
    suite = Suite(args.budget_s)
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": torch.cuda.get_device_name(0)
        if cuda
        else f"{platform.processor() or platform.machine()} CPU",
        "torch": torch.__version__,
        "size": "toy" if args.toy else "full (2B DiT)",
        "dtype": str(dtype).removeprefix("torch."),
    }
    for variant in ("turbo", "base"):
        t0 = time.perf_counter()
        pipe = build(original, variant == "turbo", device, dtype, args.toy)
        meta[f"build_{variant}_s"] = time.perf_counter() - t0
        meta[f"params_{variant}"] = parameter_counts(pipe)
        generate(pipe, variant, 2.0, 1)  # warm-up: kernels, allocator
        _variant_rows(suite, pipe, variant, (short, long, clip), compile_too=cuda or args.compile)
        del pipe
        if cuda:
            torch.cuda.empty_cache()
    meta["total_s"] = time.perf_counter() - suite.started
    return {"meta": meta, "rows": suite.rows}


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [
        f"GPU suite, {m['date']}, {m['machine']}, torch {m['torch']}, {m['size']}, {m['dtype']}, total {m['total_s']:.0f} s",
        "",
        "| measurement | variant | audio s | batch | steps | DiT s | VAE decode s | wall s | x real time | peak VRAM GB | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def f(v: Any, p: int = 2) -> str:
        return f"{v:.{p}f}" if isinstance(v, float) else ("" if v is None else str(v))

    for r in result["rows"]:
        name = r["name"] + (f" ({r['backend']})" if "backend" in r else "")
        note = (
            r.get("error")
            or r.get("skipped")
            or (f"compile {r['compile_s']:.0f} s" if "compile_s" in r else "")
        )
        if "step_s" in r:
            note = note or f"step {r['step_s']:.3f} s, {int(r['trainable_params']):,} trainable"
        lines.append(
            f"| {name} | {r.get('variant', '')} | {f(r.get('duration_s', r.get('clip_s')), 0)} | {r.get('batch', '')} "
            f"| {r.get('steps', '')} | {f(r.get('dit_s'))} | {f(r.get('vae_decode_s'))} | {f(r.get('wall_s'))} "
            f"| {f(r.get('x_realtime'), 1)} | {f(r.get('peak_vram_gb'))} | {note} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--toy", action="store_true", help="toy-size architecture (runs on CPU)")
    parser.add_argument(
        "--cpu", action="store_true", help="run on the CPU even if a GPU is present (needs --toy)"
    )
    parser.add_argument("--compile", action="store_true", help="also time torch.compile off-GPU")
    parser.add_argument(
        "--budget-s", type=float, default=450.0, help="start no new measurement after this many s"
    )
    parser.add_argument("--out", default="gpu_suite", help="output path stem: writes STEM.json and STEM.md")
    args = parser.parse_args(argv)
    result = run(args)
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    stem.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
