"""The model registry (configs/models.yaml): where each variant's weights are, in which layout, and its preset.

The presets are ACE-Step's own inference defaults (sources in configs/models.yaml and below), which the engine
resolves into every request that does not set its own values.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.core import paths
from workbench.core.config import from_mapping, in_file, read_yaml
from workbench.core.errors import ConfigError

REGISTRY_PATH = paths.CONFIG_DIR / "models.yaml"
Variant = Literal["turbo", "base", "sft"]
VARIANTS: tuple[str, ...] = typing.get_args(Variant)


Layout = Literal["original", "diffusers"]
LAYOUTS: tuple[str, ...] = typing.get_args(Layout)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: where the weights are, in which layout, and the authors' settings for them."""

    name: str
    hub_id: str
    variant: Variant = "turbo"
    # "original": ACE-Step's own checkpoint layout (converted once into a diffusers folder on pull/load);
    # "diffusers": a folder AceStepPipeline.from_pretrained loads as it is.
    layout: Layout = "diffusers"
    # The DiT folder inside the repo for the original layout ("" when the repo root is the DiT folder).
    subfolder: str = ""
    # The registry entry whose repo holds vae/ and Qwen3-Embedding-0.6B/ when this repo is a DiT folder only.
    components_from: str = ""
    steps: int = 8
    guidance_scale: float = 1.0
    shift: float = 3.0
    cfg_interval_start: float = 0.0
    cfg_interval_end: float = 1.0
    preset_source: str = ""  # repo@commit:path of the defaults above
    revision: str | None = None
    params: str = ""
    notes: str = ""

    @property
    def is_local_build(self) -> bool:
        return self.hub_id.startswith("local:")

    @property
    def preset(self) -> Preset:
        return Preset(
            self.steps,
            self.guidance_scale,
            self.shift,
            self.cfg_interval_start,
            self.cfg_interval_end,
            f"registry:{self.name}" + (f" ({self.preset_source})" if self.preset_source else ""),
        )


@dataclass(frozen=True)
class Preset:
    """The sampling settings a request gets unless it sets its own."""

    steps: int
    guidance_scale: float
    shift: float
    cfg_interval_start: float
    cfg_interval_end: float
    source: str


# For folders and hub ids outside the registry: ACE-Step's own defaults by variant.
# turbo: 8 steps, shift 3.0 and base/sft: 50 steps, shift 1.0 are
# ace-step/ACE-Step-1.5@6d467e4:acestep/training_v2/model_discovery.py (_BASE_DEFAULTS); guidance 7.0 and the
# CFG interval 0.0-1.0 are the GenerationParams defaults, ace-step/ACE-Step-1.5@6d467e4:acestep/inference.py.
# Turbo is guidance-distilled (the pipeline ignores guidance > 1 on it), so its guidance is recorded as 1.0.
_UPSTREAM = "ace-step/ACE-Step-1.5@6d467e4:acestep/training_v2/model_discovery.py"
FALLBACK_PRESETS = {
    "turbo": Preset(8, 1.0, 3.0, 0.0, 1.0, f"upstream turbo default ({_UPSTREAM})"),
    "base": Preset(50, 7.0, 1.0, 0.0, 1.0, f"upstream base default ({_UPSTREAM})"),
}


def load_registry(path: Path = REGISTRY_PATH) -> dict[str, ModelSpec]:
    raw = read_yaml(path, "models file") or {}
    models = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(models, dict):
        raise ConfigError("models", models, f"{path} must have a top-level 'models:' mapping")
    with in_file(path):
        return {
            name: from_mapping(ModelSpec, entry, f"models.{name}", fixed={"name": name})
            for name, entry in models.items()
        }
