"""Fixtures for the LoRA tests: a small built dataset and a tiny-model training config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def build_small_dataset(make_folder: Callable[..., Path]) -> Callable[..., Path]:
    """``build_small_dataset(root, n=4, val_fraction=0.25, trigger="zzlobby", duration_s=2.0)``: clips under
    ``root/audio`` built into a dataset at ``root/dataset`` (returned)."""
    from lora.dataset import DatasetOptions, build_dataset

    def build(
        root: Path, n: int = 4, val_fraction: float = 0.25, trigger: str = "zzlobby", duration_s: float = 2.0
    ) -> Path:
        audio = make_folder(root / "audio", n, duration_s)
        out = root / "dataset"
        build_dataset(
            audio, out, DatasetOptions(trigger_tag=trigger, val_fraction=val_fraction, estimate=False)
        )
        return out

    return build


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., Any]:
    """``tiny_config(data, out, **overrides)``: the "tiny" training config, no previews, tracking off."""
    from lora.config import load_config

    def config(data: Path, out: Path, **overrides: Any) -> Any:
        values = {"data": str(data), "out": str(out), "preview": False, "tracking": "off", **overrides}
        return load_config("tiny", values)

    return config
