"""Result pictures and the one-line summary (evals analysis when installed, local measurement otherwise)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SR

from workbench.core.audio_io import Audio
from workbench.ui import media


def _chord(seconds: float = 6.0) -> Audio:
    """C major triad (C4 E4 G4) with a click every 0.5 s (120 BPM)."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    clicks = np.zeros_like(t)
    for start in range(0, t.size, SR // 2):
        clicks[start : start + 200] = 0.5 * np.hanning(200)
    mono = (x + clicks).astype(np.float32)
    return Audio(np.stack([mono, mono]), SR)


def test_local_key_and_tempo_estimates() -> None:
    audio = _chord()
    mono = media._mono(audio)
    assert media.estimate_key(mono) == "C major"
    tempo = media.estimate_tempo(mono)
    assert tempo is not None and min(abs(tempo - 120), abs(tempo - 60), abs(tempo - 240)) < 6
    assert media.estimate_key(np.zeros(SR, dtype=np.float32)) is None


@pytest.mark.parametrize("without_evals", [False, True])
def test_summary_line(without_evals: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if without_evals:
        monkeypatch.setitem(
            sys.modules, "evals", None
        )  # import evals -> ImportError: the local fallback runs
    line = media.summary_line(_chord(), bpm=120, keyscale="C major", target_lufs=-18)
    parts = line.split(" · ")
    assert parts[0].endswith("LUFS (target -18)")
    assert parts[1].startswith("true peak ") and parts[1].endswith("dBTP")
    assert "BPM (asked 120)" in parts[2]
    assert parts[3] == "C major (asked C major)"
    assert parts[4] == "6.0 s"


def test_pictures_are_written(tmp_path: Path) -> None:
    audio = _chord(2.0)
    wave = Path(media.waveform_png(audio, tmp_path, region_s=(0.5, 1.0)))
    spec = Path(media.spectrogram_png(audio, tmp_path))
    for p in (wave, spec):
        assert p.parent == tmp_path and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert wave != Path(
        media.waveform_png(audio, tmp_path)
    )  # unique names: sessions never overwrite each other
