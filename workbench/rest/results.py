"""Result items in upstream's shape (ace-step/ACE-Step-1.5@6d467e4:acestep/api/jobs/local_cache_updates.py), one
per take, plus what the workbench adds: the integer ``seed``, the run id (its row in History), the sidecar and
the server path. ``query_item`` writes a task's entry of ``/query_result``: ``result`` as upstream's JSON string and
``result_items``, the same list parsed, for clients that would rather not decode JSON inside JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

from workbench.rest.db import JobRow
from workbench.rest.files import audio_url
from workbench.services import RecordedRun

STATUS_CODES = {"queued": 0, "running": 0, "done": 1, "failed": 2, "cancelled": 2}


def take_items(run: RecordedRun, lm: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``lm``: what the LM did for the task (``LmPlanner.run``): its name, flags, chosen fields, written inputs."""
    lm = lm or {}
    result = run.result
    request = result.request
    items = []
    for recorded in run.takes:
        take = recorded.take
        metas = {
            "bpm": request.bpm,
            "duration": take.audio.duration_s,
            "genres": request.genre or "",
            "keyscale": request.keyscale or "",
            "timesignature": request.time_signature or "",
            "prompt": request.prompt,
            "lyrics": request.lyrics,
        }
        items.append(
            {
                "file": audio_url(recorded.path),
                "wave": "",
                "status": 1,
                "create_time": int(time.time()),
                "env": "workbench",
                "prompt": request.prompt,
                "lyrics": request.lyrics,
                "metas": metas,
                "generation_info": (
                    f"{request.task}, {request.steps} steps, guidance {request.guidance_scale}, "
                    f"shift {request.shift}, seed {take.seed}"
                ),
                "seed_value": str(take.seed),
                "seed": take.seed,
                "lm_model": lm.get("lm_model"),
                "lm": lm or None,
                "dit_model": result.model.name,
                "progress": 1.0,
                "stage": "done",
                "task_type": lm.get(
                    "task_type", request.task
                ),  # Think renders codes; the client asked text2music
                "run_id": recorded.run_id,
                "path": recorded.path,
                "sidecar": recorded.sidecar,
                "lora": None
                if request.lora is None
                else {"path": request.lora.path, "scale": request.lora.scale},
                "preservation": run.preservation,
                "notes": list(result.notes),
            }
        )
    return items


def query_item(job: JobRow | None, task_id: str, progress_text: str, position: int | None) -> dict[str, Any]:
    if job is None:
        return {
            "task_id": task_id,
            "status": 2,
            "state": "unknown",
            "result": "[]",
            "result_items": [],
            "progress_text": "",
            "error": "no such task for this API key",
        }
    items = job.result or []
    if job.status == "queued":
        text = f"queued (position {position})" if position else "queued"
    elif job.status == "running":
        text = progress_text or "running"
    elif job.status == "done":
        text = "done"
    else:
        text = f"{job.status}: {job.error}"
    return {
        "task_id": job.id,
        "status": STATUS_CODES[job.status],
        "state": job.status,
        "result": json.dumps(items),
        "result_items": items,
        "progress_text": text,
        "error": job.error if job.status in ("failed", "cancelled") else None,
        "queue_position": position,
        "warnings": job.warnings,
        "seeds": [int(job.request["seed"]) + i for i in range(int(job.request["batch_size"]))],
        "run_ids": job.run_ids,
    }
