"""Checkpoint state files load through torch's weights-only loader: RNG states round-trip, pickled objects don't."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from lora import checkpoints as ck
from workbench.core.errors import InputError


def _draws() -> tuple[float, float, float]:
    return float(torch.rand(1)), float(np.random.rand()), random.random()


def test_rng_state_round_trips_through_the_weights_only_loader(tmp_path: Path) -> None:
    path = tmp_path / "rng.pt"
    torch.save({"global": ck.rng_state()}, path)
    expected = _draws()
    _draws()  # move every generator on
    ck.restore_rng_state(ck.load_state(path)["global"])
    assert _draws() == expected


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what a crafted checkpoint does: call a function when unpickled
        return (os.system, (f"touch {self.marker}",))


def test_a_state_file_holding_a_pickled_object_is_refused(tmp_path: Path) -> None:
    marker, path = tmp_path / "ran", tmp_path / ck.STATE_FILE
    torch.save({"step": 3, "payload": _RunsCode(marker)}, path)
    with pytest.raises(InputError, match="could run code"):
        ck.load_state(path)
    assert not marker.exists()
