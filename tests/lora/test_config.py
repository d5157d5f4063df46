"""Training config (typed YAML, overrides, unknown keys), the objective's sampling rules and the LR schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lora.config import DEFAULT_TARGETS, TrainConfig, load_config, parse_override
from lora.objective import (
    apply_condition_dropout,
    condition_dropout_mask,
    sample_timesteps,
    shifted_timesteps,
)
from lora.trainer import lr_lambda
from workbench.core.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "lora"


@pytest.mark.parametrize("name", ["hotel_lobby", "spa", "retail", "tiny"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert isinstance(cfg, TrainConfig) and cfg.name == name
    assert set(DEFAULT_TARGETS) <= set(cfg.target_modules)


def test_config_by_name_overrides_and_paths(tmp_path: Path) -> None:
    cfg = load_config("spa", {"learning_rate": "3e-4", "max_steps": 10, "data": str(tmp_path)})
    assert cfg.learning_rate == pytest.approx(3e-4) and cfg.max_steps == 10
    assert cfg.target_modules[-3:] == ["gate_proj", "up_proj", "down_proj"]
    assert parse_override("target_modules=[to_q, to_v]") == ("target_modules", ["to_q", "to_v"])
    assert parse_override("preview=false") == ("preview", False)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("name: x\ndata: sub/ds\n")
    assert load_config(yaml_file).data == str((tmp_path / "sub" / "ds").resolve())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"learnig_rate": 1e-4}, "learnig_rate=0.0001: unknown config key"),
        ({"rank": "big"}, "rank='big': must be a whole number"),
        ({"gradient_checkpointing": "yes"}, "gradient_checkpointing='yes': must be true or false"),
        ({"target_modules": ["to_q", "proj_in_conv"]}, "target_modules=['proj_in_conv']: allowed:"),
        ({"mixed_precision": "fp8"}, "mixed_precision='fp8': choose one of no, fp16, bf16"),
        ({"cfg_dropout": 1.5}, "cfg_dropout=1.5: must be in [0, 1)"),
        ({"rank": 0}, "rank=0: must be a whole number >= 1"),
    ],
)
def test_bad_config_values_raise_config_error(tmp_path: Path, raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, raw)
    assert str(info.value).startswith(message)


def test_missing_config_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(bad)
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("learning_rate")


def test_turbo_timesteps_are_the_eight_shift3_values() -> None:
    expected = [1.0, 0.954545, 0.9, 0.833333, 0.75, 0.642857, 0.5, 0.3]
    assert shifted_timesteps(8, 3.0).tolist() == pytest.approx(expected, abs=1e-6)
    draws = sample_timesteps(4000, "turbo", torch.Generator().manual_seed(0))
    values = sorted({round(v, 5) for v in draws.tolist()})
    assert values == pytest.approx(sorted(expected), abs=1e-5)
    counts = torch.stack([(draws - v).abs().lt(1e-5).sum() for v in expected]).float()
    assert counts.min() > 400  # uniform: ~500 each


def test_base_timesteps_are_max_of_two_logit_normals() -> None:
    draws = sample_timesteps(200_000, "base", torch.Generator().manual_seed(0), mu=-0.4, sigma=1.0)
    # Closed-form median of the max of two LogitNormal(-0.4, 1): sigmoid(-0.4 + Phi^-1(sqrt(0.5))) = 0.5362.
    assert float(draws.median()) == pytest.approx(0.5362, abs=0.004)
    assert float(draws.mean()) == pytest.approx(0.5347, abs=0.004)
    assert float(draws.min()) > 0 and float(draws.max()) < 1


def test_condition_dropout_replaces_whole_samples_with_the_null_embedding() -> None:
    gen = torch.Generator().manual_seed(0)
    mask = condition_dropout_mask(100_000, 0.15, gen)
    assert float(mask.float().mean()) == pytest.approx(0.15, abs=0.005)
    assert not condition_dropout_mask(10, 0.0, gen).any()
    ehs = torch.randn(3, 5, 4)
    null = torch.full((1, 1, 4), 7.0)
    out = apply_condition_dropout(ehs, null, torch.tensor([False, True, False]))
    assert torch.equal(out[0], ehs[0]) and torch.equal(out[2], ehs[2]) and bool((out[1] == 7.0).all())


def test_lr_schedule_warms_up_then_decays_to_one_percent() -> None:
    f = lr_lambda(warmup_steps=100, total_steps=1000)
    assert f(0) == pytest.approx(0.1) and f(50) == pytest.approx(0.55) and f(100) == pytest.approx(1.0)
    assert f(550) == pytest.approx(0.505) and f(1000) == pytest.approx(0.01)
    short = lr_lambda(warmup_steps=100, total_steps=20)  # warm-up capped at 10 % of a short run
    assert short(2) == pytest.approx(1.0)
