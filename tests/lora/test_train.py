"""The LoRA trainer on the tiny pipeline with generated audio: it learns, it touches only LoRA weights, its
adapter reloads in a fresh process, and a killed run resumes on the same schedule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from lora import checkpoints as ck
from lora.evaluate import select_best, validation_loss, validation_timesteps
from lora.trainer import Trainer, TrainProgress, train
from workbench.core.errors import InputError
from workbench.core.tracking import read_mirror

ROOT = Path(__file__).resolve().parents[2]
ALL_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "gate_proj", "up_proj", "down_proj"]
TRAINED = dict(
    max_steps=60,
    learning_rate=0.02,
    rank=8,
    alpha=16,
    target_modules=ALL_TARGETS,
    checkpoint_every=20,
    preview=True,
    preview_duration_s=1.0,
)
RESUME = dict(max_steps=60, checkpoint_every=5)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Bit-identical losses across processes need the same reduction order; one thread also keeps a shared
    # CPU from thrashing.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tiny_model_dir: Path, build_small_dataset) -> Path:
    return build_small_dataset(tmp_path_factory.mktemp("lora"), n=4, val_fraction=0.25)


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory, tiny_config):
    out = tmp_path_factory.mktemp("run") / "hotel"
    events: list[TrainProgress] = []
    trainer = Trainer(tiny_config(data_dir, out, **TRAINED), progress=events.append)
    result = trainer.run()
    return trainer, result, events


def _pipe_latents(pipe, prompt: str, scale: float | None) -> np.ndarray:
    kwargs = {} if scale is None else {"attention_kwargs": {"scale": scale}}
    pipe.transformer.eval()
    out = pipe(
        prompt=prompt,
        lyrics="[Instrumental]",
        audio_duration=1.0,
        num_inference_steps=4,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(3),
        output_type="latent",
        **kwargs,
    ).audios
    return out.float().numpy()


def test_overfitting_a_few_clips_lowers_the_loss_markedly(trained) -> None:
    trainer, result, _ = trained
    assert result.steps == 60 and not result.stopped
    ts = validation_timesteps("turbo", 8, -0.4, 1.0, 3.0)
    transformer = trainer.pipe.transformer
    after = validation_loss(transformer, trainer.train_entries, ts, torch.device("cpu"), torch.float32)
    transformer.disable_adapters()  # LoRA B starts at zero, so the base model is the starting point
    try:
        before = validation_loss(transformer, trainer.train_entries, ts, torch.device("cpu"), torch.float32)
    finally:
        transformer.enable_adapters()
    assert after < 0.75 * before, (before, after)
    losses = [h["loss"] for h in trainer.history]
    assert np.mean(losses[-10:]) < 0.9 * np.mean(losses[:10])  # the noisy running loss falls too


def test_only_lora_parameters_change(trained, tiny_model_dir: Path) -> None:
    from diffusers import AceStepPipeline

    trainer, _, _ = trained
    fresh = AceStepPipeline.from_pretrained(tiny_model_dir)
    trained_state = trainer.pipe.transformer.state_dict()
    for name, tensor in fresh.transformer.state_dict().items():
        module, _, leaf = name.rpartition(".")
        key = name if name in trained_state else f"{module}.base_layer.{leaf}"
        assert torch.equal(trained_state[key], tensor), name
    for component in ("vae", "text_encoder", "condition_encoder"):
        mine = getattr(trainer.pipe, component).state_dict()
        for name, tensor in getattr(fresh, component).state_dict().items():
            assert torch.equal(mine[name], tensor), f"{component}.{name}"
    lora = {k: v for k, v in trained_state.items() if "lora_" in k}
    assert len(lora) == 2 * 2 * (4 + 4 + 3)  # A and B for 2 layers x (self 4 + cross 4 + mlp 3)
    assert all(float(v.abs().max()) > 0 for k, v in lora.items() if "lora_B" in k)  # B starts at exactly 0
    trainable = {n for n, p in trainer.pipe.transformer.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


_RELOAD = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from diffusers import AceStepPipeline
pipe = AceStepPipeline.from_pretrained(sys.argv[1])
pipe.set_progress_bar_config(disable=True)
pipe.load_lora_weights(sys.argv[2])
cfg = pipe.transformer.peft_config["default_0"]
pipe.transformer.eval()
out = pipe(prompt=sys.argv[3], lyrics="[Instrumental]", audio_duration=1.0, num_inference_steps=4, guidance_scale=1.0,
           generator=torch.Generator().manual_seed(3), output_type="latent").audios
np.save(sys.argv[4], out.float().numpy())
print(cfg.r, cfg.lora_alpha)
"""


def test_saved_adapter_reloads_in_a_fresh_process_and_reproduces_outputs(
    trained, tiny_model_dir, tmp_path
) -> None:
    trainer, result, _ = trained
    prompt = trainer.preview_prompts()[0]
    in_memory = _pipe_latents(trainer.pipe, prompt, None)
    base = _pipe_latents(trainer.pipe, prompt, 0.0)
    assert np.abs(in_memory - base).max() > 1e-3  # the adapter does something
    out = tmp_path / "reloaded.npy"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _RELOAD, str(tiny_model_dir), str(result.final_dir), prompt, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["8", "16"]  # r and alpha travel in the file's metadata
    np.testing.assert_allclose(np.load(out), in_memory, rtol=0, atol=1e-5)


def test_checkpoints_best_choice_model_card_and_previews(trained) -> None:
    trainer, result, events = trained
    run = result.run_dir
    found = ck.list_checkpoints(run)
    assert [c.step for c in found] == [20, 40, 60]
    summary = json.loads((run / "summary.json").read_text())
    vals = {c.step: c.metrics["val_loss"] for c in found}
    assert summary["best"]["step"] == min(vals, key=vals.get) == result.best_step
    best_file = (result.best_dir / "pytorch_lora_weights.safetensors").read_bytes()
    assert (
        best_file
        == (
            found[[c.step for c in found].index(result.best_step)].path / "pytorch_lora_weights.safetensors"
        ).read_bytes()
    )
    card = (result.best_dir / "README.md").read_text()
    assert "lowest validation loss" in card and "zzlobby" in card and "learning_rate: 0.02" in card
    for c in found:  # LoRA previews per checkpoint, base previews once, all fixed-seed
        assert sorted(p.name for p in (c.path / "previews").glob("*.wav")) == [
            "p0_seed0_scale1.wav",
            "p1_seed0_scale1.wav",
        ]
    assert sorted(p.name for p in (run / "previews_base").glob("*.wav")) == [
        "p0_seed0_scale0.wav",
        "p1_seed0_scale0.wav",
    ]
    for c in found:  # evals features of the previews against the training clips, for base and LoRA
        assert isinstance(c.metrics["eval/feature_gap"], float) and isinstance(
            c.metrics["eval/base_feature_gap"], float
        )
        assert c.metrics["eval/spectral_centroid_hz"] > 0
    assert "feature gap LoRA" in card
    pairs = ck.checkpoint_previews(run)
    assert len(pairs) == 6 and all(p.base is not None and p.base.exists() and p.lora.exists() for p in pairs)
    assert pairs[0].prompt.startswith("zzlobby") and pairs[0].base.name == "p0_seed0_scale0.wav"
    phases = [e.phase for e in events]
    assert phases[0] == "preprocess" and phases[-1] == "done" and phases.count("checkpoint") == 3


def test_tracking_mirror_has_every_step_and_the_artifact(trained) -> None:
    _, result, _ = trained
    records = read_mirror(result.run_dir)
    logs = [r for r in records if r["event"] == "log" and "train/loss" in r["values"]]
    assert [r["step"] for r in logs] == list(range(1, 61))
    assert {"train/lr", "train/grad_norm", "train/steps_per_s", "train/samples_per_s"} <= set(
        logs[0]["values"]
    )
    assert sum(r["event"] == "audio" for r in records) == 3 * 2  # 3 checkpoints x 2 prompts
    assert any(r["event"] == "log" and "val_loss" in r["values"] for r in records)
    (artifact,) = [r for r in records if r["event"] == "artifact"]
    assert artifact["path"] == str(result.best_dir)
    adapters = ck.list_adapters(result.run_dir.parent)
    assert {(a.kind, a.step) for a in adapters} == {("best", result.best_step), ("final", 60)}


def test_select_best_prefers_validation_loss_over_recency() -> None:
    rows = [{"step": 10, "val_loss": 0.9}, {"step": 20, "val_loss": 0.5}, {"step": 30, "val_loss": 0.7}]
    best, reason = select_best(rows, "val_loss")
    assert best is not None and best["step"] == 20 and "lowest validation loss 0.5" in reason
    assert select_best(rows, "last")[0] == rows[2]
    assert (
        select_best([{"step": 5, "val_loss": None}], "val_loss")[1]
        == "no validation split, so the last checkpoint"
    )


def _loss_curve(run_dir: Path) -> dict[int, float]:
    """Last logged loss per step (a killed run re-logs the steps after its last checkpoint)."""
    return dict(ck.loss_curve(run_dir))


@pytest.fixture(scope="module")
def reference(data_dir: Path, tmp_path_factory, tiny_config) -> dict[int, float]:
    out = tmp_path_factory.mktemp("ref") / "run"
    train(tiny_config(data_dir, out, **RESUME))
    return _loss_curve(out)


def test_stop_event_checkpoints_and_resume_continues_the_same_schedule(
    data_dir, reference, tmp_path, tiny_config
) -> None:
    out = tmp_path / "run"
    stop = threading.Event()

    def progress(p: TrainProgress) -> None:
        if p.phase == "train" and p.step == 12:
            stop.set()

    worker_result = []
    worker = threading.Thread(
        target=lambda: worker_result.append(
            train(tiny_config(data_dir, out, **RESUME), progress=progress, stop=stop)
        )
    )
    worker.start()  # the UI calls train() from a worker thread exactly like this
    worker.join(timeout=300)
    (first,) = worker_result
    assert first.stopped and first.steps == 12 and ck.latest_checkpoint(out).step == 12
    with pytest.raises(InputError, match="already holds checkpoints; pass --resume"):
        train(tiny_config(data_dir, out, **RESUME))
    with pytest.raises(InputError, match="resume with the same schedule"):
        train(tiny_config(data_dir, out, **{**RESUME, "max_steps": 99}), resume=True)
    second = train(tiny_config(data_dir, out, **RESUME), resume=True)
    assert second.steps == 60 and not second.stopped
    curve = _loss_curve(out)
    assert sorted(curve) == list(range(1, 61))
    np.testing.assert_allclose(
        [curve[s] for s in range(1, 61)], [reference[s] for s in range(1, 61)], rtol=1e-6
    )


# The LoRA CLI with checkpoints.commit_checkpoint wrapped: once the checkpoint of step ``argv[1]`` is complete, the
# process says HELD on stdout and blocks. The test kills it at that known point instead of polling for the folder.
HOLD_AFTER_CHECKPOINT = """
import sys
import threading

from lora import checkpoints

hold_at, real_commit = int(sys.argv[1]), checkpoints.commit_checkpoint


def commit(tmp, step):
    final = real_commit(tmp, step)
    if step == hold_at:
        print("HELD", step, flush=True)
        threading.Event().wait()
    return final


checkpoints.commit_checkpoint = commit
from workbench.cli.main import main

sys.exit(main(sys.argv[2:]))
"""


def test_sigkill_then_resume_reaches_the_same_steps_with_a_continuous_curve(
    data_dir, reference, tmp_path
) -> None:
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    train_args = ["lora", "train", "tiny", "--data", str(data_dir), "--out", str(out), "--max-steps", "60"]
    train_args += ["--set", "checkpoint_every=5", "--set", "preview=false", "--tracking", "off"]
    cmd = [sys.executable, "-c", HOLD_AFTER_CHECKPOINT, "5", *train_args]
    log = tmp_path / "train.log"  # a file, not a pipe: a full stderr pipe would block the run before HELD
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        held = next((line for line in proc.stdout if line.startswith("HELD ")), None)
        assert held is not None, f"the run ended before its step-5 checkpoint: {log.read_text()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)  # right after a complete checkpoint, the next step not yet saved
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_at = ck.latest_checkpoint(out).step
    assert killed_at == 5
    from workbench.cli.main import main

    assert main([*train_args, "--resume"]) == 0
    assert ck.latest_checkpoint(out).step == 60
    curve = _loss_curve(out)
    assert sorted(curve) == list(range(1, 61))  # no gap, no step missing around the kill
    np.testing.assert_allclose(
        [curve[s] for s in range(1, 61)], [reference[s] for s in range(1, 61)], rtol=1e-6
    )


@pytest.mark.slow
def test_two_processes_share_the_work_and_save_per_rank_rng(data_dir, tmp_path) -> None:
    """What `accelerate launch` does on several GPUs, run here as two CPU processes over gloo."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "-m",
        "workbench.cli.main",
        "lora",
        "train",
        "tiny",
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--max-steps",
        "6",
        "--set",
        "checkpoint_every=3",
        "--set",
        "preview=false",
        "--tracking",
        "off",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("done: 6 steps") == 1  # only rank 0 reports
    final = ck.latest_checkpoint(out)
    assert final is not None and final.step == 6
    assert (final.path / "rng_rank0.pt").exists() and (final.path / "rng_rank1.pt").exists()


def test_base_variant_samples_logit_normal_timesteps_and_drops_conditions(
    data_dir, tmp_path, monkeypatch, tiny_config
) -> None:
    import lora.trainer as trainer_module

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    real = trainer_module.flow_matching_loss

    def spy(model, x0, ehs, ctx, t, noise):
        seen.append((t.detach().clone(), ehs.detach().clone()))
        return real(model, x0, ehs, ctx, t, noise)

    monkeypatch.setattr(trainer_module, "flow_matching_loss", spy)
    trainer = Trainer(
        tiny_config(
            data_dir, tmp_path / "base", variant="base", cfg_dropout=0.5, max_steps=16, checkpoint_every=16
        )
    )
    result = trainer.run()
    assert result.steps == 16 and all(np.isfinite(h["loss"]) for h in trainer.history)
    assert trainer.variant == "base" and trainer.cfg_dropout == 0.5
    ts = torch.cat([t for t, _ in seen])
    turbo = torch.tensor([1.0, 0.954545, 0.9, 0.833333, 0.75, 0.642857, 0.5, 0.3])
    assert not any(bool((turbo - v).abs().lt(1e-4).any()) for v in ts)  # continuous, not the turbo table
    null = trainer.pipe.condition_encoder.null_condition_emb.detach().reshape(-1)
    dropped = [bool((ehs[0] == null).all()) for _, ehs in seen]
    assert 0 < sum(dropped) < len(dropped)  # some samples see the null condition, the rest the real one
