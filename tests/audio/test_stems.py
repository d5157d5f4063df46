"""Stem separation: weights lookup without network, the tiny HTDemucs end to end, stems files and zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from workbench.audio.stems import STEM_NAMES, StemSeparator, build_tiny_demucs, locate_weights, write_stems
from workbench.core.audio_io import SAMPLE_RATE as SR
from workbench.core.audio_io import Audio
from workbench.core.errors import WeightsMissingError


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_demucs(tmp_path_factory.mktemp("demucs"))


def test_missing_weights_name_the_places_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("WORKBENCH_DEMUCS_REPO", raising=False)
    with pytest.raises(WeightsMissingError) as err:
        locate_weights("htdemucs")
    message = str(err.value)
    assert "htdemucs" in message and str(tmp_path / "torch") in message
    assert "python -m demucs.separate -n htdemucs" in message and "WORKBENCH_DEMUCS_REPO" in message


def test_configured_repo_without_the_model(tmp_path: Path) -> None:
    with pytest.raises(WeightsMissingError, match="not in the configured repo"):
        locate_weights("htdemucs", tmp_path)


def test_torch_hub_cache_is_found_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "955717e8-8726e21a.th").write_bytes(
        b"placeholder"
    )  # the name demucs caches htdemucs under
    location = locate_weights("htdemucs")
    assert location.kind == "torch-hub" and location.folder == checkpoints


def test_tiny_separation_gives_four_stems_at_48k(tiny_repo: Path, tone) -> None:
    separator = StemSeparator("tinyht", tiny_repo)
    assert separator.check().kind == "repo"
    stems = separator.separate(Audio(tone(2.0), SR))
    assert sorted(stems) == sorted(STEM_NAMES)
    for audio in stems.values():
        assert audio.sample_rate == SR and audio.channels == 2
        assert abs(audio.frames - 2 * SR) <= 2
        assert np.isfinite(audio.samples).all()


def test_write_stems_and_zip(tmp_path: Path, tone) -> None:
    stems = {name: Audio(tone(1.0, freq_hz=100.0 * (i + 1)), SR) for i, name in enumerate(STEM_NAMES)}
    paths, archive = write_stems(stems, tmp_path / "out", "run1_")
    assert sorted(p.name for p in paths.values()) == sorted(f"run1_{n}.wav" for n in STEM_NAMES)
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == sorted(f"run1_{n}.wav" for n in STEM_NAMES)
