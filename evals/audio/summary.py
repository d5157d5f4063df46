"""One line of numbers for a result: loudness, true peak, tempo and key from ``analyze_audio``, beside what was
asked, e.g. ``-17.8 LUFS (target -18) · true peak -1.2 dBTP · 98.4 BPM (asked 100) · F major (asked F major)``.

The numbers are those of ``workbench eval analyze`` and the Metrics tab, rounded for reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evals.audio.analysis import analyze_audio
from workbench.core.audio_io import Audio


@dataclass(frozen=True)
class Measures:
    integrated_lufs: float | None
    true_peak_dbtp: float | None
    tempo_bpm: float | None
    key: str | None
    tempo_uncertain: bool = False


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 2)


def measure(audio: Audio) -> Measures:
    a = analyze_audio(audio)
    key = f"{a.key} {a.mode}" if a.key and a.mode else a.key
    tempo = None if a.tempo_bpm is None else round(float(a.tempo_bpm), 1)
    return Measures(
        _finite_or_none(a.integrated_loudness_lufs),
        _finite_or_none(a.true_peak_dbtp),
        tempo,
        key,
        a.tempo_uncertain,
    )


def summary_line(
    audio: Audio,
    *,
    bpm: int | None = None,
    keyscale: str | None = None,
    target_lufs: float | None = None,
) -> str:
    m = measure(audio)
    parts = [
        ("silent" if m.integrated_lufs is None else f"{m.integrated_lufs:.1f} LUFS")
        + (f" (target {target_lufs:g})" if target_lufs is not None else "")
    ]
    parts.append("true peak " + ("-inf" if m.true_peak_dbtp is None else f"{m.true_peak_dbtp:.1f} dBTP"))
    parts.append(
        ("tempo n/a" if m.tempo_bpm is None else f"{m.tempo_bpm:g} BPM")
        + (" (uncertain)" if m.tempo_uncertain else "")
        + (f" (asked {bpm})" if bpm else "")
    )
    parts.append(("key n/a" if m.key is None else m.key) + (f" (asked {keyscale})" if keyscale else ""))
    parts.append(f"{audio.duration_s:.1f} s")
    return " · ".join(parts)
