"""Typed campaign configuration, loaded from YAML (``workbench campaign create FILE.yaml``) or built by the UI.

Unknown keys fail loudly (ConfigError naming the key and the allowed ones) because a misspelt ``gold_rate`` that
silently fell back to its default would change what the campaign measures.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.config import from_mapping, number, read_yaml, whole
from workbench.core.errors import ConfigError
from workbench.core.genres import load_genres

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
GENERATION_PARAMS = ("steps", "guidance_scale", "shift", "bpm", "keyscale", "time_signature", "instrumental")


@dataclass(frozen=True)
class PromptSpec:
    """One prompt every system answers. ``caption`` drives generated systems; imports map files to ``id``."""

    id: str
    caption: str = ""
    bpm: int | None = None
    keyscale: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class SystemSpec:
    """Either generated in the app (``model`` set) or imported from a folder (``import_dir`` + ``mapping_csv``)."""

    name: str
    model: str | None = None
    lora: str | None = None
    lora_scale: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    import_dir: str | None = None
    mapping_csv: str | None = None  # columns: prompt_id, file (relative to import_dir); optional take
    # The 5 Hz LM plans each take first ("turbo + 1.7B LM" against "turbo alone"). ``lm`` alone turns it on;
    # ``think: true`` without ``lm`` plans with the default LM.
    think: bool | None = None
    lm: str | None = None

    @property
    def imported(self) -> bool:
        return self.import_dir is not None

    @property
    def thinks(self) -> bool:
        return self.think if self.think is not None else bool(self.lm)

    @property
    def lm_name(self) -> str:
        from workbench.planner.plans import DEFAULT_LM

        return self.lm or DEFAULT_LM


@dataclass(frozen=True)
class RaterSpec:
    id: str
    code: str | None = None  # login code; generated (and printed once) when absent


@dataclass(frozen=True)
class PlanSpec:
    """What the campaign is planned to show; ``campaign create`` prints the votes-needed table for it and the
    report reads the same design (docs/ab-campaigns.md, "Planning")."""

    planning_win_rate: float = 0.60  # the candidate's true win rate (ties half) the campaign must detect
    power: float = 0.8
    min_win_rate: float = 0.45  # the rule's margin
    confidence: float = 0.95
    interval: str = "sequential"  # sequential | fixed | anytime (evals.preference.decision)
    looks: int = 4
    tie_rate: float = 0.10  # expected share of ties
    rater_icc: float = 0.03  # expected share of score variance between raters
    prompt_icc: float = 0.02  # and between prompts
    excluded_share: float = 0.10  # expected share of raters the screening removes (their votes do not count)
    baseline: str | None = None  # the system to replace; None: the last system listed


@dataclass(frozen=True)
class CampaignConfig:
    name: str
    genre: str
    systems: list[SystemSpec]
    prompts: list[PromptSpec]
    raters: list[RaterSpec]
    instructions: str = ""
    clips_per_prompt: int = 1
    votes_per_rater: int = 30  # the quota; ITU practice keeps sessions to 20-30 minutes
    vote_target: int = 0  # total votes after which serving stops; 0 = raters x quota
    min_listen_s: float = 5.0  # each clip, as Music Arena's MINIMUM_LISTEN_TIME
    clip_duration_s: float | None = 10.0  # common length; None keeps each clip's own length (leaks duration)
    clip_start_s: float = 0.0
    fade_ms: float = 300.0
    target_lufs: float | None = None  # None: the genre's loudness_lufs from configs/genres.yaml
    true_peak_dbtp: float | None = None  # None: the genre's ceiling
    gold_rate: float = 0.1  # share of trials that pit a clip against a degraded copy (BS.1534-style check)
    repeat_rate: float = 0.05  # share of trials that repeat an earlier pair with sides swapped
    # the screening rule judges a rater only from this many gold trials / decisive repeat pairs, so every rater
    # gets at least these (evals.preference.rater_quality.ExclusionRule; 7 repeats leave ~6 decisive at 10 % ties)
    min_gold_trials: int = 8
    min_repeats: int = 7
    adaptive: bool = False  # after warm-up, favour the system pair whose outcome is least certain
    adaptive_warmup_votes: int = 20  # votes per system pair before adaptive choice starts
    fit_ratings: bool = True  # ask an optional 1-5 "fit for this venue" per clip
    comments: bool = True
    seed: int = 0

    plan: PlanSpec = field(default_factory=lambda: PlanSpec())

    @property
    def check_trials(self) -> tuple[int, int]:
        """(gold trials, swapped repeats) per rater: the rate's share, raised to the screening minimum."""
        quota = self.votes_per_rater
        gold = round(quota * self.gold_rate)
        repeats = round(quota * self.repeat_rate)
        if self.gold_rate > 0:
            gold = max(gold, self.min_gold_trials)
        if self.repeat_rate > 0:
            repeats = max(repeats, self.min_repeats)
        return gold, repeats

    @property
    def effective_vote_target(self) -> int:
        return self.vote_target or self.votes_per_rater * len(self.raters)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        if not NAME_RE.match(self.name):
            raise ConfigError(
                "name", self.name, "use 1-64 letters, digits, '-', '_' or '.', starting alphanumeric"
            )
        genres = load_genres()
        if self.genre not in genres:
            raise ConfigError(
                "genre", self.genre, f"choose one of {', '.join(sorted(genres))} (configs/genres.yaml)"
            )
        if len(self.systems) < 2:
            raise ConfigError("systems", len(self.systems), "a blind A/B campaign needs at least 2 systems")
        names = [s.name for s in self.systems]
        if len(set(names)) != len(names):
            raise ConfigError("systems", names, "system names must be unique")
        for i, s in enumerate(self.systems):
            _validate_system(f"systems[{i}]", s)
        if not self.prompts:
            raise ConfigError("prompts", 0, "give at least one prompt")
        ids = [p.id for p in self.prompts]
        if len(set(ids)) != len(ids):
            raise ConfigError("prompts", ids, "prompt ids must be unique")
        if any(s.model for s in self.systems):
            for i, p in enumerate(self.prompts):
                if not p.caption.strip():
                    raise ConfigError(f"prompts[{i}].caption", p.caption, "generated systems need a caption")
        rater_ids = [r.id for r in self.raters]
        if not rater_ids:
            raise ConfigError("raters", 0, "list at least one rater id")
        if len(set(rater_ids)) != len(rater_ids):
            raise ConfigError("raters", rater_ids, "rater ids must be unique")
        for i, r in enumerate(self.raters):
            if not NAME_RE.match(r.id):
                raise ConfigError(f"raters[{i}].id", r.id, "use letters, digits, '-', '_' or '.'")
            if r.code is not None and len(r.code) < 6:
                raise ConfigError(f"raters[{i}].code", "***", "login codes need at least 6 characters")
        for name, lo, hi in (
            ("clips_per_prompt", 1, 16),
            ("votes_per_rater", 1, 5000),
            ("vote_target", 0, 1_000_000),
            ("adaptive_warmup_votes", 0, 100_000),
        ):
            whole(name, getattr(self, name), lo, hi, error=ConfigError)
        for name, lo_f, hi_f in (
            ("min_listen_s", 0.0, 120.0),
            ("clip_duration_s", 1.0, 600.0),
            ("clip_start_s", 0.0, 600.0),
            ("fade_ms", 0.0, 5000.0),
            ("target_lufs", -40.0, -6.0),
            ("true_peak_dbtp", -12.0, 0.0),
            ("gold_rate", 0.0, 0.5),
            ("repeat_rate", 0.0, 0.5),
        ):
            if getattr(self, name) is not None:  # None: the clip's own length, or the genre's level
                number(name, getattr(self, name), lo_f, hi_f, error=ConfigError)
        if self.gold_rate + self.repeat_rate > 0.6:
            raise ConfigError(
                "gold_rate + repeat_rate", self.gold_rate + self.repeat_rate, "keep checks below 60 %"
            )
        for name in ("min_gold_trials", "min_repeats"):
            whole(name, getattr(self, name), 0, 1000, error=ConfigError)
        gold, repeats = self.check_trials
        if gold + repeats > 0.6 * self.votes_per_rater:
            raise ConfigError(
                "votes_per_rater",
                self.votes_per_rater,
                f"screening needs {gold} gold trials and {repeats} swapped repeats per rater (min_gold_trials, "
                f"min_repeats), more than 60 % of a {self.votes_per_rater}-vote quota; raise votes_per_rater to at "
                f"least {math.ceil((gold + repeats) / 0.6)}, or set gold_rate / repeat_rate to 0 to switch a check off",
            )
        if gold > len(self.systems) * len(self.prompts) * self.clips_per_prompt:
            raise ConfigError(
                "min_gold_trials",
                gold,
                "each gold trial of a rater uses a different clip; add prompts or clips_per_prompt",
            )
        _validate_plan(self)
        unique = self.unique_pairs
        regular = self.votes_per_rater - gold - repeats
        if regular > unique:
            raise ConfigError(
                "votes_per_rater",
                self.votes_per_rater,
                f"only {unique} distinct clip pairs exist (prompts x system pairs x clips^2) and no rater may hear a "
                "pair twice; lower the quota or add prompts, systems or clips_per_prompt",
            )

    @property
    def unique_pairs(self) -> int:
        n = len(self.systems)
        return len(self.prompts) * n * (n - 1) // 2 * self.clips_per_prompt**2

    def loudness_target(self) -> tuple[float, float]:
        """(target LUFS, true-peak ceiling dBTP): the campaign's own values or the genre's."""
        genre = load_genres()[self.genre]
        lufs = self.target_lufs if self.target_lufs is not None else genre.loudness_lufs
        tp = self.true_peak_dbtp if self.true_peak_dbtp is not None else genre.true_peak_dbtp
        return lufs, tp


def _validate_plan(config: CampaignConfig) -> None:
    plan = config.plan
    for name in ("planning_win_rate", "power", "min_win_rate", "tie_rate"):
        number(f"plan.{name}", getattr(plan, name), 0.0, 0.999, error=ConfigError)
    number("plan.confidence", plan.confidence, 0.5, 0.999, error=ConfigError)
    for name in ("rater_icc", "prompt_icc"):
        number(f"plan.{name}", getattr(plan, name), 0.0, 0.49, error=ConfigError)
    whole("plan.looks", plan.looks, 1, 10, error=ConfigError)
    number("plan.excluded_share", plan.excluded_share, 0.0, 0.79, error=ConfigError)
    if plan.interval not in ("sequential", "fixed", "anytime"):
        raise ConfigError("plan.interval", plan.interval, "use 'sequential', 'fixed' or 'anytime'")
    if plan.planning_win_rate <= plan.min_win_rate:
        raise ConfigError(
            "plan.planning_win_rate", plan.planning_win_rate, f"must exceed the margin {plan.min_win_rate}"
        )
    names = [s.name for s in config.systems]
    if plan.baseline is not None and plan.baseline not in names:
        raise ConfigError("plan.baseline", plan.baseline, f"name one of the systems: {', '.join(names)}")


def _validate_system(where: str, s: SystemSpec) -> None:
    if not NAME_RE.match(s.name):
        raise ConfigError(f"{where}.name", s.name, "use letters, digits, '-', '_' or '.'")
    if bool(s.model) == bool(s.import_dir):
        raise ConfigError(
            where, s.name, "set exactly one of 'model' (generate in the app) or 'import_dir' (import)"
        )
    if s.imported:
        if not s.mapping_csv:
            raise ConfigError(
                f"{where}.mapping_csv", s.mapping_csv, "imports need a CSV with prompt_id,file columns"
            )
        if s.lora:
            raise ConfigError(f"{where}.lora", s.lora, "a LoRA applies only to generated systems")
        if s.thinks:
            raise ConfigError(f"{where}.think", True, "the LM plans only generated systems")
    if s.think is not None and not isinstance(s.think, bool):
        raise ConfigError(f"{where}.think", s.think, "give true or false")
    if s.thinks and not s.imported:
        from workbench.planner.registry import lm_problem

        problem = lm_problem(s.lm_name)
        if problem:
            raise ConfigError(f"{where}.lm", s.lm_name, problem)
    unknown = sorted(set(s.params) - set(GENERATION_PARAMS))
    if unknown:
        raise ConfigError(f"{where}.params", unknown, f"allowed: {', '.join(GENERATION_PARAMS)}")
    number(f"{where}.lora_scale", s.lora_scale, 0.0, 4.0, error=ConfigError)


def config_from_dict(data: Any, base_dir: Path | None = None) -> CampaignConfig:
    """Build and validate a config. Relative import paths resolve against ``base_dir`` (the YAML's folder)."""
    if isinstance(data, dict) and isinstance(data.get("raters"), list):
        # a rater may be given by id alone
        data = {**data, "raters": [{"id": r} if isinstance(r, str) else r for r in data["raters"]]}
    config = from_mapping(CampaignConfig, data, "campaign")
    if base_dir is not None:
        config = dataclasses.replace(config, systems=[_resolve(s, base_dir) for s in config.systems])
    config.validate()
    return config


def _resolve(spec: SystemSpec, base_dir: Path) -> SystemSpec:
    if spec.import_dir and not Path(spec.import_dir).is_absolute():
        spec = dataclasses.replace(spec, import_dir=str((base_dir / spec.import_dir).resolve()))
    if spec.lora and (base_dir / spec.lora).exists():
        # a LoRA folder next to the YAML; otherwise the path is left to the engine (cwd, hub id)
        spec = dataclasses.replace(spec, lora=str((base_dir / spec.lora).resolve()))
    return spec


def load_config(path: str | Path) -> CampaignConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("campaign file", str(path), "file not found; see configs/campaigns/example.yaml")
    return config_from_dict(read_yaml(path, "campaign file"), base_dir=path.parent.resolve())
