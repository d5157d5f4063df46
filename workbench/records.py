"""Every result carries its recipe: audio file + JSON sidecar + a row in the store.

The sidecar holds the fully resolved request (seed, steps, guidance, shift, duration), the take index inside
its batch, the model (id, revision or local hash, device, dtype), the LoRA (file hash, rank, alpha, scale),
timings, package versions and the git SHA of the workbench, and every mastering pass made of the take later.
``record`` writes a result and returns what it wrote (``RecordedTake``); the engine's result is never changed.
The store row keeps a copy of the sidecar (``recipe_json``); ``append_mastering`` updates both together.
``replay`` rebuilds the request from a sidecar.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core import audio_io, paths
from workbench.core.config import read_json
from workbench.core.errors import InputError
from workbench.core.fs_errors import writable_folder
from workbench.core.store import RunRow, Store
from workbench.engine import finite
from workbench.engine.requests import request_from_dict

if TYPE_CHECKING:
    from workbench.audio.mastering import MasteringResult
    from workbench.engine.engine import Engine, RunResult, Take

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


@dataclass(frozen=True)
class RecordedTake:
    """Where one take was written: its audio file, its sidecar and its run id (the store row's id)."""

    take: Take
    path: str
    sidecar: str
    run_id: str


def sidecar_for(
    result: RunResult, recorded: RecordedTake, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The take's recipe. ``extra`` adds blocks a service made before the engine ran (the LM's ``plan``)."""
    request = result.request
    take = recorded.take
    return {
        "sidecar_version": SIDECAR_VERSION,
        "run_id": recorded.run_id,
        "batch_id": result.batch_id,
        "take_index": take.index,
        "seed": take.seed,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "request": request.to_dict(),
        "model": result.model.to_dict(),
        "lora": None
        if result.lora is None or request.lora is None
        else {**result.lora.to_dict(), "scale": request.lora.scale},
        "audio": {
            "path": recorded.path,
            "sample_rate": take.audio.sample_rate,
            "channels": take.audio.channels,
            "frames": take.audio.frames,
            "duration_s": take.audio.duration_s,
        },
        "timings": result.timings,
        "notes": result.notes,
        "versions": package_versions(),
        "git_sha": git_sha(),
        **(extra or {}),
    }


def check_format(audio_format: str) -> str:
    if audio_format not in audio_io.WRITE_FORMATS:
        raise InputError("output format", audio_format, f"choose one of {', '.join(audio_io.WRITE_FORMATS)}")
    return audio_format


def record(
    result: RunResult,
    out_dir: str | Path | None = None,
    audio_format: str = "wav",
    store: Store | None = None,
    extra: dict[str, Any] | None = None,
) -> list[RecordedTake]:
    """Write each take as ``<out_dir>/<batch_id>_<take>.<fmt>`` plus ``.json``, and a store row per take."""
    check_format(audio_format)
    folder = check_output_folder(out_dir if out_dir is not None else paths.runs_dir())
    for take in result.takes:  # all or nothing: no take is written if any of them is broken
        finite.check_audio(
            take.audio.samples, f"take {take.index} (after the engine's post-processing)", result.lora
        )
    recorded, rows = [], []
    try:
        for take in result.takes:
            run_id = f"{result.batch_id}_{take.index}"
            audio_path = folder / f"{run_id}.{audio_format}"
            audio_io.write_audio(audio_path, take.audio)
            written = RecordedTake(take, str(audio_path), str(audio_path.with_suffix(".json")), run_id)
            recorded.append(written)
            sidecar = sidecar_for(result, written, extra)
            write_json_atomic(Path(written.sidecar), sidecar)
            rows.append(run_row(result, written, sidecar))
        if store is not None:
            store.add_runs(rows)
    except BaseException:
        # A take that cannot be stored is removed with its sidecar, so no file exists without its row.
        for written in recorded:
            Path(written.path).unlink(missing_ok=True)
            Path(written.sidecar).unlink(missing_ok=True)
        raise
    return recorded


def check_output_folder(folder: str | Path) -> Path:
    """``folder`` created and proven writable; called before the model runs so a read-only or full output
    folder is reported at once, not after minutes of generation."""
    return writable_folder(folder, "output folder")


def run_row(
    result: RunResult,
    recorded: RecordedTake,
    sidecar: dict[str, Any],
    *,
    batch_id: str | None = None,
    status: str | None = None,
    model: str | None = None,
) -> RunRow:
    """The store row of one take. Batches pass their own batch id, QC status and the plan's model name."""
    request = result.request
    take = recorded.take
    return RunRow(
        id=recorded.run_id,
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
        audio_path=recorded.path,
        sidecar_path=recorded.sidecar,
        recipe_json=_recipe_json(sidecar),
    )


def _recipe_json(sidecar: dict[str, Any]) -> str:
    return json.dumps(sidecar, sort_keys=True, default=_json_default)


# Two faces of one app may master the same run at once; the sidecar is read, extended and written back.
_MASTERING_LOCK = threading.Lock()


def mastering_entry(result: MasteringResult, mastered_path: str | Path) -> dict[str, Any]:
    """One mastering pass as the sidecar lists it: the numbers, the mastered file and when."""
    return {
        **result.to_dict(),
        "path": str(mastered_path),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def append_mastering(
    store: Store | None,
    entry: dict[str, Any],
    *,
    run_id: str | None = None,
    sidecar: str | Path | None = None,
) -> dict[str, Any]:
    """Append a mastering pass to a recorded take: its sidecar (key ``mastering``, a list) and its store row.

    Give the run id (its row names the sidecar) or the sidecar (it names the run id). Both copies of the recipe
    are rewritten together, so History (the row) and the result card (the file) show the same recipe.
    Returns the updated sidecar.
    """
    path = _mastering_sidecar(store, run_id, sidecar)
    with _MASTERING_LOCK:
        data = load_sidecar(path)
        data.setdefault("mastering", []).append(entry)
        write_json_atomic(path, data)
        row_id = run_id or data.get("run_id")
        if store is not None and row_id:
            store.update_recipe(str(row_id), _recipe_json(data))
    return data


def _mastering_sidecar(store: Store | None, run_id: str | None, sidecar: str | Path | None) -> Path:
    if sidecar is None:
        row = store.get_run(run_id) if store is not None and run_id else None
        if row is None:
            raise InputError("run_id", run_id, "no such run; pick one from the History tab")
        sidecar = row.sidecar_path
    path = Path(sidecar)
    if not path.is_file():
        raise InputError("sidecar", str(path), "no sidecar next to this take; master a recorded result")
    return path


def load_sidecar(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InputError("sidecar", str(p), "file not found; give the .json written next to a result")
    data = read_json(p, "sidecar")
    if not isinstance(data, dict) or "request" not in data or "take_index" not in data:
        raise InputError("sidecar", str(p), "is not a workbench sidecar (no 'request' / 'take_index')")
    return data


def replay(sidecar: str | Path | dict[str, Any], engine: Engine) -> tuple[RunResult, int]:
    """Re-run a recorded result. Returns (RunResult, take_index): the take at that index reproduces the file."""
    data = sidecar if isinstance(sidecar, dict) else load_sidecar(sidecar)
    request = request_from_dict(data["request"])
    return engine.run(request), int(data["take_index"])
