"""Which jobs share one pipeline call, and which process runs them.

The engine gives the takes of a batch the seeds seed, seed+1, ..., seed+N-1, so jobs can share a call only if
they are equal apart from the seed and their seeds are consecutive. The rule: walk the jobs in plan order and
start a new group whenever the recipe changes, the seed is not the previous seed + 1, or the group is full.
Plans list seeds last when expanding a row, so a row with seeds 0-99 and max_group 4 makes 25 calls of 4.
Think jobs never share a call: every seed has its own plan, so its own audio codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workbench.batch.plan import Job
from workbench.core.config import whole
from workbench.core.errors import InputError
from workbench.engine.requests import MAX_BATCH


def group_jobs(jobs: Iterable[Job], max_group: int) -> list[list[Job]]:
    whole("max_group", max_group, 1, MAX_BATCH)
    groups: list[list[Job]] = []
    for job in jobs:
        last = groups[-1] if groups else None
        if (
            last is not None
            and job.think is None  # each Think job has its own plan and codes: one pipeline call each
            and len(last) < max_group
            and last[-1].group_key == job.group_key
            and last[-1].seed + 1 == job.seed
        ):
            last.append(job)
        else:
            groups.append([job])
    return groups


def shard(groups: Sequence[list[Job]], process_index: int, num_processes: int) -> list[list[Job]]:
    """Round-robin over groups in plan order: every process gets a similar mix of models, LoRAs and lengths.

    Sharding is by group index over the groups of the *whole* plan (computed before finished jobs are dropped),
    so every process agrees on who owns which job without talking to the others.
    """
    if not 0 <= process_index < num_processes:
        raise InputError("process_index", process_index, f"must be between 0 and {num_processes - 1}")
    return [g for i, g in enumerate(groups) if i % num_processes == process_index]


def order_for_loading(groups: list[list[Job]]) -> list[list[Job]]:
    """Stable sort by model then LoRA, so a process loads each model once and switches adapters rarely."""

    def key(group: list[Job]) -> tuple[str, str]:
        lora = group[0].request.lora
        return group[0].model, lora.path if lora else ""

    return sorted(groups, key=key)
