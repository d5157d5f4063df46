"""Per-track objective results that a decision report needs: delivery pass/fail, loudness and tempo per system.

The per-track analysis and delivery checks live elsewhere in ``evals`` (``workbench eval analyze``). A report
only needs a few numbers per clip, tagged with the system and genre the clip belongs to, so it reads them as
``TrackResult`` records from a CSV / JSON file (columns below) or receives them from the caller.

    system           TEXT   system name, as in the votes
    genre            TEXT   genre key, as in the votes
    delivery_pass    BOOL   1/0 or true/false; empty when not checked
    loudness_lufs    REAL   integrated loudness (BS.1770), optional
    true_peak_dbtp   REAL   optional
    tempo_bpm        REAL   optional
    reasons          TEXT   why delivery failed, "; "-separated, optional
    path             TEXT   the clip, optional

They can also be measured here from audio (``analyze_clips``) with the per-track analysis and delivery checks
(``evals.audio.analysis.analyze_file``), for a list of ``ClipSource`` (path, system, genre): from a CSV, or a
campaign's own clips as ``workbench.campaigns.db.campaign_clips`` reads them (the source files as they entered the
campaign, before loudness matching, because matching would hide exactly the loudness and peak problems delivery
checks look for).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.core.errors import InputError

if TYPE_CHECKING:
    from evals.audio.result import TrackAnalysis

_REASON_KEY = re.compile(r"[^\d+\-±]*")


class ClipSource(NamedTuple):
    """One clip to analyze for a report: where it is and the system and genre it stands for."""

    path: str
    system: str
    genre: str


@dataclass(frozen=True)
class TrackResult:
    system: str
    genre: str
    delivery_pass: bool | None = None
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    tempo_bpm: float | None = None
    reasons: tuple[str, ...] = ()
    path: str = ""


@dataclass
class DeliverySummary:
    tracks: int  # tracks with a delivery verdict
    passed: int
    failures: list[str] = field(default_factory=list)  # most common failure reasons, for the report

    @property
    def pass_rate(self) -> float:
        return self.passed / self.tracks if self.tracks else math.nan


def _opt_float(where: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(where, value, "must be a number or empty") from None
    return None if math.isnan(number) else number


def _opt_bool(where: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "nan", "none"):
        return None
    if text in ("1", "1.0", "true", "yes", "pass", "t"):
        return True
    if text in ("0", "0.0", "false", "no", "fail", "f"):
        return False
    raise InputError(where, value, "use 1/0, true/false or pass/fail")


def track_result_from_record(record: dict[str, Any], where: str = "track") -> TrackResult:
    for key in ("system", "genre"):
        if not str(record.get(key) or "").strip():
            raise InputError(
                f"{where}.{key}", record.get(key), "every track result needs its system and genre"
            )
    reasons = record.get("reasons") or ()
    if isinstance(reasons, str):
        reasons = tuple(r.strip() for r in reasons.split(";") if r.strip())
    return TrackResult(
        system=str(record["system"]),
        genre=str(record["genre"]),
        delivery_pass=_opt_bool(f"{where}.delivery_pass", record.get("delivery_pass")),
        loudness_lufs=_opt_float(f"{where}.loudness_lufs", record.get("loudness_lufs")),
        true_peak_dbtp=_opt_float(f"{where}.true_peak_dbtp", record.get("true_peak_dbtp")),
        tempo_bpm=_opt_float(f"{where}.tempo_bpm", record.get("tempo_bpm")),
        reasons=tuple(str(r) for r in reasons),
        path=str(record.get("path") or ""),
    )


def read_track_results(path: str | Path) -> list[TrackResult]:
    path = Path(path)
    if not path.is_file():
        raise InputError("tracks", str(path), "file not found; give a CSV or JSON of per-track results")
    records: Any
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(
                "tracks", str(path), f"not valid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        records = data.get("tracks") if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise InputError("tracks", str(path), 'JSON must be a list of track objects or {"tracks": [...]}')
    else:
        raise InputError("tracks", str(path), "use a .csv or .json file")
    return [track_result_from_record(r, f"{path.name}[{i}]") for i, r in enumerate(records)]


def delivery_summary(results: Iterable[TrackResult], system: str, genre: str) -> DeliverySummary | None:
    """Pass counts of one system in one genre; None when no track of it has a delivery verdict."""
    checked = [r for r in results if r.system == system and r.genre == genre and r.delivery_pass is not None]
    if not checked:
        return None
    # Reasons carry measured numbers ("loudness -10.2 LUFS outside ..."), so group by the words before the first
    # number and keep one example of each.
    groups: dict[str, list[str]] = {}
    for r in checked:
        if not r.delivery_pass:
            for reason in r.reasons or ("failed (no reason recorded)",):
                key = _REASON_KEY.match(reason)
                groups.setdefault(
                    key.group(0).strip() if key and key.group(0).strip() else reason, []
                ).append(reason)
    top = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:3]
    return DeliverySummary(
        tracks=len(checked),
        passed=sum(1 for r in checked if r.delivery_pass),
        failures=[
            f"{key} {len(items)}x" + (f", e.g. {items[0]}" if items[0] != key else "") for key, items in top
        ],
    )


def from_analysis(analysis: TrackAnalysis, system: str, genre: str) -> TrackResult:
    """A ``TrackResult`` from a ``TrackAnalysis`` (with its delivery verdict, if checked)."""
    delivery = analysis.delivery
    return TrackResult(
        system=system,
        genre=genre,
        delivery_pass=None if delivery is None else bool(delivery.passed),
        loudness_lufs=analysis.integrated_loudness_lufs
        if math.isfinite(analysis.integrated_loudness_lufs)
        else None,
        true_peak_dbtp=analysis.true_peak_dbtp if math.isfinite(analysis.true_peak_dbtp) else None,
        tempo_bpm=analysis.tempo_bpm,
        reasons=tuple(delivery.reasons) if delivery is not None else (),
        path=str(analysis.path or ""),
    )


def analyze_clips(
    clips: Sequence[ClipSource], progress: Callable[[int, int], None] | None = None
) -> list[TrackResult]:
    """Analyze and delivery-check each (path, system, genre)."""
    from evals.audio.analysis import analyze_file

    out = []
    for i, (path, system, genre) in enumerate(clips):
        if not Path(path).is_file():
            raise InputError("clips", path, f"audio file of system {system!r} not found")
        out.append(from_analysis(analyze_file(path, genre=genre), system, genre))
        if progress is not None:
            progress(i + 1, len(clips))
    return out


def read_clip_list(path: str | Path) -> list[ClipSource]:
    """(path, system, genre) rows from a CSV with those columns; relative paths are relative to the CSV."""
    path = Path(path)
    if not path.is_file():
        raise InputError("clips", str(path), "file not found; give a CSV with columns path, system, genre")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, row in enumerate(rows):
        missing = [c for c in ("path", "system", "genre") if not str(row.get(c) or "").strip()]
        if missing:
            raise InputError(
                f"{path.name}[{i}]", row, f"missing {', '.join(missing)}; columns are path, system, genre"
            )
        clip = Path(row["path"])
        out.append(
            ClipSource(str(clip if clip.is_absolute() else path.parent / clip), row["system"], row["genre"])
        )
    return out
