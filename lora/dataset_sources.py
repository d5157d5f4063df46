"""Where dataset rows come from: a folder scan with sidecars, or a CSV/JSON manifest.

Every row is parsed into a typed `Candidate`; a row that cannot be parsed becomes an `Issue` naming the row and
the reason, and the rest carry on.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.audio_io import READ_SUFFIXES
from workbench.core.errors import InputError

KEY_RE = re.compile(r"^[A-G](#|b)? (major|minor)$")
TIME_SIGNATURES = ("2", "3", "4", "6")
BPM_RANGE = (30, 300)
FIELDS = ("file", "caption", "lyrics", "bpm", "key", "time_signature", "language", "genre", "instrumental")
# Spellings people (and the official ACE-Step CSV) use for the same columns.
ALIASES = {
    "path": "file",
    "audio": "file",
    "filename": "file",
    "prompt": "caption",
    "tags": "caption",
    "keyscale": "key",
    "timesignature": "time_signature",
    "time signature": "time_signature",
    "vocal_language": "language",
    "lang": "language",
    "is_instrumental": "instrumental",
}


@dataclass
class Issue:
    """One bad file, row or field. severity "error" = left out of the dataset; "warning" = kept."""

    source: str
    reason: str
    severity: str = "error"

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason, "severity": self.severity}


@dataclass
class Candidate:
    audio_path: Path
    source: str  # how the report names this row: the file, or "manifest.csv row 4"
    caption: str = ""
    lyrics: str = ""
    bpm: int | None = None
    key: str | None = None
    time_signature: str | None = None
    language: str = "en"
    genre: str = ""
    instrumental: bool | None = None  # None = decide from the lyrics
    notes: list[str] = field(default_factory=list)


class RowError(ValueError):
    """A field of one row is invalid; the row is reported and skipped."""


def _parse_bpm(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowError(f"bpm={value!r}: must be a number between {BPM_RANGE[0]} and {BPM_RANGE[1]}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(f"bpm={value!r}: must be a number between {BPM_RANGE[0]} and {BPM_RANGE[1]}") from None
    if not BPM_RANGE[0] <= number <= BPM_RANGE[1]:
        raise RowError(f"bpm={value!r}: must be between {BPM_RANGE[0]} and {BPM_RANGE[1]}")
    return int(round(number))


def _parse_key(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = " ".join(str(value).replace("♯", "#").replace("♭", "b").split())
    text = text[:1].upper() + text[1:]
    text = re.sub(
        r"\b(Major|Minor|maj|min)$",
        lambda m: "major" if m.group(1).lower().startswith("maj") else "minor",
        text,
    )
    if not KEY_RE.match(text):
        raise RowError(f"key={value!r}: write it like 'C major', 'F# minor' or 'Bb major'")
    return text


def _parse_time_signature(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    text = text.split("/")[0]  # "4/4" -> "4", as the model's metadata writes it
    if text not in TIME_SIGNATURES:
        raise RowError(
            f"time_signature={value!r}: choose one of {', '.join(TIME_SIGNATURES)} (beats per bar)"
        )
    return text


def _parse_bool(value: Any, name: str) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("0", "false", "no", "n"):
        return False
    raise RowError(f"{name}={value!r}: must be true or false")


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise RowError(f"{name}={value!r}: must be text")
    return str(value).strip()


# A key written as two columns (a tonic "F" and a mode "major", as many labelled corpora do) is joined into one.
MODE_COLUMNS = ("mode", "scale", "key_mode", "tonality")


def _join_key_and_mode(out: dict[str, Any], mode: Any) -> None:
    key = out.get("key")
    if _blank_text(mode) or _blank_text(key):  # a mode alone says nothing: the key is estimated instead
        return
    if not re.search(r"(major|minor|maj|min)$", str(key).strip(), re.IGNORECASE):
        out["key"] = f"{str(key).strip()} {str(mode).strip()}"


def _blank_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalise_keys(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A row's columns under their canonical names (aliases folded, a separate mode column joined to the key),
    and the names of the columns it ignores."""
    out: dict[str, Any] = {}
    unknown = []
    mode: Any = None
    for raw_key, value in row.items():
        if raw_key is None:  # csv puts surplus cells of a ragged row under None
            unknown.append("(extra cells)")
            continue
        key = str(raw_key).strip().lower()
        key = ALIASES.get(key, key)
        if key in FIELDS:
            out[key] = value
        elif key in MODE_COLUMNS:
            mode = value
        else:
            unknown.append(str(raw_key))
    _join_key_and_mode(out, mode)
    return out, unknown


def candidate_from_fields(audio_path: Path, source: str, fields: dict[str, Any]) -> Candidate:
    """Parse one row's fields; raises RowError naming the first bad field."""
    return Candidate(
        audio_path=audio_path,
        source=source,
        caption=_text(fields.get("caption"), "caption"),
        lyrics=_text(fields.get("lyrics"), "lyrics"),
        bpm=_parse_bpm(fields.get("bpm")),
        key=_parse_key(fields.get("key")),
        time_signature=_parse_time_signature(fields.get("time_signature")),
        language=_text(fields.get("language"), "language") or "en",
        genre=_text(fields.get("genre"), "genre"),
        instrumental=_parse_bool(fields.get("instrumental"), "instrumental"),
    )


def scan_folder(folder: Path) -> tuple[list[Candidate], list[Issue]]:
    """Audio files under ``folder`` (recursively), each with optional ``<stem>.txt`` lyrics and ``<stem>.json`` metadata."""
    candidates: list[Candidate] = []
    issues: list[Issue] = []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in READ_SUFFIXES)
    for audio in files:
        rel = audio.relative_to(folder).as_posix()
        fields: dict[str, Any] = {}
        sidecar_json = audio.with_suffix(".json")
        if sidecar_json.exists():
            try:
                loaded = json.loads(sidecar_json.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                issues.append(
                    Issue(
                        sidecar_json.relative_to(folder).as_posix(), f"not valid JSON ({exc}); file skipped"
                    )
                )
                continue
            if not isinstance(loaded, dict):
                issues.append(
                    Issue(sidecar_json.relative_to(folder).as_posix(), "must be a JSON object; file skipped")
                )
                continue
            fields, unknown = normalise_keys(loaded)
            fields.pop("file", None)
            if unknown:
                issues.append(Issue(rel, f"metadata keys ignored: {', '.join(unknown)}", "warning"))
        lyrics_txt = audio.with_suffix(".txt")
        if lyrics_txt.exists() and "lyrics" not in fields:
            try:
                fields["lyrics"] = lyrics_txt.read_text()
            except UnicodeDecodeError:
                issues.append(
                    Issue(
                        lyrics_txt.relative_to(folder).as_posix(), "lyrics are not UTF-8 text; file skipped"
                    )
                )
                continue
        try:
            candidates.append(candidate_from_fields(audio, rel, fields))
        except RowError as exc:
            issues.append(Issue(rel, str(exc)))
    if not files:
        issues.append(Issue(str(folder), f"no audio files found (looked for {', '.join(READ_SUFFIXES)})"))
    return candidates, issues


def _read_manifest_rows(path: Path) -> list[dict[str, Any]]:
    from workbench.core.config import read_json, read_text

    if path.suffix.lower() == ".json":
        data = read_json(path, "manifest")
        if isinstance(data, dict) and isinstance(data.get("samples"), list):
            data = data["samples"]
        if not isinstance(data, list):
            raise RowError('must be a JSON list of objects, or {"samples": [...]}')
        return data
    text = read_text(path, "manifest")  # UTF-8 checked (the encoding found is named), size-limited
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [h.strip() for h in reader.fieldnames or []]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:  # DictReader would keep the last column of that name and silently drop the other
        raise RowError(f"column '{repeated[0]}' appears twice in the header; rename or remove one")
    return list(reader)


def read_manifest(path: Path) -> tuple[list[Candidate], list[Issue]]:
    """A CSV (comma, semicolon or tab) or JSON manifest; ``file`` paths are relative to the manifest's folder."""
    try:
        rows = _read_manifest_rows(path)
    except (RowError, InputError, csv.Error) as exc:
        return [], [Issue(path.name, f"cannot read the manifest: {exc}")]
    return candidates_from_rows(rows, path.parent, path.name)


def candidates_from_rows(rows: list[Any], base_dir: Path, label: str) -> tuple[list[Candidate], list[Issue]]:
    """Rows as dicts (a manifest, or the UI's edited table); reports each bad row as "<label> row N"."""
    candidates: list[Candidate] = []
    issues: list[Issue] = []
    warned_unknown = False
    for number, row in enumerate(rows, start=1):
        source = f"{label} row {number}"
        if not isinstance(row, dict):
            issues.append(Issue(source, "must be an object with a 'file' field"))
            continue
        fields, unknown = normalise_keys(row)
        if unknown and not warned_unknown:
            issues.append(Issue(label, f"columns ignored: {', '.join(unknown)}", "warning"))
            warned_unknown = True
        name = _text(fields.get("file"), "file") if isinstance(fields.get("file"), (str, type(None))) else ""
        if not name:
            issues.append(Issue(source, "no 'file' given; every row needs the audio file's path"))
            continue
        audio = Path(name).expanduser()
        if not audio.is_absolute():
            audio = base_dir / audio
        if not audio.is_file():
            issues.append(
                Issue(f"{source} ({name})", "audio file not found; check the path (relative to the manifest)")
            )
            continue
        try:
            candidates.append(candidate_from_fields(audio, f"{source} ({name})", fields))
        except RowError as exc:
            issues.append(Issue(f"{source} ({name})", str(exc)))
    return candidates, issues


def candidate_to_row(cand: Candidate) -> dict[str, Any]:
    """The editable-table form of a scanned file (absolute path, every manifest field)."""
    return {
        "file": str(cand.audio_path.resolve()),
        "caption": cand.caption,
        "lyrics": cand.lyrics,
        "bpm": cand.bpm,
        "key": cand.key,
        "time_signature": cand.time_signature,
        "language": cand.language,
        "genre": cand.genre,
        "instrumental": cand.instrumental,
    }
