"""Fixtures for the planner tests: the tiny LM's tokenizer and a cancel-at-token-N progress function."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="session")
def lm_tokenizer(planner: Any) -> Any:
    return planner.lm("lm-tiny").tokenizer


@pytest.fixture
def cancel_at() -> Callable[[int], tuple[threading.Event, Callable[[str, int, int], None], list[int]]]:
    """``cancel_at(n)`` -> (event, progress, seen): progress sets the event once n tokens are written and
    records every count it was called with."""

    def make(n: int) -> tuple[threading.Event, Callable[[str, int, int], None], list[int]]:
        event = threading.Event()
        seen: list[int] = []

        def progress(phase: str, done: int, total: int) -> None:
            seen.append(done)
            if done >= n:
                event.set()

        return event, progress, seen

    return make


@pytest.fixture(scope="module", autouse=True)
def _planner_tests_on_one_thread(one_torch_thread: None) -> None:
    """Every planner test runs the token loop: one torch thread for the whole folder."""
