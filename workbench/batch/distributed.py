"""Data-parallel batches: which process this is, how many there are, and a barrier, via accelerate.

Launch the same command once per device with ``accelerate launch`` (see docs/batch.md). Every process reads the
whole plan, takes every n-th group of jobs (``groups.shard``), writes its own manifest shard, and the main process
merges the shards after a barrier. Without a launcher (``WORLD_SIZE`` unset) this is a single process and
accelerate is not touched, so a plain ``workbench batch run`` costs nothing extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessInfo:
    index: int
    count: int
    device: str | None  # None: let the engine pick
    barrier: Callable[[], None]

    @property
    def is_main(self) -> bool:
        return self.index == 0


def launched_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def process_info(device: str | None = None) -> ProcessInfo:
    if not launched_distributed():
        return ProcessInfo(0, 1, device, lambda: None)
    import torch
    from accelerate import PartialState

    # On a machine without CUDA, accelerate only sets up a CPU (gloo) group when asked for cpu explicitly;
    # otherwise every process would think it is alone and all of them would run the whole plan.
    state = PartialState(cpu=not torch.cuda.is_available())
    if device is None and torch.cuda.is_available():
        device = f"cuda:{state.local_process_index}"
    return ProcessInfo(state.process_index, state.num_processes, device, state.wait_for_everyone)
