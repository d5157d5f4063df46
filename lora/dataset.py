"""Build a LoRA training dataset: validate every audio file, estimate missing metadata, apply the trigger tag,
split train/validation and store a Hugging Face ``datasets`` DatasetDict on disk with a validation report.

A bad file or row never stops the build; it goes into the report with its reason.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lora import analysis
from lora.auto_label import Labeller, fill
from lora.dataset_sources import (
    Candidate,
    Issue,
    candidate_to_row,
    candidates_from_rows,
    read_manifest,
    scan_folder,
)
from workbench.core.audio_io import load_conformed
from workbench.core.digest import file_sha256
from workbench.core.errors import AudioInputError, InputError, WeightsMissingError, WorkbenchError

TRIGGER_MODES = ("prepend", "append", "replace")
DATASET_SUBDIR = "dataset"
REPORT_JSON = "report.json"
REPORT_TXT = "report.txt"
ANALYSIS_MAX_S = 60.0  # tempo/key from the first minute is plenty and keeps a long file cheap
Progress = Callable[[int, int, str], None]


@dataclass
class DatasetOptions:
    trigger_tag: str = ""
    trigger_mode: str = "prepend"
    val_fraction: float = 0.1
    seed: int = 42
    min_duration_s: float = 1.0
    max_duration_s: float = 600.0  # ACE-Step 1.5's longest output; longer files are rejected before decoding
    silence_dbfs: float = -60.0  # a file whose peak is below this is treated as silent
    estimate: bool = True

    def validate(self) -> None:
        if self.trigger_mode not in TRIGGER_MODES:
            raise InputError("trigger_mode", self.trigger_mode, f"choose one of {', '.join(TRIGGER_MODES)}")
        if self.trigger_mode == "replace" and not self.trigger_tag.strip():
            raise InputError(
                "trigger_tag", self.trigger_tag, "trigger_mode 'replace' needs a non-empty trigger tag"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError("val_fraction", self.val_fraction, "must be in [0, 1)")
        if not 0 < self.min_duration_s < self.max_duration_s:
            raise InputError("min_duration_s", self.min_duration_s, "must be > 0 and below max_duration_s")


@dataclass
class Record:
    """One training clip, as stored in the dataset."""

    id: str
    audio_path: str
    audio_sha256: str
    caption: str
    lyrics: str
    instrumental: bool
    bpm: int | None
    key: str | None
    time_signature: str | None
    language: str
    genre: str
    duration_s: float
    estimated: list[str] = field(default_factory=list)
    split: str = "train"
    source: str = ""
    labelled_by: str = ""  # the LM (name@revision) whose auto-label filled fields listed in ``estimated``

    @property
    def lyrics_for_model(self) -> str:
        # The same rule as workbench.engine.requests.GenerationRequest, so training sees what inference sends.
        return "[Instrumental]" if self.instrumental or not self.lyrics.strip() else self.lyrics


@dataclass
class DatasetReport:
    records: list[Record]
    issues: list[Issue]
    source: str
    options: DatasetOptions

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def counts(self) -> dict[str, int]:
        return {
            "kept": len(self.records),
            "train": sum(r.split == "train" for r in self.records),
            "validation": sum(r.split == "validation" for r in self.records),
            "rejected": len(self.errors),
            "warnings": len(self.issues) - len(self.errors),
            "estimated": sum(bool(r.estimated) for r in self.records),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "options": asdict(self.options),
            "counts": self.counts(),
            "issues": [i.to_dict() for i in self.issues],
            "records": [asdict(r) for r in self.records],
        }

    def to_text(self) -> str:
        c = self.counts()
        lines = [
            f"dataset from {self.source}: {c['kept']} clips kept ({c['train']} train, {c['validation']} validation), "
            f"{c['rejected']} rejected, {c['warnings']} warnings, {c['estimated']} with estimated metadata"
        ]
        for issue in self.issues:
            lines.append(f"  {issue.severity.upper():7s} {issue.source}: {issue.reason}")
        for r in self.records:
            if r.estimated:
                shown = ", ".join(f"{k}={getattr(r, k)}" for k in r.estimated)
                by = f" (auto-label: {r.labelled_by})" if r.labelled_by else ""
                lines.append(f"  ESTIMATE {r.source}: {shown}{by}")
        return "\n".join(lines)


def apply_trigger(caption: str, tag: str, mode: str) -> str:
    tag = tag.strip()
    if not tag:
        return caption
    if mode == "replace" or not caption.strip():
        return tag
    return f"{tag}, {caption}" if mode == "prepend" else f"{caption}, {tag}"


def _check_audio(cand: Candidate, opts: DatasetOptions) -> tuple[np.ndarray, float]:
    """Return conformed samples and their duration; raise AudioInputError with the reason otherwise."""
    path = cand.audio_path
    if path.stat().st_size == 0:
        raise AudioInputError("audio", cand.source, "the file is empty (0 bytes)")
    # load_conformed checks length, channels and rate from the header before it decodes anything.
    try:
        audio = load_conformed(path, max_duration_s=opts.max_duration_s)
    except AudioInputError as exc:
        raise AudioInputError("audio", cand.source, exc.fix) from None
    if audio.duration_s < opts.min_duration_s:
        raise AudioInputError(
            "audio",
            cand.source,
            f"is {audio.duration_s:.2f} s long; the minimum is {opts.min_duration_s:g} s",
        )
    peak = float(np.abs(audio.samples).max())
    peak_dbfs = 20 * math.log10(peak) if peak > 0 else -math.inf
    if peak_dbfs < opts.silence_dbfs:
        raise AudioInputError(
            "audio", cand.source, f"is silent (peak {peak_dbfs:.1f} dBFS, below {opts.silence_dbfs:g} dBFS)"
        )
    return audio.samples, audio.duration_s


def _auto_label(
    cand: Candidate, label: Labeller | None, issues: list[Issue]
) -> tuple[dict[str, Any], list[str], str]:
    """The candidate's caption/bpm/key/time signature with the empty ones filled by ``label``."""
    given = {"caption": cand.caption, "bpm": cand.bpm, "key": cand.key, "time_signature": cand.time_signature}
    if label is None:
        return given, [], ""
    try:
        guess = label(cand.audio_path)
    except WeightsMissingError:
        raise  # no LM: every clip would fail the same way
    except WorkbenchError as exc:  # one clip the LM cannot label keeps its own values
        issues.append(Issue(cand.source, f"auto-label skipped: {exc}", "warning"))
        return given, [], ""
    values, filled = fill(given, guess)
    return values, filled, guess.lm if filled else ""


def _record(
    cand: Candidate,
    samples: np.ndarray,
    duration_s: float,
    opts: DatasetOptions,
    label: Labeller | None = None,
    issues: list[Issue] | None = None,
) -> Record:
    labelled, estimated, labelled_by = _auto_label(cand, label, issues if issues is not None else [])
    bpm, key = labelled["bpm"], labelled["key"]
    if opts.estimate and (bpm is None or key is None):
        head = samples[:, : int(ANALYSIS_MAX_S * 48_000)]
        est = analysis.estimate(head, 48_000)
        if bpm is None and est.bpm is not None:
            bpm = est.bpm
            estimated.append("bpm")
        if key is None and est.key is not None:
            key = est.key
            estimated.append("key")
    estimated.append("duration_s")  # always measured from the audio, never taken from metadata
    instrumental = cand.instrumental
    if instrumental is None:
        instrumental = not cand.lyrics.strip() or cand.lyrics.strip().lower() == "[instrumental]"
    caption = labelled["caption"] or cand.genre
    caption = apply_trigger(caption, opts.trigger_tag, opts.trigger_mode)
    digest = file_sha256(cand.audio_path)
    return Record(
        id=digest[:16],
        audio_path=str(cand.audio_path.resolve()),
        audio_sha256=digest,
        caption=caption,
        lyrics=cand.lyrics,
        instrumental=bool(instrumental),
        bpm=bpm,
        key=key,
        time_signature=labelled["time_signature"],
        language=cand.language,
        genre=cand.genre,
        duration_s=round(duration_s, 3),
        estimated=estimated,
        source=cand.source,
        labelled_by=labelled_by,
    )


def _split(records: list[Record], val_fraction: float, seed: int) -> None:
    n_val = int(round(len(records) * val_fraction))
    if val_fraction > 0 and len(records) >= 2:
        n_val = max(1, n_val)
    n_val = min(n_val, len(records) - 1)
    order = sorted(records, key=lambda r: r.id)  # independent of scan order, so re-runs split the same way
    random.Random(seed).shuffle(order)
    val_ids = {r.id for r in order[:n_val]}
    for r in records:
        r.split = "validation" if r.id in val_ids else "train"


def _read_source(source: str | os.PathLike[str]) -> tuple[list[Candidate], list[Issue]]:
    src = Path(source).expanduser()
    if src.is_dir():
        return scan_folder(src)
    if src.is_file() and src.suffix.lower() in (".csv", ".json", ".tsv"):
        return read_manifest(src)
    raise InputError("source", str(source), "give a folder of audio files or a .csv/.json manifest")


def scan(source: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[Issue]]:
    """Rows for an editable table (no audio decoded yet) plus the problems found while reading the source.
    Pass the edited rows back to ``build_dataset``."""
    candidates, issues = _read_source(source)
    return [candidate_to_row(c) for c in candidates], issues


def build_dataset(
    source: str | os.PathLike[str] | list[dict[str, Any]],
    out_dir: str | os.PathLike[str] | None = None,
    options: DatasetOptions | None = None,
    progress: Progress | None = None,
    label: Labeller | None = None,
) -> DatasetReport:
    """Scan a folder, read a manifest or take rows (from ``scan``, maybe edited); validate every file, estimate
    missing metadata, split; save to ``out_dir`` when given. ``label`` (``lora.auto_label``) fills empty captions,
    bpm, key and time signature with the LM's Understand first; audio analysis then estimates bpm/key left empty."""
    opts = options or DatasetOptions()
    opts.validate()
    if isinstance(source, list):
        candidates, issues = candidates_from_rows(source, Path.cwd(), "table")
        src: Path | str = "table"
    else:
        candidates, issues = _read_source(source)
        src = Path(source).expanduser()
    records: list[Record] = []
    seen: dict[str, str] = {}
    for i, cand in enumerate(candidates):
        if progress is not None:
            progress(i, len(candidates), f"checking {cand.source}")
        try:
            samples, duration_s = _check_audio(cand, opts)
        except AudioInputError as exc:
            issues.append(Issue(cand.source, exc.fix))
            continue
        record = _record(cand, samples, duration_s, opts, label, issues)
        if record.audio_sha256 in seen:
            issues.append(
                Issue(cand.source, f"same audio as {seen[record.audio_sha256]}; duplicate skipped", "warning")
            )
            continue
        seen[record.audio_sha256] = cand.source
        if not record.caption:
            issues.append(
                Issue(cand.source, "no caption, genre or trigger tag; it trains on metadata only", "warning")
            )
        records.append(record)
    if progress is not None:
        progress(len(candidates), len(candidates), "done")
    _split(records, opts.val_fraction, opts.seed)
    report = DatasetReport(records, issues, str(src), opts)
    if out_dir is not None:
        save_dataset(report, Path(out_dir))
    return report


def _features():
    from datasets import Features, Sequence, Value

    return Features(
        {
            "id": Value("string"),
            "audio_path": Value("string"),
            "audio_sha256": Value("string"),
            "caption": Value("string"),
            "lyrics": Value("string"),
            "instrumental": Value("bool"),
            "bpm": Value("int32"),
            "key": Value("string"),
            "time_signature": Value("string"),
            "language": Value("string"),
            "genre": Value("string"),
            "duration_s": Value("float64"),
            "estimated": Sequence(Value("string")),
            "split": Value("string"),
            "source": Value("string"),
            "labelled_by": Value("string"),
        }
    )


def save_dataset(report: DatasetReport, out_dir: Path) -> Path:
    from datasets import Dataset, DatasetDict

    out_dir.mkdir(parents=True, exist_ok=True)
    features = _features()
    splits = {}
    for split in ("train", "validation"):
        rows = [asdict(r) for r in report.records if r.split == split]
        columns = {
            name: [row[name] for row in rows] for name in features
        }  # from_list fails on an empty split
        splits[split] = Dataset.from_dict(columns, features=features)
    # One shard per split even when empty: datasets writes zero shards for an empty split and cannot load it back.
    DatasetDict(splits).save_to_disk(str(out_dir / DATASET_SUBDIR), num_shards={k: 1 for k in splits})
    (out_dir / REPORT_JSON).write_text(json.dumps(report.to_dict(), indent=2))
    (out_dir / REPORT_TXT).write_text(report.to_text() + "\n")
    return out_dir


def load_records(data_dir: str | os.PathLike[str], split: str | None = None) -> list[Record]:
    """Read a saved dataset back as Records (``split`` None = both)."""
    from datasets import load_from_disk

    folder = Path(data_dir).expanduser() / DATASET_SUBDIR
    if not folder.is_dir():
        raise InputError(
            "data", str(data_dir), "no dataset here; build one with `workbench lora prepare FOLDER --out DIR`"
        )
    ds = load_from_disk(str(folder))
    names = [split] if split else ["train", "validation"]
    out = []
    for name in names:
        for row in ds[name]:
            out.append(Record(**row))
    return out


def dataset_summary(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts, genres and the trigger tag, for model cards and the UI."""
    path = Path(data_dir) / REPORT_JSON
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    genres = sorted({r["genre"] for r in report["records"] if r["genre"]})
    total_s = sum(r["duration_s"] for r in report["records"])
    return {
        "source": report["source"],
        **report["counts"],
        "genres": genres,
        "trigger_tag": report["options"]["trigger_tag"],
        "trigger_mode": report["options"]["trigger_mode"],
        "total_duration_s": round(total_s, 1),
    }
