"""Every result carries its recipe: audio file + JSON sidecar + a row in the store.

The sidecar holds the fully resolved request (seed, steps, guidance, shift, duration), the take index inside
its batch, the model (id, revision or local hash, device, dtype), the LoRA (file hash, rank, alpha, scale),
timings, package versions and the git SHA of the workbench. ``replay`` rebuilds the request from it.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench.core import audio_io, paths
from workbench.core.store import RunRow, Store
from workbench.engine.requests import request_from_dict

SIDECAR_VERSION = 1
_PACKAGES = (
    "torch",
    "diffusers",
    "transformers",
    "peft",
    "accelerate",
    "numpy",
    "soundfile",
    "ace-workbench",
)


@functools.cache
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.cache
def git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=paths.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def _json_default(value: Any) -> Any:
    """numpy scalars/arrays (metrics) become numbers/lists; anything else (paths, enums) its string."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and a rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=_json_default)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sidecar_for(result: Any, take: Any) -> dict[str, Any]:
    request = result.request
    return {
        "sidecar_version": SIDECAR_VERSION,
        "run_id": take.run_id,
        "batch_id": result.batch_id,
        "take_index": take.index,
        "seed": take.seed,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "request": request.to_dict(),
        "model": result.model.to_dict(),
        "lora": None if result.lora is None else {**result.lora.to_dict(), "scale": request.lora.scale},
        "audio": {
            "path": take.path,
            "sample_rate": take.audio.sample_rate,
            "channels": take.audio.channels,
            "frames": take.audio.frames,
            "duration_s": take.audio.duration_s,
        },
        "timings": result.timings,
        "notes": result.notes,
        "versions": package_versions(),
        "git_sha": git_sha(),
    }


class Recorder:
    """Writes each take as ``<out_dir>/<batch_id>_<take>.<fmt>`` plus ``.json``, and a store row per take."""

    def __init__(
        self, out_dir: str | Path | None = None, store: Store | None = None, audio_format: str = "wav"
    ):
        self.out_dir = Path(out_dir) if out_dir is not None else paths.runs_dir()
        self.store = store
        if audio_format not in audio_io.WRITE_FORMATS:
            from workbench.core.errors import InputError

            raise InputError(
                "output format", audio_format, f"choose one of {', '.join(audio_io.WRITE_FORMATS)}"
            )
        self.audio_format = audio_format

    def record(self, result: Any) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for take in result.takes:
            take.run_id = f"{result.batch_id}_{take.index}"
            audio_path = self.out_dir / f"{take.run_id}.{self.audio_format}"
            audio_io.write_audio(audio_path, take.audio)
            take.path = str(audio_path)
            sidecar_path = audio_path.with_suffix(".json")
            sidecar = sidecar_for(result, take)
            write_json_atomic(sidecar_path, sidecar)
            take.sidecar = str(sidecar_path)
            rows.append(run_row(result, take, sidecar))
        if self.store is not None:
            self.store.add_runs(rows)


def run_row(
    result: Any,
    take: Any,
    sidecar: dict[str, Any],
    *,
    batch_id: str | None = None,
    status: str | None = None,
    model: str | None = None,
) -> RunRow:
    """The store row of one take. Batches pass their own batch id, QC status and the plan's model name."""
    request = result.request
    return RunRow(
        id=take.run_id,
        batch_id=batch_id or result.batch_id,
        take_index=take.index,
        created_at=sidecar["created_at"],
        task=request.task,
        status=status or result.status,
        model=model or result.model.name,
        model_revision=result.model.revision,
        prompt=request.prompt,
        lyrics=request.lyrics,
        genre=request.genre,
        lora=request.lora.path if request.lora else None,
        lora_scale=request.lora.scale if request.lora else None,
        seed=take.seed,
        duration_s=take.audio.duration_s,
        audio_path=take.path,
        sidecar_path=take.sidecar,
        recipe_json=json.dumps(sidecar, sort_keys=True, default=_json_default),
    )


def load_sidecar(path: str | Path) -> dict[str, Any]:
    from workbench.core.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError("sidecar", str(p), "file not found; give the .json written next to a result")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError("sidecar", str(p), f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or "request" not in data or "take_index" not in data:
        raise InputError("sidecar", str(p), "is not a workbench sidecar (no 'request' / 'take_index')")
    return data


def replay(sidecar: str | Path | dict[str, Any], engine: Any, *, record: bool = True) -> Any:
    """Re-run a recorded result. Returns (RunResult, take_index): the take at that index reproduces the file."""
    data = sidecar if isinstance(sidecar, dict) else load_sidecar(sidecar)
    request = request_from_dict(data["request"])
    result = engine.run(request, record=record)
    return result, int(data["take_index"])
