"""Building small campaigns for the campaign tests: imported systems made of generated tones (no model needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SYSTEM_NAMES = ("alphasys", "betasys", "gammasys")


def make_import(
    root: Path,
    system: str,
    prompts: int,
    takes: int,
    *,
    level: float,
    sample_rate: int = 48_000,
    duration_s: float = 1.5,
    freq_hz: float = 220.0,
) -> dict[str, Any]:
    """A folder of tone files plus mapping.csv, as an external service's export would look."""
    folder = root / system
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["prompt_id,file"]
    rng = np.random.default_rng(sum(system.encode()))
    for p in range(prompts):
        for t in range(takes):
            n = int(duration_s * sample_rate)
            time = np.arange(n) / sample_rate
            x = level * np.sin(2 * np.pi * (freq_hz + 40 * p + 7 * t) * time) + 0.01 * rng.standard_normal(n)
            name = f"{system}_track_{p}_{t}.wav"
            sf.write(folder / name, np.stack([x, 0.7 * x], 1), sample_rate)
            lines.append(f"p{p},{name}")
    (folder / "mapping.csv").write_text("\n".join(lines) + "\n")
    return {"name": system, "import_dir": str(folder), "mapping_csv": "mapping.csv"}


def campaign_dict(
    root: Path,
    *,
    name: str = "camp",
    prompts: int = 4,
    takes: int = 2,
    raters: int = 2,
    quota: int = 10,
    min_listen_s: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    # Levels and sample rates differ per system on purpose: the stimuli must not carry those differences.
    systems = [
        make_import(root, SYSTEM_NAMES[0], prompts, takes, level=0.05),
        make_import(root, SYSTEM_NAMES[1], prompts, takes, level=0.4, duration_s=2.0),
        make_import(root, SYSTEM_NAMES[2], prompts, takes, level=0.2, sample_rate=44_100, freq_hz=330.0),
    ]
    data: dict[str, Any] = {
        "name": name,
        "genre": "spa",
        "instructions": "Pick the clip you would rather hear in a quiet spa.",
        "systems": systems,
        "prompts": [{"id": f"p{p}"} for p in range(prompts)],
        "raters": [{"id": f"rater{i:02d}", "code": f"code-{i:04d}"} for i in range(raters)],
        "clips_per_prompt": takes,
        "votes_per_rater": quota,
        "clip_duration_s": 1.0,
        "fade_ms": 50.0,
        "min_listen_s": min_listen_s,
        "gold_rate": 0.1,
        "repeat_rate": 0.1,
    }
    data.update(extra)
    return data


def create(store: Any, root: Path, **kw: Any) -> Any:
    from workbench.campaigns.config import config_from_dict
    from workbench.campaigns.stimuli import create_campaign

    config = config_from_dict(campaign_dict(root, **kw))
    create_campaign(store, config, engine_for=lambda model: None, log=lambda msg: None)
    return config
