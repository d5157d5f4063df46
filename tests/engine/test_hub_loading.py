"""Registry models found in the Hugging Face cache, offline: original-layout repos are converted on pull (once) and
diffusers repos load by hub id through from_pretrained. No network: the cache is laid out by hand."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_SHA = "0123456789abcdef0123456789abcdef01234567"


def _fake_hub_repo(root: Path, hub_id: str, content: Path, sha: str = _SHA) -> Path:
    """Lay a folder out exactly as huggingface_hub caches a downloaded repo."""
    repo = root / ("models--" + hub_id.replace("/", "--"))
    shutil.copytree(content, repo / "snapshots" / sha)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    return root


@pytest.fixture(scope="module")
def original_release(tmp_path_factory) -> Path:
    """The tiny model in the official layout, with its DiT folder named like the turbo release's."""
    from workbench.engine.tiny_original import tiny_original_pipeline, write_original_layout

    return write_original_layout(tiny_original_pipeline(0), tmp_path_factory.mktemp("release") / "r", "turbo")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "workbench.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _env(tmp_path: Path, cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "WORKBENCH_HOME": str(tmp_path / "home"),
    }


def test_original_repo_is_converted_on_pull_once_and_then_loads(original_release, tmp_path):
    env = _env(tmp_path, _fake_hub_repo(tmp_path / "hub", "ACE-Step/Ace-Step1.5", original_release))
    check = _cli(env, "models", "check", "turbo")
    assert check.returncode == 0, check.stderr
    assert "original layout" in check.stdout and "not converted yet" in check.stdout
    assert "workbench models convert" in check.stdout and "--variant acestep-v15-turbo" in check.stdout

    first = _cli(env, "models", "pull", "turbo")
    assert first.returncode == 0, first.stderr
    assert "converting it once" in first.stderr
    folder = Path(first.stdout.strip().rsplit(" ", 1)[-1])
    assert (folder / "model_index.json").is_file() and (folder / "workbench_conversion.json").is_file()
    stamp = (folder / "workbench_conversion.json").stat().st_mtime_ns

    second = _cli(env, "models", "pull", "turbo")
    assert second.returncode == 0, second.stderr
    assert "converting" not in second.stderr and second.stdout == first.stdout
    assert (folder / "workbench_conversion.json").stat().st_mtime_ns == stamp

    loaded = _cli(env, "models", "check", "turbo", "--load")
    assert loaded.returncode == 0, loaded.stderr
    assert "loadable offline" in loaded.stdout and "revision 0123456789ab" in loaded.stdout
    assert "loaded on cpu (fp32)" in loaded.stdout


def test_dit_only_repo_takes_vae_and_text_encoder_from_the_main_repo(original_release, tmp_path):
    """acestep-v15-base is a DiT folder at the repo root; its VAE and text encoder ship in the main repo."""
    cache = _fake_hub_repo(tmp_path / "hub", "ACE-Step/Ace-Step1.5", original_release)
    _fake_hub_repo(cache, "ACE-Step/acestep-v15-base", original_release / "acestep-v15-turbo", sha="f" * 40)
    env = _env(tmp_path, cache)
    pulled = _cli(env, "models", "pull", "base")
    assert pulled.returncode == 0, pulled.stderr
    loaded = _cli(env, "models", "check", "base", "--load")
    assert loaded.returncode == 0, loaded.stderr
    assert "revision ffffffffffff" in loaded.stdout


def test_partial_original_download_names_the_missing_file(original_release, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(original_release, partial)
    (partial / "acestep-v15-turbo" / "silence_latent.pt").unlink()
    env = _env(tmp_path, _fake_hub_repo(tmp_path / "hub", "ACE-Step/Ace-Step1.5", partial))
    check = _cli(env, "models", "check", "turbo")
    assert check.returncode != 0
    assert "lacks acestep-v15-turbo/silence_latent.pt" in check.stderr
    assert "workbench models pull turbo" in check.stderr


def test_diffusers_repo_loads_by_hub_id(tiny_model_dir, tmp_path):
    env = _env(
        tmp_path, _fake_hub_repo(tmp_path / "hub", "ACE-Step/acestep-v15-xl-turbo-diffusers", tiny_model_dir)
    )
    out = _cli(env, "models", "check", "xl-turbo", "--load")
    assert out.returncode == 0, out.stderr
    assert "diffusers layout" in out.stdout and "loaded on cpu (fp32)" in out.stdout
