"""Which files a caller may download (``/v1/audio``) or name as a task's source.

Downloads are limited to audio the workbench wrote: the path is resolved (links followed, ``..`` removed) and must
land inside the runs folder, with an audio suffix. Sources may also be uploads. Upstream's clients pass the path
in three ways, all accepted: a server path, a ``/v1/audio?path=...`` URL (the ``file`` of a result item), or a whole
``result`` string (its first item's file), as brightears/ace_music@69ecc4e:src/ace_client.py does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from workbench.core.errors import InputError
from workbench.rest.responses import ApiError

MIME_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
}
SOURCE_SUFFIXES = tuple(f".{s}" for s in MIME_TYPES)


def path_text(text: str) -> str:
    """The server path inside whatever a client sent: a path, a /v1/audio URL or a result string."""
    text = text.strip()
    if text.startswith(("[", "{")):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return text
        items = parsed if isinstance(parsed, list) else [parsed]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("file"), str) and item["file"]:
                return path_text(item["file"])
        return text
    if "/v1/audio" in text and "?" in text:
        values = parse_qs(urlsplit(text).query).get("path")
        if values:
            return values[0]
    return text


def audio_url(path: str | Path) -> str:
    from urllib.parse import quote

    return f"/v1/audio?path={quote(str(path), safe='')}"


@dataclass(frozen=True)
class Files:
    serve_roots: tuple[Path, ...]  # what /v1/audio may serve: the runs folder
    upload_dir: Path  # where multipart uploads are kept (sources only)

    def _inside(self, text: str, roots: tuple[Path, ...]) -> Path | None:
        raw = Path(path_text(text)).expanduser()
        for root in roots:
            real_root = Path(os.path.realpath(root))
            candidate = Path(os.path.realpath(raw if raw.is_absolute() else root / raw))
            if candidate == real_root or real_root in candidate.parents:
                return candidate
        return None

    def download(self, text: str) -> tuple[Path, str]:
        """(file, MIME type) for /v1/audio, or 403 / 404."""
        if not text or not text.strip():
            raise ApiError(
                400, "path: give the file of a result (its /v1/audio?path=... or the path)", "path"
            )
        found = self._inside(text, self.serve_roots)
        suffix = found.suffix.lower().lstrip(".") if found is not None else ""
        if found is None or suffix not in MIME_TYPES:
            raise ApiError(403, "path: this server serves only audio it generated", "path")
        if not found.is_file():
            raise ApiError(404, "path: no such result file (it may have been deleted)", "path")
        return found, MIME_TYPES[suffix]

    def source(self, field: str, text: str) -> str:
        """A source a task may read: audio this server wrote or an upload; else an ``InputError`` on ``field``."""
        found = self._inside(text, (*self.serve_roots, self.upload_dir))
        if found is None:
            raise InputError(
                field, text, "name a file this server wrote (a result's file) or upload it as multipart"
            )
        if found.suffix.lower() not in SOURCE_SUFFIXES:
            raise InputError(field, text, f"is not an audio file ({', '.join(SOURCE_SUFFIXES)})")
        if not found.is_file():
            raise InputError(field, text, "no such file: upload it, or use the file of a finished task")
        return str(found)

    def save_upload(self, name: str, data: bytes) -> Path:
        """Keep an uploaded file under a fresh name (the client's name is never used as a path)."""
        import secrets

        suffix = Path(name or "").suffix.lower()
        if suffix not in SOURCE_SUFFIXES:
            suffix = ".wav"
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        out = self.upload_dir / f"{secrets.token_hex(8)}{suffix}"
        out.write_bytes(data)
        return out
