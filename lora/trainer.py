"""The LoRA trainer: accelerate + PEFT on the ACE-Step DiT, flow-matching objective, resumable checkpoints.

``train(config, progress=..., stop=threading.Event())`` runs a whole job (preprocess, train, evaluate, save) and
can be called from a UI thread; ``accelerate launch -m workbench.cli.main lora train ...`` runs the same code on
several GPUs or nodes. Data order and every random draw (timesteps, noise, condition dropout) come from seeded
CPU generators whose state is checkpointed, so a run killed with SIGKILL and resumed draws exactly what it would
have drawn without the kill.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lora import checkpoints as ck
from lora.analysis import mean_features
from lora.config import TrainConfig
from lora.dataset import dataset_summary, load_records
from lora.evaluate import audio_metrics, render_previews, validation_loss, validation_timesteps
from lora.model import attach_lora, load_adapter_into, load_training_pipeline, resolve_variant, save_adapter
from lora.objective import (
    apply_condition_dropout,
    condition_dropout_mask,
    flow_matching_loss,
    sample_timesteps,
)
from lora.outputs import checkpoint_rows, write_run_outputs
from lora.preprocess import load_entry, preprocess
from workbench.core.errors import InputError


@dataclass
class TrainProgress:
    """What a UI or the CLI shows: phase is preprocess | train | checkpoint | done | stopped."""

    phase: str
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    message: str = ""


ProgressFn = Callable[[TrainProgress], None]


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    total_steps: int
    stopped: bool
    best_dir: Path | None
    final_dir: Path | None
    best_step: int | None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    main_process: bool = True  # False on the other ranks of a multi-process run, which write nothing


def lr_lambda(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """The official trainer's schedule: linear warm-up from 10 %, then one cosine decay to 1 % of the peak."""
    warm = min(warmup_steps, max(1, total_steps // 10))

    def factor(step: int) -> float:
        if step < warm:
            return 0.1 + 0.9 * step / warm
        span = max(1, total_steps - warm)
        return 0.01 + 0.99 * (1 + math.cos(math.pi * min(1.0, (step - warm) / span))) / 2

    return factor


def collate(entries: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Zero-pad to the longest clip and condition (the official collate); the DiT has no masks."""

    def pad(key: str) -> torch.Tensor:
        items = [e[key] for e in entries]
        length = max(x.shape[0] for x in items)
        out = torch.zeros(len(items), length, items[0].shape[-1])
        for i, x in enumerate(items):
            out[i, : x.shape[0]] = x
        return out

    return {k: pad(k) for k in ("target_latents", "encoder_hidden_states", "context_latents")}


class Trainer:
    """One run. ``run()`` does everything; the attributes stay inspectable afterwards (tests, notebooks)."""

    def __init__(
        self, config: TrainConfig, progress: ProgressFn | None = None, stop: threading.Event | None = None
    ):
        config.validate()
        if not config.data:
            raise InputError(
                "data", config.data, "give the dataset folder (from `workbench lora prepare`) with --data"
            )
        self.cfg = config
        self.data_dir = Path(config.data)
        self.progress = progress
        self.stop = stop or threading.Event()
        self.run_dir = Path(config.out) if config.out else ck.lora_root() / config.name
        self.pipe: Any = None
        self.tracker: Any = None
        self.history: list[dict[str, Any]] = []
        self.reference_features: dict[str, float] | None = None

    # -- setup -------------------------------------------------------------------------------------------
    def _emit(self, **kw: Any) -> None:
        if self.progress is not None and self.accelerator.is_main_process:
            self.progress(TrainProgress(**kw))

    def _setup(self, resume: bool) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        cfg = self.cfg
        mixed = cfg.mixed_precision if torch.cuda.is_available() else "no"
        self.accelerator = Accelerator(mixed_precision=mixed)
        acc = self.accelerator
        existing = ck.latest_checkpoint(self.run_dir)
        if existing is not None and not resume:
            raise InputError(
                "out", str(self.run_dir), "already holds checkpoints; pass --resume or choose another --out"
            )
        set_seed(cfg.seed)
        dtype = {"no": "fp32", "bf16": "bf16", "fp16": "fp16"}[mixed]
        self.pipe, self.model_info = load_training_pipeline(cfg.model, device=str(acc.device), dtype=dtype)
        self.pipe.set_progress_bar_config(disable=True)
        self.variant = resolve_variant(cfg, self.model_info, self.pipe)
        self.cfg_dropout = (
            cfg.cfg_dropout if cfg.cfg_dropout is not None else (0.0 if self.variant == "turbo" else 0.15)
        )
        self.weight_dtype = self.pipe.transformer.dtype
        records = load_records(self.data_dir)
        self.train_records = [r for r in records if r.split == "train"]
        self.val_records = [r for r in records if r.split == "validation"]
        if not self.train_records:
            raise InputError("data", cfg.data, "the dataset has no training clips; see its report.txt")
        self._encode(records)
        if self.preprocess_result.stopped:
            return
        self._prepare_optimisation()
        if existing is not None:
            self._restore(existing)

    def _prepare_optimisation(self) -> None:
        """Attach the LoRA, build optimizer and schedule, wrap for accelerate. Needs pipe and train_entries."""
        cfg, acc = self.cfg, self.accelerator
        self.params = attach_lora(self.pipe, cfg)
        if cfg.gradient_checkpointing:
            self.pipe.transformer.enable_gradient_checkpointing()
        fused = acc.device.type == "cuda"
        optimizer = torch.optim.AdamW(
            self.params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=fused or None
        )
        world = acc.num_processes
        self.shard = math.ceil(len(self.train_entries) / world)
        self.batches_per_epoch = math.ceil(self.shard / cfg.batch_size)
        self.total_steps = cfg.max_steps or cfg.epochs * math.ceil(
            self.batches_per_epoch / cfg.grad_accum_steps
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(cfg.warmup_steps, self.total_steps)
        )
        # The scheduler is deliberately not prepared: accelerate would step it once per process.
        self.mixed = acc.mixed_precision
        if self.mixed == "fp16":  # the wrapped optimizer applies the loss scaler
            self.model, self.optimizer = acc.prepare(self.pipe.transformer, optimizer)
        else:
            # bf16/fp32 need no loss scaling, and accelerate's optimizer wrapper costs ~2 ms a step in Python
            # (package and signature checks), so only the model is wrapped (DDP across processes).
            self.model = acc.prepare(self.pipe.transformer)
            self.optimizer = optimizer
        precision = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.mixed)
        self.autocast: Callable[[], Any] = (
            (lambda: torch.autocast(acc.device.type, dtype=precision))
            if precision is not None
            else contextlib.nullcontext
        )
        self.generator = torch.Generator("cpu").manual_seed(cfg.seed + 1000 * acc.process_index)
        self.step, self.epoch, self.batch_index = 0, 0, 0

    @classmethod
    def from_components(
        cls,
        config: TrainConfig,
        pipe: Any,
        train_entries: list[dict[str, Any]],
        variant: str,
        tracker: Any = None,
    ) -> Trainer:
        """A ready-to-step trainer around an already built pipeline (or any object with ``transformer`` and
        ``condition_encoder.null_condition_emb``) and already encoded entries. Used by benchmarks/lora_throughput.py
        to time the real training step on a full-size random DiT without weights or a dataset."""
        from accelerate import Accelerator

        config.validate()
        self = cls.__new__(cls)
        self.cfg, self.progress, self.stop, self.history = config, None, threading.Event(), []
        self.reference_features = None
        self.run_dir = Path(config.out or ".")
        self.accelerator = Accelerator(
            mixed_precision=config.mixed_precision if torch.cuda.is_available() else "no"
        )
        self.pipe, self.variant, self.tracker = pipe, variant, tracker
        self.cfg_dropout = (
            config.cfg_dropout if config.cfg_dropout is not None else (0.0 if variant == "turbo" else 0.15)
        )
        self.weight_dtype = pipe.transformer.dtype
        self.train_entries, self.val_entries = train_entries, []
        self._prepare_optimisation()
        return self

    def _encode(self, records: list[Any]) -> None:
        cfg = self.cfg
        cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else self.data_dir / "cache"

        def report(done: int, total: int, message: str) -> None:
            self._emit(phase="preprocess", step=done, total_steps=total, message=message)

        with self.accelerator.main_process_first():  # rank 0 encodes; the others then find everything cached
            result = preprocess(
                records,
                self.pipe,
                self.model_info.revision,
                cache_dir,
                max_duration_s=cfg.max_duration_s,
                progress=report,
                stop=self.stop,
            )
        self.preprocess_result = result
        if result.stopped:
            return
        self.train_entries = [
            load_entry(result.entries[r.id]) for r in self.train_records if r.id in result.entries
        ]
        self.val_entries = [
            load_entry(result.entries[r.id]) for r in self.val_records if r.id in result.entries
        ]
        if not self.train_entries:
            raise InputError("data", cfg.data, "no training clip could be encoded; see the issues reported")

    # -- data order -------------------------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> list[int]:
        """The same permutation on every rank (seeded by epoch); each rank takes its strided shard."""
        acc = self.accelerator
        perm = torch.randperm(
            len(self.train_entries), generator=torch.Generator().manual_seed(self.cfg.seed + epoch)
        )
        order = perm.tolist()
        while len(order) < self.shard * acc.num_processes:  # equal shards keep the ranks in step
            order += order[: self.shard * acc.num_processes - len(order)]
        return order[acc.process_index :: acc.num_processes]

    def _next_batch(self) -> dict[str, torch.Tensor]:
        order = self._epoch_order(self.epoch)
        bs = self.cfg.batch_size
        idx = order[self.batch_index * bs : (self.batch_index + 1) * bs]
        self.batch_index += 1
        if self.batch_index >= self.batches_per_epoch:
            self.epoch, self.batch_index = self.epoch + 1, 0
        return collate([self.train_entries[i] for i in idx])

    # -- one optimizer step -----------------------------------------------------------------------------
    def _micro_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg, dev, dt = self.cfg, self.accelerator.device, self.weight_dtype
        x0 = batch["target_latents"].to(dev, dt)
        ehs = batch["encoder_hidden_states"].to(dev, dt)
        ctx = batch["context_latents"].to(dev, dt)
        b = x0.shape[0]
        t = sample_timesteps(
            b,
            self.variant,
            self.generator,
            mu=cfg.timestep_mu,
            sigma=cfg.timestep_sigma,
            turbo_shift=cfg.turbo_shift,
        )
        drop = condition_dropout_mask(b, self.cfg_dropout, self.generator)
        noise = torch.randn(x0.shape, generator=self.generator).to(dev, dt)
        null = self.pipe.condition_encoder.null_condition_emb
        ehs = apply_condition_dropout(ehs, null, drop)
        with self.autocast():
            return flow_matching_loss(self.model, x0, ehs, ctx, t.to(dev), noise)

    def _train_step(self) -> tuple[float, float]:
        acc, accum = self.accelerator, self.cfg.grad_accum_steps
        if not self.model.training:  # train() walks every submodule; only pay for it after an evaluation
            self.model.train()
        total = 0.0
        for micro in range(accum):
            batch = self._next_batch()
            sync = micro == accum - 1
            ctx = acc.no_sync(self.model) if not sync else contextlib.nullcontext()
            with ctx:
                loss = self._micro_loss(batch)
                acc.backward(loss / accum)
            total += float(loss.detach()) / accum
        if self.mixed == "fp16":
            acc.unscale_gradients()
        # torch's own clip: accelerate's wrapper re-checks installed packages on every call (~1 ms on a CPU)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return total, float(grad_norm) if grad_norm is not None else float("nan")

    # -- checkpoints --------------------------------------------------------------------------------------
    def _restore(self, ckpt: ck.CheckpointInfo) -> None:
        state = ck.load_state(ckpt.path / ck.STATE_FILE)
        load_adapter_into(self.pipe.transformer, ckpt.path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.batch_index = state["step"], state["epoch"], state["batch_index"]
        self.history = state.get("history", [])
        rank_file = ckpt.path / f"rng_rank{self.accelerator.process_index}.pt"
        rng = ck.load_state(rank_file)
        self.generator.set_state(rng["generator"])
        ck.restore_rng_state(rng["global"])
        if state.get("total_steps") != self.total_steps:
            raise InputError(
                "max_steps",
                self.total_steps,
                f"differs from the interrupted run's {state.get('total_steps')}; resume with the same schedule",
            )

    def _evaluate(self, folder: Path) -> dict[str, Any]:
        cfg = self.cfg
        ts = validation_timesteps(
            self.variant, cfg.val_timesteps, cfg.timestep_mu, cfg.timestep_sigma, cfg.turbo_shift
        )
        metrics: dict[str, Any] = {
            "step": self.step,
            "lr": self.scheduler.get_last_lr()[0],
            "val_loss": validation_loss(
                self.pipe.transformer,
                self.val_entries,
                ts,
                self.accelerator.device,
                self.weight_dtype,
                self.accelerator.autocast,
            ),
        }
        recent = [h["loss"] for h in self.history[-20:]]
        metrics["train_loss"] = sum(recent) / len(recent) if recent else None
        if cfg.preview:
            info = self.model_info
            prompts = self.preview_prompts()
            steps = cfg.preview_steps or info.steps
            kw = dict(
                duration_s=cfg.preview_duration_s,
                steps=steps,
                guidance_scale=info.guidance_scale,
                shift=info.shift,
            )
            base_dir = self.run_dir / "previews_base"
            if not base_dir.exists():  # the base model never changes, so its previews are rendered once
                render_previews(self.pipe, base_dir, prompts, cfg.preview_seeds, [0.0], **kw)
            previews = render_previews(
                self.pipe, folder / "previews", prompts, cfg.preview_seeds, [1.0], **kw
            )
            metrics["previews"] = [str(p.path.relative_to(folder)) for p in previews]
            metrics["preview_prompts"] = [p.prompt for p in previews]
            if self.reference_features is None:  # the training clips' features, measured once per run
                self.reference_features = mean_features([Path(r.audio_path) for r in self.train_records])
            metrics.update(audio_metrics(previews, sorted(base_dir.glob("*.wav")), self.reference_features))
        return metrics

    def preview_prompts(self) -> list[str]:
        """The configured prompts, else the dataset's first two distinct captions (trigger tag included)."""
        return self.cfg.preview_prompts or list(dict.fromkeys(r.caption for r in self.train_records))[:2]

    def _checkpoint(self) -> dict[str, Any] | None:
        acc = self.accelerator
        self._emit(
            phase="checkpoint", step=self.step, total_steps=self.total_steps, message="saving checkpoint"
        )
        tmp = self.run_dir / ck.CHECKPOINTS / f".{ck.checkpoint_name(self.step)}.tmp"
        if acc.is_main_process:
            tmp = ck.begin_checkpoint(self.run_dir, self.step)
        acc.wait_for_everyone()
        metrics: dict[str, Any] = {}
        if acc.is_main_process:
            metrics = self._evaluate(tmp)
            save_adapter(self.pipe.transformer, tmp)
            (tmp / ck.METRICS_FILE).write_text(json.dumps(metrics, indent=2))
            self.tracker.log(
                {k: v for k, v in metrics.items() if k in ("val_loss",) or k.startswith("eval/")},
                step=self.step,
            )
        acc.wait_for_everyone()
        # RNG states are saved after evaluation, so the continuation is identical whether or not the run was killed.
        torch.save(
            {"generator": self.generator.get_state(), "global": ck.rng_state()},
            tmp / f"rng_rank{acc.process_index}.pt",
        )
        acc.wait_for_everyone()
        if acc.is_main_process:
            torch.save(
                {
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "step": self.step,
                    "epoch": self.epoch,
                    "batch_index": self.batch_index,
                    "total_steps": self.total_steps,
                    "history": self.history,
                    "config": self.cfg.to_dict(),
                },
                tmp / ck.STATE_FILE,
            )
            final = ck.commit_checkpoint(tmp, self.step)
            for rel, prompt in zip(
                metrics.get("previews", []), metrics.get("preview_prompts", []), strict=True
            ):
                self.tracker.log_audio(
                    f"preview/{Path(rel).stem}", final / rel, caption=prompt, step=self.step
                )
        acc.wait_for_everyone()
        return metrics

    # -- the run --------------------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainResult:
        from workbench.core.tracking import Tracker

        self._setup(resume)
        acc = self.accelerator
        if self.preprocess_result.stopped:
            return TrainResult(self.run_dir, 0, 0, True, None, None, None)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if acc.is_main_process:
            self.tracker = Tracker(
                self.run_dir,
                project=self.cfg.project,
                name=self.cfg.name,
                job_type="lora-train",
                config=self.cfg.to_dict(),
                mode=self.cfg.tracking,
            )
            (self.run_dir / "config.yaml").write_text(self.cfg.to_yaml())
        try:
            stopped = self._loop()
            return self._finish(stopped)
        finally:
            if self.tracker is not None:
                self.tracker.finish()

    def _loop(self) -> bool:
        cfg = self.cfg
        window_start, window_steps = time.perf_counter(), 0
        while self.step < self.total_steps:
            if self._stop_requested():
                self._checkpoint()
                return True
            self.train_one_step(window_start, window_steps)
            window_steps += 1
            if self.step % cfg.checkpoint_every == 0 or self.step == self.total_steps:
                self._checkpoint()
                window_start, window_steps = time.perf_counter(), 0
        return False

    def train_one_step(self, window_start: float | None = None, window_steps: int = 0) -> float:
        """One optimizer step with its logging; returns the loss. The unit benchmarks/lora_throughput.py times."""
        cfg, acc = self.cfg, self.accelerator
        loss, grad_norm = self._train_step()
        lr = self.scheduler.get_last_lr()[0]
        self.history.append({"step": self.step, "loss": loss})
        elapsed = time.perf_counter() - window_start if window_start is not None else 0.0
        rate = (window_steps + 1) / elapsed if elapsed > 0 else 0.0
        if acc.is_main_process and self.tracker is not None:
            samples = rate * cfg.batch_size * cfg.grad_accum_steps * acc.num_processes
            self.tracker.log(
                {
                    "train/loss": loss,
                    "train/lr": lr,
                    "train/grad_norm": grad_norm,
                    "train/steps_per_s": rate,
                    "train/samples_per_s": samples,
                    "train/epoch": self.epoch,
                },
                step=self.step,
            )
        self._emit(phase="train", step=self.step, total_steps=self.total_steps, loss=loss, lr=lr)
        return loss

    def _stop_requested(self) -> bool:
        flag = torch.tensor(1.0 if self.stop.is_set() else 0.0, device=self.accelerator.device)
        return bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)  # every rank stops together

    def _finish(self, stopped: bool) -> TrainResult:
        result = TrainResult(self.run_dir, self.step, self.total_steps, stopped, None, None, None)
        if not self.accelerator.is_main_process:
            result.main_process = False
            return result
        if stopped:
            result.checkpoints = checkpoint_rows(self.run_dir)
            self._emit(
                phase="stopped", step=self.step, total_steps=self.total_steps, message="stopped; resume later"
            )
            return result
        out = write_run_outputs(
            self.run_dir,
            self.pipe.transformer,
            self.cfg,
            model=self.model_info.to_dict(),
            dataset=dataset_summary(self.data_dir),
            variant=self.variant,
            step=self.step,
            total_steps=self.total_steps,
            preview_prompts=self.preview_prompts(),
            tracker=self.tracker,
        )
        result.checkpoints, result.final_dir, result.best_dir, result.best_step = (
            out.checkpoints,
            out.final_dir,
            out.best_dir,
            out.best_step,
        )
        self._emit(
            phase="done", step=self.step, total_steps=self.total_steps, message=f"best: step {out.best_step}"
        )
        return result


def train(
    config: TrainConfig,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
) -> TrainResult:
    """Run one LoRA job; safe to call from a worker thread. Set ``stop`` to checkpoint and return early."""
    return Trainer(config, progress=progress, stop=stop).run(resume=resume)
