"""Durations as people read them in progress lines ("ETA 2 min 05 s"); shared by the batch and LoRA progress."""

from __future__ import annotations


def eta_text(seconds: float | None) -> str:
    """``125`` -> ``"2 min 05 s"``, ``7`` -> ``"7 s"``; ``None`` (not known yet) -> ``"…"``."""
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
