"""A registry model found in the Hugging Face cache loads by hub id, offline, through from_pretrained."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _fake_hub_cache(root: Path, hub_id: str, pipeline_dir: Path) -> Path:
    """Lay the tiny pipeline out exactly as huggingface_hub caches a downloaded repo."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = root / ("models--" + hub_id.replace("/", "--"))
    shutil.copytree(pipeline_dir, repo / "snapshots" / sha)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    return root


def test_registry_model_loads_from_hf_cache(tiny_model_dir, tmp_path):
    cache = _fake_hub_cache(tmp_path / "hub", "ACE-Step/Ace-Step1.5", tiny_model_dir)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "workbench.cli.main", "models", "check", "turbo", "--load"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "loadable offline" in out.stdout and "revision 0123456789ab" in out.stdout
    assert "loaded on cpu (fp32)" in out.stdout
