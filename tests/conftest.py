"""Shared fixtures. Every test session gets its own WORKBENCH_HOME, no network, and W&B off."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Set before any project import so paths/tracking see them.
_HOME = tempfile.mkdtemp(prefix="workbench-tests-")
os.environ["WORKBENCH_HOME"] = _HOME
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WORKBENCH_TRACKING", "off")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SR = 48_000


def tone(
    duration_s: float = 2.0,
    sample_rate: int = SR,
    channels: int = 2,
    freq_hz: float = 220.0,
    level: float = 0.3,
) -> np.ndarray:
    """A deterministic test signal shaped (channels, frames): a sine per channel at slightly different pitch."""
    t = np.arange(int(round(duration_s * sample_rate))) / sample_rate
    rows = [level * np.sin(2 * np.pi * freq_hz * (1 + 0.25 * c) * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def write_tone(path: Path, duration_s: float = 2.0, sample_rate: int = SR, channels: int = 2, **kw) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(duration_s, sample_rate, channels, **kw).T, sample_rate)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from workbench.engine.tiny import ensure_tiny

    return ensure_tiny()


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path):
    """One tiny engine for the session (loading is the slow part). Tests must not leave a LoRA loaded."""
    from workbench.engine.engine import Engine

    eng = Engine("tiny")
    eng.load()
    yield eng
    eng.unload_lora()


@pytest.fixture
def src_wav(tmp_path: Path) -> Path:
    return write_tone(tmp_path / "src.wav", duration_s=3.3)
