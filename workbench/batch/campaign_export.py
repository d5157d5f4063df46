"""A finished batch as a campaign system: a folder of its tracks plus ``mapping.csv``.

The campaign's "imported" systems (workbench.campaigns.config.SystemSpec with ``import_dir`` and
``mapping_csv``) read a CSV with columns ``prompt_id,file[,take]``, files relative to the folder. Which campaign
prompt a track answers comes from, in order: the plan row's ``prompt_id``; the campaign YAML's prompt whose
caption equals the track's prompt (``campaign=``); else the genre name, or for rows without a genre a short
hash of the prompt text. Extra columns (prompt, genre, seed, job_id, model, lora, lm: the Think LM or empty) are
for people; the campaign ignores them. Files are copied, not linked, so the folder can be moved to the machine that runs the campaign.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.batch.manifest import latest_by_job, read_records
from workbench.core.errors import InputError

MAPPING_COLUMNS = ("prompt_id", "file", "take", "prompt", "genre", "seed", "job_id", "model", "lora", "lm")


@dataclass(frozen=True)
class CampaignExport:
    folder: Path
    mapping_csv: Path
    files: int
    prompts: int


def _caption_ids(campaign: str | Path | None) -> dict[str, str]:
    if campaign is None:
        return {}
    from workbench.campaigns.config import load_config

    return {p.caption: p.id for p in load_config(campaign).prompts if p.caption}


def prompt_id_for(record: dict[str, Any], by_caption: dict[str, str]) -> str:
    if record.get("prompt_id"):
        return str(record["prompt_id"])
    prompt = str(record["request"].get("prompt", ""))
    if prompt in by_caption:
        return by_caption[prompt]
    if record.get("genre"):
        return str(record["genre"])
    return "p" + hashlib.sha256(prompt.encode()).hexdigest()[:8]


def export_for_campaign(
    batch_dir: str | Path,
    to: str | Path,
    *,
    campaign: str | Path | None = None,
    include_rejected: bool = False,
) -> CampaignExport:
    src = Path(batch_dir)
    records = [
        r
        for r in latest_by_job(read_records(src)).values()
        if r["status"] == "ok" or (include_rejected and r["status"] == "rejected")
    ]
    if not records:
        raise InputError("batch folder", str(src), "has no finished tracks to export; run the batch first")
    folder = Path(to)
    if folder.exists() and any(folder.iterdir()):
        raise InputError("--to", str(folder), "exists and is not empty; give a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    by_caption = _caption_ids(campaign)
    takes: dict[str, int] = defaultdict(int)
    rows = []
    for record in sorted(records, key=lambda r: int(r["index"])):
        prompt_id = prompt_id_for(record, by_caption)
        audio = Path(record["path"])
        name = f"{prompt_id}_{takes[prompt_id]}{audio.suffix}"
        shutil.copy2(audio, folder / name)
        lora = record["request"].get("lora") or {}
        rows.append(
            {
                "prompt_id": prompt_id,
                "file": name,
                "take": takes[prompt_id],
                "prompt": record["request"].get("prompt"),
                "genre": record.get("genre") or "",
                "seed": record["seed"],
                "job_id": record["job_id"],
                "model": record["model"],
                "lora": lora.get("path", "") if isinstance(lora, dict) else "",
                "lm": record.get("lm") or "",
            }
        )
        takes[prompt_id] += 1
    mapping = folder / "mapping.csv"
    with mapping.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MAPPING_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return CampaignExport(folder, mapping, len(rows), len(takes))
