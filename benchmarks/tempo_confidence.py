"""Tempo confidence: how often the workbench's tempo is right when it is confident, and how much it marks
uncertain, beside a plain beat tracker (librosa.beat.beat_track) on the same clips.

Clips: synthetic drum loops, drumless ambient pieces and soft keys of known tempo (evals.audio.rhythm_probes), and,
when given, a labelled corpus folder with a labels.json of {"file", "bpm"} rows. A reading is right within 4 % of
the label (acc1) or also at half/double/third/triple tempo (acc2, MIREX's "Accuracy 2").

    python -m benchmarks.tempo_confidence [--corpus /path/to/corpus]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from evals.audio import rhythm_probes
from evals.audio.rhythm import TEMPO_CONFIDENCE_THRESHOLD, measure_rhythm

TEMPOS = (60, 63, 68, 70, 72, 78, 84, 96, 110, 124)
TOLERANCE = 0.04
FACTORS = (1.0, 0.5, 2.0, 1 / 3, 3.0)


def right(measured: float | None, truth: float, factors: tuple[float, ...]) -> bool:
    return measured is not None and any(abs(measured * f - truth) <= TOLERANCE * truth for f in factors)


def synthetic() -> Iterator[tuple[str, float, np.ndarray, int]]:
    for kind in rhythm_probes.KINDS:
        for seed, bpm in enumerate(TEMPOS):
            yield kind, float(bpm), rhythm_probes.render(kind, bpm, 20.0, seed), rhythm_probes.SAMPLE_RATE


def corpus(folder: Path) -> Iterator[tuple[str, float, np.ndarray, int]]:
    from workbench.core.audio_io import read_audio

    for row in json.loads((folder / "labels.json").read_text()):
        if row.get("bpm"):
            audio = read_audio(folder / row["file"])
            yield (
                f"corpus:{row.get('genre', '?')}",
                float(row["bpm"]),
                audio.samples.mean(axis=0),
                audio.sample_rate,
            )


def evaluate(clips: Iterator[tuple[str, float, np.ndarray, int]]) -> dict[str, list[dict[str, float | bool]]]:
    import librosa

    groups: dict[str, list[dict[str, float | bool]]] = {}
    for group, truth, mono, sr in clips:
        stats = measure_rhythm(mono.astype(np.float32), sr)
        beat = float(np.atleast_1d(librosa.beat.beat_track(y=mono.astype(np.float32), sr=sr)[0])[0])
        groups.setdefault(group, []).append(
            {
                "truth": truth,
                "ours": stats.tempo_bpm or 0.0,
                "confidence": stats.tempo_confidence,
                "confident": stats.tempo_bpm is not None
                and stats.tempo_confidence >= TEMPO_CONFIDENCE_THRESHOLD,
                "ours_acc1": right(stats.tempo_bpm, truth, FACTORS[:1]),
                "ours_acc2": right(stats.tempo_bpm, truth, FACTORS),
                "beat_acc1": right(beat or None, truth, FACTORS[:1]),
                "beat_acc2": right(beat or None, truth, FACTORS),
            }
        )
    return groups


def _pct(values: list[bool]) -> str:
    return "—" if not values else f"{100 * sum(values) / len(values):.0f} %"


def table(groups: dict[str, list[dict[str, float | bool]]]) -> str:
    lines = [
        "| clips | n | ours acc1 / acc2 (all) | marked uncertain | ours acc1 / acc2 when confident "
        "| librosa beat_track acc1 / acc2 |",
        "|---|---|---|---|---|---|",
    ]
    for group, rows in groups.items():
        sure = [r for r in rows if r["confident"]]
        lines.append(
            f"| {group} | {len(rows)} "
            f"| {_pct([bool(r['ours_acc1']) for r in rows])} / {_pct([bool(r['ours_acc2']) for r in rows])} "
            f"| {_pct([not r['confident'] for r in rows])} "
            f"| {_pct([bool(r['ours_acc1']) for r in sure])} / {_pct([bool(r['ours_acc2']) for r in sure])} "
            f"| {_pct([bool(r['beat_acc1']) for r in rows])} / {_pct([bool(r['beat_acc2']) for r in rows])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a folder with labels.json (file, bpm) and its audio")
    parser.add_argument("--details", action="store_true", help="print every clip's reading")
    args = parser.parse_args(argv)
    groups = evaluate(synthetic())
    if args.corpus:
        groups |= evaluate(corpus(args.corpus))
    print(f"threshold {TEMPO_CONFIDENCE_THRESHOLD}")
    print(table(groups))
    if args.details:
        for group, rows in groups.items():
            for r in rows:
                print(group, r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
