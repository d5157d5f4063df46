"""The progress bar's decode stage: it appears when the last step ends, moves on an estimate from the measured
decode speed, and ends when the engine reports the decode done. A fake clock drives it (no timing)."""

from __future__ import annotations

from workbench.engine.engine import Progress
from workbench.ui.progress import CAP, DecodeSpeed, ProgressBar, decode_desc


class FakeBar:
    def __init__(self) -> None:
        self.calls: list[tuple[object, str]] = []

    def __call__(self, progress: object, desc: str = "", unit: str = "") -> None:
        self.calls.append((progress, desc))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _run(speed: DecodeSpeed, clock: Clock, bar: FakeBar, audio_s: int = 20) -> ProgressBar:
    pb = ProgressBar(bar, speed, clock)
    pb(Progress("preparing", 0, 2))
    pb(Progress("denoising", 1, 2))
    pb(Progress("denoising", 2, 2))
    pb(Progress("decoding", 0, audio_s))
    return pb


def test_first_decode_counts_seconds_then_later_ones_are_estimated() -> None:
    speed, clock, bar = DecodeSpeed(), Clock(), FakeBar()
    pb = _run(speed, clock, bar)
    assert bar.calls[-1] == (None, "decoding audio · 0 s (no estimate yet)")
    clock.now += 10.0
    pb._ticker.draw()  # what the ticker thread does every TICK_S
    assert bar.calls[-1] == (None, "decoding audio · 10 s (no estimate yet)")
    pb(Progress("decoding", 20, 20))
    assert bar.calls[-1] == (1.0, "writing and analysing")
    assert speed.estimate_s(20) == 10.0  # 0.5 s of decode per second of audio, measured
    pb.close()

    bar2 = FakeBar()
    pb2 = _run(speed, clock, bar2, audio_s=40)  # twice the audio: about 20 s expected
    assert bar2.calls[-1] == (0.0, "decoding audio · about 20 s left")
    fractions = []
    for _ in range(3):
        clock.now += 5.0
        pb2._ticker.draw()
        fractions.append(bar2.calls[-1][0])
    assert fractions == [0.25, 0.5, 0.75]  # it moves
    assert bar2.calls[-1][1] == "decoding audio · about 5 s left"
    clock.now += 100.0
    pb2._ticker.draw()
    assert bar2.calls[-1][0] == CAP  # an estimate that runs out never claims 100 %
    pb2(Progress("done", 1, 1))
    assert pb2._ticker is None and bar2.calls[-1] == (1.0, "done")


def test_a_failed_run_stops_the_ticker_and_records_nothing() -> None:
    speed, clock, bar = DecodeSpeed(), Clock(), FakeBar()
    pb = _run(speed, clock, bar)
    clock.now += 3.0
    assert pb.close() == 3.0 and pb._ticker is None
    assert speed.estimate_s(10) is None
    assert decode_desc(2.0, 0.0) == (None, "decoding audio · 2 s (no estimate yet)")


def test_the_engine_reports_the_decode_after_the_last_step(engine) -> None:
    from workbench.engine.requests import Text2Music

    seen: list[Progress] = []
    result = engine.run(
        Text2Music(prompt="x", duration_s=2, steps=3, seed=1, batch_size=2), progress=seen.append
    )
    stages = [(p.stage, p.step, p.total) for p in seen]
    last_step = stages.index(("denoising", 3, 3))
    assert stages[last_step + 1 :] == [("decoding", 0, 4), ("decoding", 4, 4), ("done", 1, 1)]
    assert result.timings["decode_s"] > 0
