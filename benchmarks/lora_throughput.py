"""LoRA trainer throughput against a minimal hand-written loop on the same model and batch, side by side.

    python benchmarks/lora_throughput.py               # tiny model on CPU: 4 clips of 2 s, r=4
    python benchmarks/lora_throughput.py --full-size   # GPU only: published turbo DiT (random weights), bf16,
                                                       # 30 s clips, r=64, gradient checkpointing off and on

Both loops step the same PEFT-wrapped transformer with the same precision and the same objective. The trainer is
timed through ``Trainer.train_one_step`` (data order, CPU-generator draws, host-to-device copies, accumulation,
clipping, scheduler, JSONL logging and progress all included); the hand loop keeps one batch resident on the
device and does only forward, backward, clip and AdamW. Rounds alternate (trainer, hand, trainer, hand, ...)
after a warm-up, one step each at a time, so contention hits both equally; the ratio of median step times is
printed (target >= 0.95).

VAE calls are counted by wrapping ``pipe.vae.encode``: preprocessing encodes every clip once, the training steps
(over two or more epochs) and a second preprocessing pass encode nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _clips(folder: Path, count: int, seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 48_000)) / 48_000
    for i in range(count):
        f = 110.0 * (i + 2)
        x = 0.3 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(
            str(folder / f"clip{i}.wav"), np.stack([x, np.roll(x, 100)], axis=1).astype(np.float32), 48_000
        )
        (folder / f"clip{i}.json").write_text(
            f'{{"caption": "elegant lounge jazz, soft piano {i}", "bpm": 96, "key": "F major"}}'
        )
    return folder


def _counting(pipe) -> list[int]:
    calls = [0]
    original = pipe.vae.encode

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    pipe.vae.encode = counted
    return calls


class HandLoop:
    """What a user would write in a notebook: one resident batch, forward, MSE on velocity, backward, step."""

    def __init__(self, transformer, params, batch, lr: float, autocast_dtype):
        self.transformer = transformer
        self.params = params
        self.opt = torch.optim.AdamW(
            params, lr=lr, weight_decay=0.01, fused=True if torch.cuda.is_available() else None
        )
        self.x0, self.ehs, self.ctx = batch
        self.autocast_dtype = autocast_dtype
        self.table = torch.tensor(
            [1.0, 0.954545, 0.9, 0.833333, 0.75, 0.642857, 0.5, 0.3], device=self.x0.device
        )

    def step(self) -> float:
        t = self.table[torch.randint(0, 8, (self.x0.shape[0],), device=self.x0.device)]
        noise = torch.randn_like(self.x0)
        tt = t.view(-1, 1, 1).to(self.x0.dtype)
        x_t = tt * noise + (1 - tt) * self.x0
        with torch.autocast(
            self.x0.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None
        ):
            pred = self.transformer(
                hidden_states=x_t,
                timestep=t.to(self.x0.dtype),
                timestep_r=t.to(self.x0.dtype),
                encoder_hidden_states=self.ehs,
                context_latents=self.ctx,
                return_dict=False,
            )[0]
        loss = F.mse_loss(pred.float(), (noise - self.x0).float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return float(loss.detach())


def _time(fn, steps: int) -> float:
    _sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync()
    return (time.perf_counter() - t0) / steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--full-size", action="store_true", help="published turbo DiT with random weights (needs CUDA)"
    )
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seconds", type=float, help="clip length (default 2 tiny, 30 full-size)")
    ap.add_argument("--rank", type=int, help="LoRA rank (default 4 tiny, 64 full-size)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.full_size and not torch.cuda.is_available():
        print("--full-size needs a CUDA GPU (a 2B-parameter DiT step on a CPU is not a useful measurement)")
        return 2

    from lora.config import load_config
    from lora.dataset import DatasetOptions, build_dataset
    from lora.preprocess import load_entry, preprocess
    from lora.trainer import Trainer
    from workbench.core.tracking import Tracker

    seconds = args.seconds or (30.0 if args.full_size else 2.0)
    rank = args.rank or (64 if args.full_size else 4)
    tmp = Path(tempfile.mkdtemp(prefix="lora-bench-"))
    if args.full_size:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from full_size import build_full_size_pipeline

        pipe = build_full_size_pipeline("cuda", torch.bfloat16, turbo=True)
        revision, mixed = "full-size-random", "bf16"
    else:
        from diffusers import AceStepPipeline

        from workbench.engine.tiny import ensure_tiny

        pipe = AceStepPipeline.from_pretrained(ensure_tiny())
        pipe.set_progress_bar_config(disable=True)
        revision, mixed = "tiny", "no"
    report = build_dataset(
        _clips(tmp / "audio", args.clips, seconds),
        tmp / "ds",
        DatasetOptions(val_fraction=0.0, estimate=False),
    )
    vae_calls = _counting(pipe)
    t0 = time.perf_counter()
    cached = preprocess(report.records, pipe, revision, tmp / "cache", max_duration_s=max(240.0, seconds))
    encode_s = time.perf_counter() - t0
    calls_after_preprocess = vae_calls[0]
    entries = [load_entry(cached.entries[r.id]) for r in report.records]
    if (
        args.full_size
    ):  # the text encoder and VAE are not needed between checkpoints; keep the GPU for the DiT
        pipe.text_encoder.to("cpu")
        pipe.vae.to("cpu")
        torch.cuda.empty_cache()

    cfg = load_config(
        None,
        {
            "name": "bench",
            "model": revision,
            "data": str(tmp / "ds"),
            "out": str(tmp / "run"),
            "rank": rank,
            "alpha": 2 * rank,
            "dropout": 0.0,
            "learning_rate": 1e-4,
            "warmup_steps": 1,
            "mixed_precision": mixed,
            "max_steps": 100_000,
            "gradient_checkpointing": False,
            "tracking": "off",
            "preview": False,
        },
    )
    tracker = Tracker(tmp / "run", name="bench", job_type="benchmark", mode="off")
    trainer = Trainer.from_components(cfg, pipe, entries, variant="turbo", tracker=tracker)
    dev, dt = trainer.accelerator.device, trainer.weight_dtype
    batch = tuple(
        entries[0][k].unsqueeze(0).to(dev, dt)
        for k in ("target_latents", "encoder_hidden_states", "context_latents")
    )
    hand = HandLoop(trainer.model, trainer.params, batch, 1e-4, torch.bfloat16 if mixed == "bf16" else None)

    configs = [False, True] if args.full_size else [False]
    rows = []
    for checkpointing in configs:
        if checkpointing:
            pipe.transformer.enable_gradient_checkpointing()
        else:
            pipe.transformer.disable_gradient_checkpointing()
        for _ in range(3):  # warm-up: allocator, kernels, autotuning
            trainer.train_one_step()
            hand.step()
        trainer_s, hand_s = [], []
        for _ in range(args.rounds):
            for _ in range(args.steps):  # step by step alternation: load spikes on a shared machine hit both
                trainer_s.append(_time(trainer.train_one_step, 1))
                hand_s.append(_time(hand.step, 1))
        peak_gib = float("nan")
        if torch.cuda.is_available():
            # Peak memory of the trainer alone: drop the hand loop's AdamW state (re-created on its next step).
            hand.opt.state.clear()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            _time(trainer.train_one_step, 3)
            peak_gib = torch.cuda.max_memory_allocated() / 2**30
        t_med, h_med = statistics.median(trainer_s), statistics.median(hand_s)
        rows.append((checkpointing, t_med, h_med, peak_gib))

    epochs_run = trainer.epoch + trainer.batch_index / trainer.batches_per_epoch
    calls_in_training = vae_calls[0] - calls_after_preprocess
    again = preprocess(report.records, pipe, revision, tmp / "cache", max_duration_s=max(240.0, seconds))
    calls_second_pass = vae_calls[0] - calls_after_preprocess - calls_in_training

    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    latents = entries[0]["target_latents"].shape
    n_lora = sum(p.numel() for p in trainer.params)
    print(
        f"device: {device}; model: {'full-size turbo DiT, random weights, bf16' if args.full_size else 'tiny, fp32'}"
    )
    print(
        f"clips: {args.clips} x {seconds:g} s (latents {tuple(latents)}); LoRA r={rank}, alpha={2 * rank}, "
        f"{n_lora:,} trainable parameters; steps per round {args.steps}, rounds {args.rounds}"
    )
    print(f"preprocessing: {calls_after_preprocess} VAE encodes for {args.clips} clips in {encode_s:.1f} s")
    print(
        f"training: {trainer.step} trainer steps = {epochs_run:.1f} epochs, VAE encodes during training: "
        f"{calls_in_training}; second preprocessing pass: {again.skipped} cached, {calls_second_pass} VAE encodes"
    )
    print()
    print(
        "| grad. checkpointing | trainer s/step | hand loop s/step | trainer / hand steps/s | peak CUDA memory |"
    )
    print("|---|---:|---:|---:|---:|")
    for checkpointing, t_med, h_med, peak in rows:
        mem = f"{peak:.1f} GiB" if peak == peak else "n/a (CPU)"
        print(
            f"| {'on' if checkpointing else 'off'} | {t_med:.4f} | {h_med:.4f} | {h_med / t_med:.3f}x | {mem} |"
        )
    tracker.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
