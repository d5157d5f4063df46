"""Result pictures and the one-line summary of a result card (the numbers of evals' analysis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evals import analyze_audio
from evals.audio import summary
from evals.report import pictures
from workbench.core.audio_io import SAMPLE_RATE as SR
from workbench.core.audio_io import Audio


def _chord(seconds: float = 6.0) -> Audio:
    """C major triad (C4 E4 G4) with a click every 0.5 s (120 BPM)."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    clicks = np.zeros_like(t)
    for start in range(0, t.size, SR // 2):
        clicks[start : start + 200] = 0.5 * np.hanning(200)
    mono = (x + clicks).astype(np.float32)
    return Audio(np.stack([mono, mono]), SR)


def test_summary_line() -> None:
    audio = _chord()
    line = summary.summary_line(audio, bpm=120, keyscale="C major", target_lufs=-18)
    parts = line.split(" · ")
    a = analyze_audio(audio)
    assert parts[0] == f"{round(a.integrated_loudness_lufs, 2):.1f} LUFS (target -18)"
    assert parts[1] == f"true peak {round(a.true_peak_dbtp, 2):.1f} dBTP"
    assert parts[2] == f"{round(a.tempo_bpm or 0.0, 1):g} BPM (asked 120)"
    assert parts[3] == "C major (asked C major)"
    assert parts[4] == "6.0 s"
    silent = summary.summary_line(Audio(np.zeros((2, SR), np.float32), SR)).split(" · ")
    assert silent[:2] == ["silent", "true peak -inf"]


def test_pictures_are_written(tmp_path: Path) -> None:
    audio = _chord(2.0)
    wave = Path(pictures.waveform_png(audio, tmp_path, region_s=(0.5, 1.0)))
    spec = Path(pictures.spectrogram_png(audio, tmp_path))
    for p in (wave, spec):
        assert p.parent == tmp_path and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert wave != Path(
        pictures.waveform_png(audio, tmp_path)
    )  # unique names: sessions never overwrite each other
