"""Batch plans: CSV, JSON or YAML files expanded to a list of jobs, each one engine request with a stable ID.

A plan is a list of rows (CSV lines, or ``entries`` in JSON/YAML). Each row expands to the cartesian product of its
axes: ``seeds`` (required), and in JSON/YAML any field given as a list (genre, prompt, model, lora, lora_scale,
steps, ...) plus the plan-wide ``grid``. Every expanded job is built as a real engine request and validated, so a
bad plan fails with all of its row-level problems before a model is loaded. A job's ID is a hash of its full
recipe (``request.to_dict()`` with the seed, plus the model), so re-running a plan finds finished items by ID.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.batch.presets import load_genres
from workbench.errors import InputError, WorkbenchError
from workbench.requests import MAX_SEED, REQUEST_TYPES, GenerationRequest, SourceRequest, request_from_dict

DEFAULT_MODEL = "turbo"
MAX_JOBS = 1_000_000
MAX_SEEDS_PER_ROW = 100_000
PLAN_SUFFIXES = (".csv", ".json", ".yaml", ".yml")
_TOP_KEYS = {"name", "model", "defaults", "grid", "entries", "run", "qc", "export"}
# Row keys that are not request fields: how to expand the row and what to record with it.
_ROW_META = {"seeds", "seed", "model", "lora", "lora_scale", "title", "prompt_id", "task"}
_NOT_IN_PLANS = {"batch_size"}  # batching is decided by the runner (run.max_group), not per row
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _request_fields() -> dict[str, str]:
    """Every request field of every task, with its annotation text (used to convert CSV cells)."""
    out: dict[str, str] = {}
    for cls in REQUEST_TYPES.values():
        for f in dataclasses.fields(cls):
            if f.name not in ("lora",) and f.name not in _NOT_IN_PLANS:
                out[f.name] = str(f.type)
    return out


REQUEST_FIELDS = _request_fields()
ROW_KEYS = frozenset(set(REQUEST_FIELDS) | _ROW_META)


@dataclass(frozen=True)
class PlanProblem:
    row: int  # CSV: line number in the file (header = row 1); JSON/YAML: position in `entries` (from 1); 0 = plan-wide
    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        shown = repr(self.value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        where = f"row {self.row}" if self.row else "plan"
        return f"{where}: {self.field}={shown}: {self.reason}"


class PlanError(WorkbenchError):
    """A plan has problems; ``problems`` lists every one with its row, field, value and fix."""

    MAX_SHOWN = 40

    def __init__(self, source: str, problems: list[PlanProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = [str(p) for p in problems[: self.MAX_SHOWN]]
        if len(problems) > self.MAX_SHOWN:
            lines.append(f"... and {len(problems) - self.MAX_SHOWN} more")
        super().__init__(
            f"plan {source} has {len(problems)} problem(s); nothing was run:\n  " + "\n  ".join(lines)
        )


@dataclass(frozen=True)
class Job:
    """One audio file to make: a validated single-take request and the model that runs it."""

    job_id: str
    index: int  # position in the expanded plan
    row: int
    model: str
    request: GenerationRequest  # batch_size 1, seed set
    title: str = ""
    prompt_id: str = ""  # optional: the campaign prompt this job answers (see campaign_export)

    @property
    def seed(self) -> int:
        return int(self.request.seed or 0)

    @property
    def group_key(self) -> str:
        """Everything but the seed: jobs with equal keys and consecutive seeds can share one pipeline call."""
        recipe = self.request.to_dict()
        recipe.pop("seed")
        return json.dumps({"model": self.model, "request": recipe}, sort_keys=True, default=str)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "index": self.index,
            "row": self.row,
            "model": self.model,
            "title": self.title,
            "prompt_id": self.prompt_id,
            "request": self.request.to_dict(),
        }


def job_id_for(model: str, request: GenerationRequest) -> str:
    recipe = json.dumps({"model": model, "request": request.to_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


@dataclass
class Plan:
    source: str
    name: str
    jobs: list[Job]
    run: dict[str, Any] = field(
        default_factory=dict
    )  # runner settings (max_group, retries); see runner.RunSettings
    qc: dict[str, Any] = field(default_factory=dict)  # see qc.QcRules
    export: dict[str, Any] = field(default_factory=dict)  # see export.ExportSettings

    @property
    def models(self) -> list[str]:
        return sorted({j.model for j in self.jobs})


# --- reading -------------------------------------------------------------------------------------------------------
def _read_rows(path: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]], list[PlanProblem]]:
    """(plan-level settings, [(row number, row)], problems) from a CSV, JSON or YAML file."""
    if not path.is_file():
        raise InputError("plan", str(path), "file not found; give a .csv, .json or .yaml plan")
    suffix = path.suffix.lower()
    if suffix not in PLAN_SUFFIXES:
        raise InputError(
            "plan", str(path), f"unknown plan format '{suffix}'; use one of {', '.join(PLAN_SUFFIXES)}"
        )
    if suffix == ".csv":
        return _read_csv(path)
    try:
        data = json.loads(path.read_text()) if suffix == ".json" else yaml.safe_load(path.read_text())
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError("plan", str(path), f"is not valid {suffix.lstrip('.').upper()}: {exc}") from None
    if isinstance(data, list):
        data = {"entries": data}
    if not isinstance(data, dict):
        raise InputError("plan", str(path), "must be a mapping with 'entries:' (or a list of entries)")
    problems = [
        PlanProblem(0, k, data[k], f"unknown plan key; allowed: {', '.join(sorted(_TOP_KEYS))}")
        for k in sorted(set(data) - _TOP_KEYS)
    ]
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise InputError("entries", entries, "the plan needs a non-empty 'entries:' list of rows")
    rows: list[tuple[int, dict[str, Any]]] = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(PlanProblem(i, "entry", entry, "each entry must be a mapping of field: value"))
            continue
        rows.append((i, entry))
    return data, rows, problems


def _read_csv(path: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]], list[PlanProblem]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        raw_rows = list(reader)
    problems: list[PlanProblem] = []
    if not header:
        raise InputError("plan", str(path), "the CSV is empty; the first line must name the columns")
    if "seeds" not in header and "seed" not in header:
        problems.append(
            PlanProblem(1, "columns", header, "column 'seed' (or 'seeds') is missing; every row needs seeds")
        )
    if "prompt" not in header and "genre" not in header:
        problems.append(PlanProblem(1, "columns", header, "column 'prompt' or 'genre' is missing"))
    for name in header:
        if name not in ROW_KEYS:
            problems.append(
                PlanProblem(1, name, name, f"unknown column; allowed: {', '.join(sorted(ROW_KEYS))}")
            )
    rows = []
    for line, raw in enumerate(raw_rows, start=2):
        if None in raw:  # csv puts surplus cells under the key None
            problems.append(
                PlanProblem(line, "cells", raw[None], f"more cells than the {len(header)} columns")
            )
        row = {k.strip(): v for k, v in raw.items() if k is not None and v is not None and v.strip() != ""}
        if row:
            rows.append((line, {k: _from_cell(k, v.strip()) for k, v in row.items()}))
    return {}, rows, problems


def _from_cell(name: str, text: str) -> Any:
    """CSV cells are text; convert by the request field's type. Bad values stay text so validation names them."""
    kind = REQUEST_FIELDS.get(name, "str")
    if name in ("seeds", "seed"):
        return text
    if name == "lora_scale" or kind.startswith("float"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind.startswith("int"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "y"):
            return True
        if lowered in ("false", "no", "0", "n"):
            return False
        return text
    if kind.startswith("tuple"):
        return [t.strip() for t in text.split(";") if t.strip()]
    return text


# --- expanding -----------------------------------------------------------------------------------------------------
def parse_seeds(value: Any) -> list[int]:
    """``7``, ``"0-9"`` (inclusive), ``"1;5;9"``, ``[1, "10-12"]`` or ``{start: 0, count: 50}``."""
    if isinstance(value, dict):
        if set(value) != {"start", "count"}:
            raise ValueError("give seeds as {start: N, count: M}")
        start, count = value["start"], value["count"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, count)) or count < 1:
            raise ValueError("start and count must be whole numbers, count >= 1")
        return _checked(list(range(start, start + count)))
    parts: list[Any] = value if isinstance(value, list) else [value]
    seeds: list[int] = []
    for part in parts:
        if isinstance(part, bool):
            raise ValueError("a seed is a whole number, not true/false")
        if isinstance(part, int):
            seeds.append(part)
            continue
        if isinstance(part, float) and part.is_integer():
            seeds.append(int(part))
            continue
        if not isinstance(part, str):
            raise ValueError("write seeds as 7, '0-9', '1;5;9' or a list of them")
        for piece in part.replace(",", ";").split(";"):
            piece = piece.strip()
            m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", piece)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise ValueError(f"range {piece} runs backwards")
                if hi - lo + 1 > MAX_SEEDS_PER_ROW:
                    raise ValueError(f"range {piece} has more than {MAX_SEEDS_PER_ROW} seeds")
                seeds.extend(range(lo, hi + 1))
            elif re.fullmatch(r"\d+", piece):
                seeds.append(int(piece))
            else:
                raise ValueError(f"'{piece}' is not a whole number >= 0 or a range like 0-9")
    return _checked(seeds)


def _checked(seeds: list[int]) -> list[int]:
    if not seeds:
        raise ValueError("no seeds given")
    if len(seeds) > MAX_SEEDS_PER_ROW:
        raise ValueError(f"more than {MAX_SEEDS_PER_ROW} seeds in one row")
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise ValueError(f"seed {bad[0]} is outside 0..{MAX_SEED}")
    if len(set(seeds)) != len(seeds):
        raise ValueError("a seed is listed twice")
    return seeds


class _Checks:
    """Model and LoRA checks, cached: a plan of 10,000 rows names a handful of models and adapters."""

    def __init__(self, base_dir: Path) -> None:
        from workbench.models import load_registry

        self.registry = load_registry()
        self.base_dir = base_dir
        self._model: dict[str, str | None] = {}
        self._lora: dict[str, str | None] = {}

    def resolve_path(self, value: str) -> str:
        """Relative file paths in a plan are relative to the plan's folder, so a plan runs from anywhere."""
        p = Path(value).expanduser()
        if not p.is_absolute() and (self.base_dir / p).exists():
            return str((self.base_dir / p).resolve())
        return str(p.resolve()) if p.exists() else value

    def model_problem(self, model: Any) -> str | None:
        if not isinstance(model, str) or not model.strip():
            return f"give a registry name ({', '.join(self.registry)}), a model folder or an org/name hub id"
        if model not in self._model:
            self._model[model] = self._check_model(model)
        return self._model[model]

    def _check_model(self, model: str) -> str | None:
        if model in self.registry:
            return None
        p = Path(model).expanduser()
        if p.is_dir():
            return None if (p / "model_index.json").is_file() else "this folder has no model_index.json"
        if _HUB_ID.match(model) and not model.startswith((".", "~")):
            return None
        return (
            f"unknown model: not a registry name ({', '.join(self.registry)}), an existing folder or an "
            f"org/name hub id"
        )

    def lora_problem(self, path: str) -> str | None:
        if path not in self._lora:
            from workbench.adapters import find_weights

            try:
                find_weights(path)
                self._lora[path] = None
            except WorkbenchError as exc:
                self._lora[path] = f"unknown LoRA path: {exc}"
        return self._lora[path]


def _axes(
    row: dict[str, Any], grid: dict[str, list[Any]]
) -> tuple[dict[str, Any], list[tuple[str, list[Any]]]]:
    """Split a row into fixed values and list-valued axes (in a stable order; seeds last)."""
    fixed: dict[str, Any] = {}
    axes: list[tuple[str, list[Any]]] = []
    for key, value in row.items():
        if key in ("seeds", "seed"):
            continue
        is_list_field = REQUEST_FIELDS.get(key, "").startswith("tuple")
        if isinstance(value, list) and not is_list_field:
            axes.append((key, value))
        else:
            fixed[key] = value
    axes += list(grid.items())
    return fixed, axes


def _expand_row(
    row_no: int,
    row: dict[str, Any],
    plan: dict[str, Any],
    default_model: str,
    checks: _Checks,
    problems: list[PlanProblem],
) -> list[tuple[str, GenerationRequest, str, str]]:
    """(model, request, title, prompt_id) for every job of one row; problems are appended, not raised."""
    for key in sorted(set(row) - ROW_KEYS):
        hint = " (batching is automatic; set run.max_group)" if key in _NOT_IN_PLANS else ""
        problems.append(
            PlanProblem(row_no, key, row[key], f"unknown field{hint}; allowed: {', '.join(sorted(ROW_KEYS))}")
        )
    if any(k not in ROW_KEYS for k in row):
        return []
    seeds_value = row.get("seeds", row.get("seed"))
    if seeds_value is None:
        problems.append(
            PlanProblem(row_no, "seeds", None, "every row needs seeds (e.g. 0, '0-9' or '1;5;9')")
        )
        return []
    try:
        seeds = parse_seeds(seeds_value)
    except ValueError as exc:
        problems.append(PlanProblem(row_no, "seeds", seeds_value, f"bad seed: {exc}"))
        return []
    grid = plan.get("grid") or {}
    clash = sorted(set(grid) & set(row))
    if clash:
        problems.append(
            PlanProblem(row_no, clash[0], row[clash[0]], "is set in the row and in the plan's grid; keep one")
        )
        return []
    fixed, axes = _axes(row, grid)
    given = {**(plan.get("defaults") or {}), **row}
    if "genre" not in given and "prompt" not in given and given.get("task", "text2music") == "text2music":
        problems.append(
            PlanProblem(row_no, "prompt", None, "give a prompt or a genre (see configs/genres.yaml)")
        )
        return []
    jobs: list[tuple[str, GenerationRequest, str, str]] = []
    combos = itertools.product(*(values for _, values in axes)) if axes else [()]
    for combo in combos:
        values = {**fixed, **dict(zip([k for k, _ in axes], combo, strict=True))}
        built = _build(row_no, values, plan, default_model, checks, problems)
        if built is None:
            return []  # one problem per row is enough to fix it; the other combinations share it
        model, request, title, prompt_id = built
        jobs += [(model, dataclasses.replace(request, seed=s), title, prompt_id) for s in seeds]
        if len(jobs) > MAX_JOBS:
            problems.append(
                PlanProblem(row_no, "seeds", seeds_value, f"the row expands to more than {MAX_JOBS} jobs")
            )
            return []
    return jobs


def _build(
    row_no: int,
    values: dict[str, Any],
    plan: dict[str, Any],
    default_model: str,
    checks: _Checks,
    problems: list[PlanProblem],
) -> tuple[str, GenerationRequest, str, str] | None:
    defaults = dict(plan.get("defaults") or {})
    merged = {**defaults, **values}
    data: dict[str, Any] = {}
    genre = merged.get("genre")
    if genre is not None:
        presets = load_genres()
        if genre not in presets:
            problems.append(
                PlanProblem(row_no, "genre", genre, f"unknown genre; choose one of {', '.join(presets)}")
            )
            return None
        data.update(presets[genre].request_defaults())
    model = merged.pop("model", None) or default_model
    title = str(merged.pop("title", "") or "")
    prompt_id = str(merged.pop("prompt_id", "") or "")
    lora = merged.pop("lora", None)
    lora_scale = merged.pop("lora_scale", 1.0)
    data.update({k: v for k, v in merged.items() if k in REQUEST_FIELDS or k == "task"})
    problem = checks.model_problem(model)
    if problem:
        problems.append(PlanProblem(row_no, "model", model, problem))
        return None
    if lora is not None and lora != "":
        if isinstance(lora, dict):
            lora_scale = lora.get("scale", lora_scale)
            lora = lora.get("path")
        if not isinstance(lora, str):
            problems.append(
                PlanProblem(row_no, "lora", lora, "give an adapter folder, .safetensors file or hub id")
            )
            return None
        lora = checks.resolve_path(lora)
        problem = checks.lora_problem(lora)
        if problem:
            problems.append(PlanProblem(row_no, "lora", lora, problem))
            return None
        data["lora"] = {"path": lora, "scale": lora_scale}
    for key in ("src", "reference"):
        if isinstance(data.get(key), str) and data[key]:
            data[key] = checks.resolve_path(data[key])
    try:
        request = request_from_dict(data)
        request = dataclasses.replace(request, seed=0)
        request.validate()
    except (InputError, TypeError) as exc:
        problems.append(
            PlanProblem(
                row_no,
                getattr(exc, "field", "request"),
                getattr(exc, "value", data),
                getattr(exc, "fix", str(exc)),
            )
        )
        return None
    for key in ("src", "reference"):
        path = getattr(request, key, None)
        if isinstance(request, SourceRequest) and path and not Path(path).is_file():
            problems.append(
                PlanProblem(
                    row_no, key, path, "audio file not found (relative paths start at the plan's folder)"
                )
            )
            return None
    return model, request, title, prompt_id


def load_plan(path: str | Path, *, model: str | None = None) -> Plan:
    """Read and expand a plan; raise PlanError listing every bad row before anything runs.

    ``model`` (the CLI's --model) is the model for rows that name none; it overrides the plan's ``model:``.
    """
    p = Path(path)
    settings, rows, problems = _read_rows(p)
    grid = settings.get("grid") or {}
    if not isinstance(grid, dict) or any(not isinstance(v, list) or not v for v in grid.values()):
        problems.append(PlanProblem(0, "grid", grid, "give the grid as field: [value, value, ...]"))
        settings = {**settings, "grid": {}}
    else:
        for key in sorted(set(grid) - set(REQUEST_FIELDS) - {"model", "lora", "lora_scale", "genre"}):
            problems.append(PlanProblem(0, f"grid.{key}", grid[key], "not a request field"))
    if not isinstance(settings.get("defaults") or {}, dict):
        problems.append(PlanProblem(0, "defaults", settings.get("defaults"), "give defaults as field: value"))
        settings = {**settings, "defaults": {}}
    for key in ("run", "qc", "export"):
        if not isinstance(settings.get(key) or {}, dict):
            problems.append(PlanProblem(0, key, settings.get(key), "must be a mapping of setting: value"))
    default_model = model or settings.get("model") or DEFAULT_MODEL
    checks = _Checks(p.resolve().parent)
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    reported: set[tuple[int, int]] = set()
    for row_no, row in rows:
        for model_name, request, title, prompt_id in _expand_row(
            row_no, row, settings, default_model, checks, problems
        ):
            job_id = job_id_for(model_name, request)
            if job_id in seen:
                first = seen[job_id]
                if (row_no, first) in reported:
                    continue  # one message per pair of rows, not one per seed
                reported.add((row_no, first))
                problems.append(
                    PlanProblem(
                        row_no,
                        "seed",
                        request.seed,
                        f"duplicate row: the same recipe (model, "
                        f"prompt, settings and seed) is already planned by row {first}",
                    )
                )
                continue
            seen[job_id] = row_no
            jobs.append(Job(job_id, len(jobs), row_no, model_name, request, title, prompt_id))
    if problems:
        raise PlanError(str(p), problems)
    if not jobs:
        raise PlanError(str(p), [PlanProblem(0, "entries", [], "the plan expands to no jobs")])
    return Plan(
        source=str(p),
        name=str(settings.get("name") or p.stem),
        jobs=jobs,
        run=dict(settings.get("run") or {}),
        qc=dict(settings.get("qc") or {}),
        export=dict(settings.get("export") or {}),
    )
