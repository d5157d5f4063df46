"""Engine progress on a Gradio bar: denoising steps, then the VAE decode with its own estimate.

On long takes the decode after the last step is most of the wait, and the pipeline reports nothing while it runs.
So the bar switches to a "decoding" stage whose fraction is the elapsed time over an estimate from the decode
speed this app measured on earlier runs (seconds of decode per second of audio); a ticker thread moves it until
the engine reports the decode's end. Without a measurement yet it counts the seconds instead of inventing a
fraction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.engine.engine import Progress

if TYPE_CHECKING:
    import gradio as gr  # the bar is a gr.Progress (tests pass a recorder with the same call)

TICK_S = 0.5  # how often the decode bar is redrawn
CAP = 0.99  # an estimate that runs out leaves the bar just short of full, not at a false 100 %
WEIGHT = 0.5  # exponential average: the newest measurement counts half


class DecodeSpeed:
    """Measured VAE-decode speed of this app (one per app: the model and device are the same for every user)."""

    def __init__(self) -> None:
        self._s_per_audio_s: float | None = None
        self._lock = threading.Lock()

    def record(self, audio_s: float, decode_s: float) -> None:
        if audio_s <= 0 or decode_s <= 0:
            return
        rate = decode_s / audio_s
        with self._lock:
            old = self._s_per_audio_s
            self._s_per_audio_s = rate if old is None else WEIGHT * rate + (1 - WEIGHT) * old

    def estimate_s(self, audio_s: float) -> float | None:
        with self._lock:
            return None if self._s_per_audio_s is None else self._s_per_audio_s * audio_s


def decode_desc(elapsed_s: float, estimate_s: float | None) -> tuple[float | None, str]:
    """(fraction or None, text) of the decode bar after ``elapsed_s``."""
    if estimate_s is None or estimate_s <= 0:
        return None, f"decoding audio · {elapsed_s:.0f} s (no estimate yet)"
    left = max(0.0, estimate_s - elapsed_s)
    return min(CAP, elapsed_s / estimate_s), f"decoding audio · about {left:.0f} s left"


class _DecodeTicker:
    """Redraws the decode bar every ``TICK_S`` from its own thread until stopped."""

    def __init__(self, bar: gr.Progress | Any, estimate_s: float | None, clock: Callable[[], float]) -> None:
        self.bar, self.estimate_s, self.clock = bar, estimate_s, clock
        self.started = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workbench-decode-bar", daemon=True)

    def start(self) -> None:
        self.draw()
        self._thread.start()

    def draw(self) -> None:
        fraction, desc = decode_desc(self.clock() - self.started, self.estimate_s)
        self.bar(fraction, desc=desc)

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            self.draw()

    def stop(self) -> float:
        """Stop the ticker; the decode's measured duration."""
        self._stop.set()
        return self.clock() - self.started


class ProgressBar:
    """Engine progress -> gr.Progress bar: "preparing", "step 3/8", the decode stage, "done".

    Call it with each engine ``Progress``; ``close()`` stops a decode ticker that a failed run left running."""

    def __init__(
        self,
        bar: gr.Progress | Any,
        speed: DecodeSpeed | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.bar, self.speed, self.clock = bar, speed, clock
        self._ticker: _DecodeTicker | None = None

    def close(self) -> float | None:
        """Stop the decode ticker, if any; how long it ran."""
        ticker, self._ticker = self._ticker, None
        return None if ticker is None else ticker.stop()

    def __call__(self, p: Progress) -> None:
        if p.stage == "denoising" and p.total:
            self.bar((p.step, p.total), desc=f"step {p.step}/{p.total}", unit="steps")
        elif p.stage == "decoding" and p.step == 0:
            self.close()
            estimate = self.speed.estimate_s(p.total) if self.speed else None
            self._ticker = _DecodeTicker(self.bar, estimate, self.clock)
            self._ticker.start()
        elif p.stage == "decoding":
            took = self.close()
            if took is not None and self.speed is not None:
                self.speed.record(p.total, took)
            self.bar(1.0, desc="writing and analysing")
        elif p.stage in ("preparing", "done"):
            self.close()
            self.bar(1.0 if p.stage == "done" else 0.0, desc=p.stage)


def progress_adapter(bar: gr.Progress | Any, speed: DecodeSpeed | None = None) -> ProgressBar:
    """Engine progress updates drawn on ``bar`` (a gr.Progress), the decode estimated from ``speed``."""
    return ProgressBar(bar, speed)
