"""Building a campaign's stimuli: generate missing clips through the engine, import external tracks, match them.

Generated systems run ``Engine.run(Text2Music(...))`` once per prompt with ``batch_size = clips_per_prompt`` and
are recorded like any other run (sidecar + store row), so every stimulus can be replayed. Imported systems read a
CSV (``prompt_id,file[,take]``, files relative to ``import_dir``). A system with ``think``/``lm`` has the 5 Hz LM
plan each take first (one render per take, its plan in the sidecar). Every clip then goes through
``audio_prep.prepare`` (common band limit, fades, loudness) and is written as an anonymised 24-bit master; gold
trials get a degraded copy of each clip, cut and faded exactly like it. Raters never get the masters' bytes: the
rater service renders a freshly dithered 16-bit copy per served pair side (``audio_prep.render_served``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.campaigns import audio_prep, db
from workbench.campaigns.codes import save_codes
from workbench.campaigns.config import CampaignConfig, PromptSpec, SystemSpec
from workbench.core import paths
from workbench.core.audio_io import Audio, load_conformed
from workbench.core.config import read_table
from workbench.core.errors import ConfigError, InputError
from workbench.core.store import Store

DEFAULT_GENERATED_S = 30.0
Log = Callable[[str], None]


def campaign_dir(name: str) -> Path:
    return paths.campaigns_dir() / name


def serve_dir(name: str) -> Path:
    """The only folder clips are served from: random file names, nothing else in it."""
    return campaign_dir(name) / "serve"


@dataclasses.dataclass(frozen=True)
class SourceClip:
    system: str
    prompt_id: str
    take: int
    audio: Audio
    source_path: str
    run_id: str | None = None


def _generation_duration(config: CampaignConfig, prompt: PromptSpec) -> float:
    needed = config.clip_start_s + (config.clip_duration_s or 0.0)
    return max(prompt.duration_s or 0.0, needed) or DEFAULT_GENERATED_S


def generate_system(
    config: CampaignConfig,
    system: SystemSpec,
    engine: Any,
    store: Store,
    log: Log = print,
    planner: Any = None,
) -> list[SourceClip]:
    from workbench.engine.requests import LoraRef, Text2Music
    from workbench.records import record

    folder = campaign_dir(config.name) / "sources" / system.name
    params = dict(system.params)
    out = []
    for index, prompt in enumerate(config.prompts):
        request = Text2Music(
            prompt=prompt.caption,
            duration_s=_generation_duration(config, prompt),
            bpm=prompt.bpm if prompt.bpm is not None else params.get("bpm"),
            keyscale=prompt.keyscale or params.get("keyscale"),
            time_signature=params.get("time_signature"),
            instrumental=bool(params.get("instrumental", True)),
            steps=params.get("steps"),
            guidance_scale=params.get("guidance_scale"),
            shift=params.get("shift"),
            seed=system.seed + 1000 * index,
            batch_size=config.clips_per_prompt,
            lora=LoraRef(path=system.lora, scale=system.lora_scale) if system.lora else None,
            genre=config.genre,
        )
        log(f"generating {system.name} / {prompt.id} ({config.clips_per_prompt} take(s))")
        if system.thinks:
            planner = planner if planner is not None else _planner_for(engine)
            out += _generate_planned(system, prompt, request, engine, planner, folder, store)
            continue
        result = engine.run(request)
        if not result.ok:
            raise InputError("system", system.name, f"generation stopped ({result.status}); run create again")
        for r in record(result, folder, store=store):
            out.append(SourceClip(system.name, prompt.id, r.take.index, r.take.audio, r.path, r.run_id))
    return out


def _planner_for(engine: Any) -> Any:
    from workbench.planner.planner import Planner

    return Planner(device=getattr(engine, "device", None))


def _generate_planned(
    system: SystemSpec,
    prompt: PromptSpec,
    request: Any,
    engine: Any,
    planner: Any,
    folder: Path,
    store: Store,
) -> list[SourceClip]:
    """A Think system: every take has its own plan (the LM's seed is the take's), so one render per take, each
    recorded with its plan like a Think run from the Generate tab."""
    from workbench.planner.apply import plan_record, think
    from workbench.planner.plans import ThinkOptions
    from workbench.records import record

    out = []
    options = ThinkOptions(lm=system.lm_name)
    for take in range(request.batch_size):
        asked = dataclasses.replace(request, seed=request.seed + take, batch_size=1)
        rendered, plan = think(planner, asked, options)
        result = engine.run(rendered)
        if not result.ok:
            raise InputError("system", system.name, f"generation stopped ({result.status}); run create again")
        for r in record(result, folder, store=store, extra={"plan": plan_record(asked, plan)}):
            out.append(SourceClip(system.name, prompt.id, take, r.take.audio, r.path, r.run_id))
    return out


def import_system(config: CampaignConfig, system: SystemSpec) -> list[SourceClip]:
    folder = Path(system.import_dir or "")
    mapping = Path(system.mapping_csv or "")
    if not mapping.is_absolute():
        mapping = folder / mapping
    where = f"systems[{system.name}]"
    if not folder.is_dir():
        raise ConfigError(f"{where}.import_dir", str(folder), "folder not found")
    if not mapping.is_file():
        raise ConfigError(
            f"{where}.mapping_csv", str(mapping), "file not found; columns: prompt_id,file[,take]"
        )
    header, rows = read_table(mapping, f"{where}.mapping_csv")
    if not rows or not {"prompt_id", "file"} <= set(header):
        raise ConfigError(
            f"{where}.mapping_csv", str(mapping), "needs a header with prompt_id and file columns"
        )
    by_prompt: dict[str, list[tuple[int, Path]]] = {}
    for i, row in enumerate(rows):
        file = Path(row["file"])
        file = file if file.is_absolute() else folder / file
        if not file.is_file():
            raise ConfigError(f"{mapping.name}[{i + 2}].file", row["file"], f"not found under {folder}")
        take_text = (row.get("take") or "").strip()
        if take_text and not take_text.isdigit():
            raise ConfigError(
                f"{mapping.name}[{i + 2}].take", take_text, "must be a whole number >= 0, or empty"
            )
        take = int(take_text) if take_text else len(by_prompt.get(row["prompt_id"], []))
        by_prompt.setdefault(row["prompt_id"], []).append((take, file))
    out = []
    for prompt in config.prompts:
        files = sorted(by_prompt.get(prompt.id, []))
        if len(files) < config.clips_per_prompt:
            raise ConfigError(
                f"{mapping.name}.prompt_id",
                prompt.id,
                f"has {len(files)} file(s); the campaign needs clips_per_prompt={config.clips_per_prompt}",
            )
        for take, (_, file) in enumerate(files[: config.clips_per_prompt]):
            out.append(SourceClip(system.name, prompt.id, take, load_conformed(file), str(file)))
    return out


def build_stimuli(
    store: Store,
    config: CampaignConfig,
    engine_for: Callable[[str], Any],
    log: Log = print,
    planner: Any = None,
) -> float:
    """Create every clip row and anonymised file; returns the loudness target used. Marks the campaign open."""
    sources: list[SourceClip] = []
    for system in config.systems:
        if system.imported:
            log(f"importing {system.name} from {system.import_dir}")
            sources += import_system(config, system)
        else:
            engine = engine_for(system.model or "")
            if system.thinks and planner is None:
                planner = _planner_for(engine)  # one LM for every Think system of the campaign
            sources += generate_system(config, system, engine, store, log, planner)
    target, ceiling = config.loudness_target()
    folder = serve_dir(config.name)
    rows: list[db.ClipRow] = []
    for i, src in enumerate(sources):
        try:
            ready = audio_prep.prepare(
                src.audio,
                target_lufs=target,
                ceiling_dbtp=ceiling,
                start_s=config.clip_start_s,
                duration_s=config.clip_duration_s,
                fade_ms=config.fade_ms,
            )
        except InputError as exc:
            raise InputError(
                f"{src.system}/{src.prompt_id}/take{src.take}.{exc.field}", exc.value, exc.fix
            ) from None
        clip = _row(config, src, ready, audio_prep.write_anonymised(ready.audio, folder), "clip", None)
        rows.append(clip)
        if config.gold_rate > 0:
            damaged = audio_prep.prepare(  # the same excerpt and fade as the intact clip, degraded first
                src.audio,
                target_lufs=target,
                ceiling_dbtp=ceiling,
                start_s=config.clip_start_s,
                duration_s=config.clip_duration_s,
                fade_ms=config.fade_ms,
                degrade_seed=config.seed + i,
            )
            path = audio_prep.write_anonymised(damaged.audio, folder)
            rows.append(_row(config, src, damaged, path, "degraded", clip.id))
    db.add_clips(store, rows)
    db.set_status(store, config.name, "open", target)
    log(f"{len(rows)} stimuli ready at {target:g} LUFS (true peak <= {ceiling:g} dBTP)")
    return target


def _row(
    config: CampaignConfig,
    src: SourceClip,
    ready: audio_prep.Prepared,
    path: Path,
    kind: str,
    source: str | None,
) -> db.ClipRow:
    import secrets

    return db.ClipRow(
        id=secrets.token_hex(8),
        campaign=config.name,
        system=src.system,
        prompt_id=src.prompt_id,
        take=src.take,
        kind=kind,
        source_clip=source,
        source_path=src.source_path,
        served_path=str(path),
        run_id=src.run_id,
        loudness_lufs=ready.loudness_lufs,
        true_peak_dbtp=ready.true_peak_dbtp,
        duration_s=ready.duration_s,
        created_at=db.now_iso(),
    )


def create_campaign(
    store: Store,
    config: CampaignConfig,
    engine_for: Callable[[str], Any],
    log: Log = print,
    planner: Any = None,
) -> dict[str, str]:
    """Insert the campaign, then build its stimuli. Returns generated rater codes (also kept in ``codes.csv``)."""
    codes = db.create_campaign(store, config)
    try:
        build_stimuli(store, config, engine_for, log, planner)
    except BaseException as exc:
        from workbench.campaigns.removal import roll_back

        roll_back(
            store, config.name, exc
        )  # rows and clip files, so the organiser can fix the cause and re-create
        raise
    if codes:
        save_codes(config.name, codes)  # the organiser's copy: readable again from the Blind A/B tab
    return codes
