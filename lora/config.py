"""The LoRA training config: one typed dataclass, loaded from YAML with CLI overrides; unknown keys fail loudly.

Defaults follow the official ACE-Step trainer's Gradio defaults (r 64, alpha 128, dropout 0.1, lr 3e-4, batch 1,
warmup 100, weight decay 0.01, clip 1.0, seed 42) and its attention-only targets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.core import paths
from workbench.core.config import from_mapping, number, parse_yaml, read_yaml, whole
from workbench.core.errors import ConfigError
from workbench.engine.requests import DEFAULT_DURATION_S

VARIANTS = ("auto", "turbo", "base", "sft")
MIXED_PRECISION = ("no", "fp16", "bf16")
TRACKING_MODES = ("auto", "online", "offline", "off")
SELECT_METRICS = ("val_loss", "feature_gap", "last")
# PEFT suffix-matches these against module names; "to_out.0" (not "to_out", a ModuleList) is the out projection.
DEFAULT_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
ALLOWED_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainConfig:
    """Everything one LoRA run needs. Paths may be relative to the YAML file's folder."""

    name: str = "lora"
    model: str = "turbo"  # registry name (configs/models.yaml), local diffusers folder or hub id
    variant: str = (
        "auto"  # auto = from the registry / transformer config; decides timestep sampling and dropout
    )
    data: str | None = None  # a dataset folder written by `workbench lora prepare`
    out: str | None = None  # run folder; default <WORKBENCH_HOME>/runs/lora/<name>
    cache_dir: str | None = None  # preprocessed latents; default <data>/cache

    # LoRA
    rank: int = 64
    alpha: int = 128
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))

    # Optimisation
    learning_rate: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_grad_norm: float = 1.0
    batch_size: int = 1
    grad_accum_steps: int = 1
    epochs: int = 100
    max_steps: int = 0  # optimizer steps; 0 = derived from epochs
    seed: int = 42
    mixed_precision: str = "bf16"  # no|fp16|bf16; forced to "no" on CPU
    gradient_checkpointing: bool = True

    # Objective: timestep sampling and condition dropout (lora/objective.py)
    timestep_mu: float = -0.4
    timestep_sigma: float = 1.0
    turbo_shift: float = 3.0
    cfg_dropout: float | None = None  # None = 0.0 for turbo, 0.15 for base/sft

    # Data
    max_duration_s: float = 240.0  # longer clips are truncated (the official trainer's limit)

    # Checkpoints and evaluation
    checkpoint_every: int = 200
    keep_checkpoints: int = 0  # 0 = keep all (best-checkpoint selection needs them)
    select_metric: str = "val_loss"
    preview: bool = True
    preview_prompts: list[str] = field(default_factory=list)  # empty = the dataset's first captions
    preview_seeds: list[int] = field(default_factory=lambda: [0])
    preview_duration_s: float = DEFAULT_DURATION_S
    preview_steps: int = 0  # 0 = the model's default
    val_timesteps: int = 8  # fixed timesteps per validation clip, so validation loss is comparable

    # Tracking
    tracking: str = "auto"
    project: str = "ace-workbench-lora"

    def validate(self) -> None:
        for name in ("rank", "epochs", "batch_size", "grad_accum_steps", "checkpoint_every", "val_timesteps"):
            whole(name, getattr(self, name), 1, error=ConfigError)
        for name in ("max_steps", "warmup_steps", "keep_checkpoints", "preview_steps"):
            whole(name, getattr(self, name), 0, error=ConfigError)
        if self.variant not in VARIANTS:
            raise ConfigError("variant", self.variant, f"choose one of {', '.join(VARIANTS)}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ConfigError(
                "mixed_precision", self.mixed_precision, f"choose one of {', '.join(MIXED_PRECISION)}"
            )
        if self.tracking not in TRACKING_MODES:
            raise ConfigError("tracking", self.tracking, f"choose one of {', '.join(TRACKING_MODES)}")
        if self.select_metric not in SELECT_METRICS:
            raise ConfigError(
                "select_metric", self.select_metric, f"choose one of {', '.join(SELECT_METRICS)}"
            )
        if not self.target_modules:
            raise ConfigError(
                "target_modules", self.target_modules, f"name at least one of {ALLOWED_TARGETS}"
            )
        bad = [t for t in self.target_modules if t not in ALLOWED_TARGETS]
        if bad:
            raise ConfigError(
                "target_modules",
                bad,
                f"allowed: {', '.join(ALLOWED_TARGETS)} (the DiT's attention and MLP linears)",
            )
        for name, lo, hi in (
            ("alpha", 1, 1e6),
            ("learning_rate", 1e-9, 1.0),
            ("max_grad_norm", 1e-6, 1e6),
            ("timestep_sigma", 1e-3, 10.0),
            ("turbo_shift", 1.0, 3.0),
            ("max_duration_s", 1.0, 600.0),
            ("preview_duration_s", 1.0, 600.0),
            ("dropout", 0.0, 0.9),
            ("weight_decay", 0.0, 1.0),
            ("timestep_mu", -5.0, 5.0),
        ):
            number(name, getattr(self, name), lo, hi, error=ConfigError)
        if self.cfg_dropout is not None and not 0.0 <= self.cfg_dropout < 1.0:
            raise ConfigError(
                "cfg_dropout", self.cfg_dropout, "must be in [0, 1), or null for the variant default"
            )
        if not self.name or "/" in self.name:
            raise ConfigError("name", self.name, "give a non-empty run name without '/'")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def config_from_dict(raw: dict[str, Any], base_dir: Path | None = None) -> TrainConfig:
    cfg = from_mapping(TrainConfig, raw, what="config key")
    if base_dir is not None:
        for key in ("data", "out", "cache_dir"):
            value = getattr(cfg, key)
            if value is not None and not Path(value).expanduser().is_absolute():
                setattr(cfg, key, str((base_dir / value).resolve()))
    cfg.validate()
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (so ``3e-4``, ``true``, ``[a, b]`` work)."""
    if "=" not in text:
        raise ConfigError("--set", text, "write overrides as key=value, e.g. --set learning_rate=1e-4")
    key, _, raw = text.partition("=")
    key = key.strip()
    value = parse_yaml(raw, key, "--set") if raw.strip() else None
    return key, value


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Load a YAML config (or start from defaults), apply overrides, validate. Raises ConfigError on any problem."""
    raw: dict[str, Any] = {}
    base_dir = None
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            named = paths.CONFIG_DIR / "lora" / f"{p.name}.yaml"
            if named.exists():  # `workbench lora train spa` means configs/lora/spa.yaml
                p = named
            else:
                raise ConfigError(
                    "config", str(path), "file not found; give a YAML path or a name in configs/lora/"
                )
        loaded = read_yaml(p, "config")
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("config", str(p), "must be a YAML mapping of key: value")
        raw = dict(loaded or {})
        base_dir = p.parent
    for key, value in (overrides or {}).items():
        raw[key] = value
    # CLI overrides are relative to the working directory, YAML paths to the YAML's folder.
    cli_paths = {
        k: v for k, v in (overrides or {}).items() if k in ("data", "out", "cache_dir") and v is not None
    }
    cfg = config_from_dict(raw, base_dir)
    for key, value in cli_paths.items():
        setattr(cfg, key, str(Path(value).expanduser().resolve()))
    return cfg
