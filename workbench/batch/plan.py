"""Batch plans: CSV, JSON or YAML files expanded to a list of jobs, each one engine request with a stable ID.

A plan is a list of rows (CSV lines, or ``entries`` in JSON/YAML). Each row expands to the cartesian product of its
axes: ``seeds`` (required), and in JSON/YAML any field given as a list (genre, prompt, model, lora, lora_scale,
steps, ...) plus the plan-wide ``grid``. Every expanded job is built as a real engine request and validated, so a
bad plan fails with all of its row-level problems before a model is loaded. A job's ID is a hash of its full
recipe (``request.to_dict()`` with the seed, plus the model), so re-running a plan finds finished items by ID.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.batch.plan_format import (
    NOT_IN_PLANS,
    REQUEST_FIELDS,
    ROW_KEYS,
    PlanProblem,
    parse_seeds,
    read_rows,
)
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.genres import load_genres
from workbench.engine.requests import GenerationRequest, SourceRequest, request_from_dict

if TYPE_CHECKING:  # the planner imports torch and transformers; a plan of plain rows never needs them
    from workbench.planner.plans import ThinkOptions

DEFAULT_MODEL = "turbo"
MAX_JOBS = 1_000_000
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

__all__ = ["Job", "Plan", "PlanError", "PlanProblem", "job_id_for", "load_plan", "parse_seeds"]


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
    think: ThinkOptions | None = None  # the 5 Hz LM plans this job first (row ``think: true``, ``lm: NAME``)

    @property
    def seed(self) -> int:
        return int(self.request.seed or 0)

    @property
    def group_key(self) -> str:
        """Everything but the seed: jobs with equal keys and consecutive seeds can share one pipeline call."""
        recipe = self.request.to_dict()
        recipe.pop("seed")
        return json.dumps(
            {"model": self.model, "request": recipe, **_think_part(self.think)}, sort_keys=True, default=str
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "index": self.index,
            "row": self.row,
            "model": self.model,
            "title": self.title,
            "prompt_id": self.prompt_id,
            "request": self.request.to_dict(),
            **_think_part(self.think),
        }


def _think_part(think: ThinkOptions | None) -> dict[str, Any]:
    # Absent for plain jobs, so plans written before Think existed keep their job IDs (and resume).
    return {} if think is None else {"think": dataclasses.asdict(think)}


def job_id_for(model: str, request: GenerationRequest, think: ThinkOptions | None = None) -> str:
    recipe = json.dumps(
        {"model": model, "request": request.to_dict(), **_think_part(think)}, sort_keys=True, default=str
    )
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


class _Checks:
    """Model and LoRA checks, cached: a plan of 10,000 rows names a handful of models and adapters."""

    def __init__(self, base_dir: Path) -> None:
        from workbench.engine.models import load_registry

        self.registry = load_registry()
        self.base_dir = base_dir
        self._model: dict[str, str | None] = {}
        self._lora: dict[str, str | None] = {}
        self._lm: dict[str, str | None] = {}

    def lm_problem(self, lm: Any) -> str | None:
        from workbench.planner.registry import lm_problem

        key = str(lm)
        if key not in self._lm:
            self._lm[key] = lm_problem(lm)
        return self._lm[key]

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
            from workbench.engine.checkpoints import UNKNOWN, detect_layout

            # a diffusers folder, or an original ACE-Step checkpoint (converted once on first load)
            return None if detect_layout(p) != UNKNOWN else "this folder has no model_index.json"
        if _HUB_ID.match(model) and not model.startswith((".", "~")):
            return None
        return (
            f"unknown model: not a registry name ({', '.join(self.registry)}), an existing folder or an "
            f"org/name hub id"
        )

    def lora_problem(self, path: str) -> str | None:
        if path not in self._lora:
            from workbench.engine.adapters import find_weights

            try:
                find_weights(path)
                self._lora[path] = None
            except WorkbenchError as exc:
                self._lora[path] = f"unknown LoRA path: {exc}"
        return self._lora[path]


_Built = tuple[str, GenerationRequest, str, str, "ThinkOptions | None"]


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
) -> list[_Built]:
    """(model, request, title, prompt_id, think) for every job of one row; problems are appended, not raised."""
    for key in sorted(set(row) - ROW_KEYS):
        hint = " (batching is automatic; set run.max_group)" if key in NOT_IN_PLANS else ""
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
    planned = len(seeds)
    for _, axis in axes:
        planned *= max(len(axis), 1)
    if planned > MAX_JOBS:  # counted before expanding: a grid of lists multiplies out quickly
        problems.append(
            PlanProblem(
                row_no,
                "seeds",
                seeds_value,
                f"the row expands to {planned:,} jobs; the limit is {MAX_JOBS:,}",
            )
        )
        return []
    jobs: list[_Built] = []
    combos = itertools.product(*(values for _, values in axes)) if axes else [()]
    for combo in combos:
        values = {**fixed, **dict(zip([k for k, _ in axes], combo, strict=True))}
        built = _build(row_no, values, plan, default_model, checks, problems)
        if built is None:
            return []  # one problem per row is enough to fix it; the other combinations share it
        model, request, title, prompt_id, think = built
        jobs += [(model, dataclasses.replace(request, seed=s), title, prompt_id, think) for s in seeds]
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
) -> _Built | None:
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
    think_given, lm = merged.pop("think", None), merged.pop("lm", None)
    data.update({k: v for k, v in merged.items() if k in REQUEST_FIELDS or k == "task"})
    problem = checks.model_problem(model)
    if problem:
        problems.append(PlanProblem(row_no, "model", model, problem))
        return None
    if lora is not None and lora != "":
        if isinstance(lora, dict):
            extra = sorted(set(lora) - {"path", "scale"}, key=str)
            if extra:
                problems.append(
                    PlanProblem(
                        row_no, f"lora.{extra[0]}", lora[extra[0]], "unknown key; allowed: path, scale"
                    )
                )
                return None
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
    n_problems = len(problems)
    think = _think_options(row_no, think_given, lm, request, checks, problems)
    if len(problems) > n_problems:
        return None
    return model, request, title, prompt_id, think


def _think_options(
    row_no: int,
    given: Any,
    lm: Any,
    request: GenerationRequest,
    checks: _Checks,
    problems: list[PlanProblem],
) -> ThinkOptions | None:
    """The row's Think options (None: no Think, or a problem was appended).

    ``lm: NAME`` alone turns Think on; ``think: false`` turns it off even where the defaults name an LM, so
    ``grid: {think: [true, false]}`` compares the planned and the plain recipe.
    """
    from workbench.planner.apply import plan_request
    from workbench.planner.plans import DEFAULT_LM, ThinkOptions

    if given is not None and not isinstance(given, bool):
        problems.append(PlanProblem(row_no, "think", given, "give true or false"))
        return None
    lm = None if lm == "" else lm
    if not (given if given is not None else lm is not None):
        return None
    name = DEFAULT_LM if lm is None else lm
    problem = checks.lm_problem(name)
    if problem:
        problems.append(PlanProblem(row_no, "lm", name, problem))
        return None
    try:
        plan_request(request, lm=name)  # Think plans text2music only
    except InputError as exc:
        problems.append(PlanProblem(row_no, exc.field, exc.value, exc.fix))
        return None
    return ThinkOptions(lm=str(name))


def _settings_problems(key: str, data: dict[str, Any]) -> list[PlanProblem]:
    """``qc:`` and ``export:`` checked now, so that a wrong type (``export: {artist: 123}``) is reported before
    anything runs instead of failing every job at commit time. (``run:`` is checked by the runner, which owns it.)"""
    from workbench.batch import export, qc

    build = {"qc": qc.QcRules.from_dict, "export": export.ExportSettings.from_dict}.get(key)
    if build is None:
        return []
    try:
        build(data)
    except InputError as exc:
        return [PlanProblem(0, exc.field, exc.value, exc.fix)]
    return []


def _distinct_titles(jobs: list[Job]) -> list[Job]:
    """A title several jobs share (a row with seeds or a sweep) gets " #k" in plan order: in a music library, tracks
    that differ (seed, tempo) must not look like copies of one track."""
    uses = Counter(j.title for j in jobs if j.title)
    taken: Counter[str] = Counter()
    out = []
    for job in jobs:
        if uses[job.title] > 1:
            taken[job.title] += 1
            job = dataclasses.replace(job, title=f"{job.title} #{taken[job.title]}")
        out.append(job)
    return out


def load_plan(path: str | Path, *, model: str | None = None) -> Plan:
    """Read and expand a plan; raise PlanError listing every bad row before anything runs.

    ``model`` (the CLI's --model) is the model for rows that name none; it overrides the plan's ``model:``.
    """
    p = Path(path)
    settings, rows, problems = read_rows(p)
    grid = settings.get("grid") or {}
    if not isinstance(grid, dict) or any(not isinstance(v, list) or not v for v in grid.values()):
        problems.append(PlanProblem(0, "grid", grid, "give the grid as field: [value, value, ...]"))
        settings = {**settings, "grid": {}}
    else:
        for key in sorted(
            set(grid) - set(REQUEST_FIELDS) - {"model", "lora", "lora_scale", "genre", "think", "lm"}
        ):
            problems.append(PlanProblem(0, f"grid.{key}", grid[key], "not a request field"))
    if not isinstance(settings.get("defaults") or {}, dict):
        problems.append(PlanProblem(0, "defaults", settings.get("defaults"), "give defaults as field: value"))
        settings = {**settings, "defaults": {}}
    else:  # a misspelt default would silently keep the model's value for every row
        for key in sorted(set(settings.get("defaults") or {}) - ROW_KEYS, key=str):
            problems.append(
                PlanProblem(
                    0,
                    f"defaults.{key}",
                    settings["defaults"][key],
                    f"unknown field; allowed: {', '.join(sorted(ROW_KEYS))}",
                )
            )
    for key in ("run", "qc", "export"):
        if not isinstance(settings.get(key) or {}, dict):
            problems.append(PlanProblem(0, key, settings.get(key), "must be a mapping of setting: value"))
        else:
            problems += _settings_problems(key, settings.get(key) or {})
    default_model = model or settings.get("model") or DEFAULT_MODEL
    checks = _Checks(p.resolve().parent)
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    reported: set[tuple[int, int]] = set()
    for row_no, row in rows:
        for model_name, request, title, prompt_id, think in _expand_row(
            row_no, row, settings, default_model, checks, problems
        ):
            job_id = job_id_for(model_name, request, think)
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
            jobs.append(Job(job_id, len(jobs), row_no, model_name, request, title, prompt_id, think))
    if problems:
        raise PlanError(str(p), problems)
    if not jobs:
        raise PlanError(str(p), [PlanProblem(0, "entries", [], "the plan expands to no jobs")])
    return Plan(
        source=str(p),
        name=str(settings.get("name") or p.stem),
        jobs=_distinct_titles(jobs),
        run=dict(settings.get("run") or {}),
        qc=dict(settings.get("qc") or {}),
        export=dict(settings.get("export") or {}),
    )
