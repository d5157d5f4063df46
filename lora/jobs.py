"""The LoRA tab's training half, without Gradio: the form -> a TrainConfig, and one background training per app.

Training runs ``lora.train`` in a worker thread with a stop Event; the tab polls ``TrainingJobs.snapshot()`` on a
timer, so no Gradio worker is held for the length of a run. The trainer loads its own copy of the model and
does not take the app engine's lock: it adds a PEFT adapter to that copy and trains it for minutes to hours, which
on the engine's pipeline would change what Generate renders and would hold Generate up for the whole run (see
docs/lora.md, "The trainer's own model"). Runs are read back from disk by ``lora.runs``.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora import runs as lora_runs
from workbench.core import paths
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.timefmt import eta_text

log = logging.getLogger("workbench.ui")


def presets() -> list[str]:
    """Genre presets: the YAML configs in configs/lora/, by name."""
    return sorted(p.stem for p in (paths.CONFIG_DIR / "lora").glob("*.yaml"))


def preset_config(name: str) -> Any:
    from lora.config import load_config

    if name not in presets():
        raise InputError("preset", name, f"choose one of {', '.join(presets())}")
    return load_config(paths.CONFIG_DIR / "lora" / f"{name}.yaml")


def train_config(
    runs_dir: Path,
    *,
    preset: str,
    dataset: str | None,
    name: str,
    model: str | None,
    rank: Any,
    alpha: Any,
    learning_rate: Any,
    max_steps: Any,
    checkpoint_every: Any,
    targets: list[str] | None,
    preview: bool,
    tracking: str | None = None,
) -> Any:
    """A TrainConfig from the form: the preset's YAML with the form's values as overrides (validated by lora).

    ``tracking``: the W&B mode ("online", "offline", "off", "auto"); empty or None keeps the preset's."""
    from lora.config import load_config
    from lora.library import data_root

    if not dataset:
        raise InputError("dataset", dataset, "save a dataset in step 1, or pick one from the list")
    data = data_root() / dataset
    if not (data / "dataset").is_dir():
        raise InputError("dataset", dataset, "no saved dataset of that name; save it in step 1 first")
    out = lora_runs.run_dir(runs_dir, name)
    if (out / "config.yaml").exists():
        raise InputError(
            "run name", name, "a run of that name exists; press Resume to continue it, or rename"
        )
    if preset not in presets():
        raise InputError("preset", preset, f"choose one of {', '.join(presets())}")
    overrides: dict[str, Any] = {
        "name": out.name,
        "data": str(data),
        "out": str(out),
        "rank": rank,
        "alpha": alpha,
        "learning_rate": learning_rate,
        "max_steps": max_steps,
        "checkpoint_every": checkpoint_every,
        "target_modules": list(targets or []),
        "preview": bool(preview),
    }
    if model and model.strip():
        overrides["model"] = model.strip()
    if tracking:
        overrides["tracking"] = tracking
    return load_config(paths.CONFIG_DIR / "lora" / f"{preset}.yaml", overrides)


def resume_config(runs_dir: Path, name: str | None) -> Any:
    from lora import checkpoints as ck
    from lora.config import load_config

    folder = lora_runs.run_dir(runs_dir, name)
    if not (folder / "config.yaml").is_file():
        raise InputError("run", name, "no such run; pick one from the list")
    if (folder / ck.SUMMARY_FILE).exists():
        raise InputError("run", name, "this run finished; its adapters are in the list below")
    if ck.latest_checkpoint(folder) is None:
        raise InputError("run", name, "has no checkpoint to resume from yet; start it again under a new name")
    return load_config(folder / "config.yaml")


@dataclass
class JobState:
    """What the tab shows about the current (or last) training. A copy is handed out, never the live object."""

    run: str
    run_dir: Path
    # starting | preprocess | train | checkpoint | done | stopped | stopped-early (before training) | failed
    phase: str = "starting"
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    message: str = ""
    error: str | None = None
    started_s: float = field(default_factory=time.monotonic)
    train_started_s: float | None = None
    train_started_step: int = 0
    finished: bool = False
    best_step: int | None = None

    def line(self) -> str:
        """One Markdown status line: the phase, progress and what to do next."""
        if self.error:
            return f"**{self.run}: failed.** {self.error}"
        if self.phase == "preprocess":
            return f"**{self.run}: preprocessing** {self.step}/{self.total_steps} clips · {self.message}"
        if self.phase in ("train", "checkpoint"):
            text = f"**{self.run}: training** step {self.step}/{self.total_steps}"
            if self.loss is not None:
                text += f" · loss {self.loss:.4f}"
            if self.lr is not None:
                text += f" · lr {self.lr:.2e}"
            rate = self.steps_per_s()
            if rate:
                text += f" · {rate:.2f} steps/s · ETA {eta_text((self.total_steps - self.step) / rate)}"
            if self.phase == "checkpoint":
                text += " · saving a checkpoint"
            return text
        if self.phase == "stopped-early":
            return (
                f"**{self.run}: stopped** before training began. Clips encoded so far are cached: press Start with "
                "the same run name to continue."
            )
        if self.phase == "stopped":
            return (
                f"**{self.run}: stopped** at step {self.step}/{self.total_steps}. Press Resume to continue."
            )
        if self.phase == "done":
            return f"**{self.run}: done**, {self.step} steps; best checkpoint: step {self.best_step}."
        return f"**{self.run}: starting** (loading the model) …"

    def steps_per_s(self) -> float | None:
        if self.train_started_s is None or self.step <= self.train_started_step:
            return None
        elapsed = time.monotonic() - self.train_started_s
        return (self.step - self.train_started_step) / elapsed if elapsed > 0 else None


class TrainingJobs:
    """At most one LoRA training per app: its worker thread, stop flag and latest progress."""

    def __init__(self, on_progress: Callable[[Any], None] | None = None) -> None:
        """``on_progress`` is called in the worker thread with each trainer progress event, after the state shows
        it; the training waits while it runs, so a caller (a test) can act at a known point of a run."""
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._state: JobState | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, config: Any, *, resume: bool = False) -> JobState:
        """Start ``config`` in the background; refuses while another training runs."""
        from lora import train

        with self._lock:
            if self.running and self._state is not None:
                s = self._state
                raise WorkbenchError(
                    f"A training is already running ({s.run}, step {s.step}/{s.total_steps}); only one runs at "
                    "a time. Stop it, or wait for it to finish."
                )
            state = JobState(run=config.name, run_dir=Path(config.out))
            self._state, self._stop = state, threading.Event()
            stop = self._stop

            def work() -> None:
                try:
                    result = train(config, progress=self._update, stop=stop, resume=resume)
                    with self._lock:
                        state.best_step = result.best_step
                        state.phase = "done"
                        if result.stopped:
                            # Stopped while encoding: no checkpoint and no run folder yet, so Start (not Resume).
                            state.phase = "stopped" if result.total_steps else "stopped-early"
                        state.step = result.steps or state.step
                except WorkbenchError as exc:
                    self._fail(state, str(exc))
                except (ValueError, FileNotFoundError) as exc:
                    self._fail(state, str(exc))
                except (
                    Exception
                ) as exc:  # a worker thread has no caller: the error must reach the tab's status
                    log.exception("LoRA training %s failed", config.name)
                    self._fail(state, f"{type(exc).__name__}: {exc} (details in the server log)")
                finally:
                    with self._lock:
                        state.finished = True

            self._thread = threading.Thread(target=work, name=f"lora-train-{config.name}", daemon=True)
            self._thread.start()
            return copy.copy(state)

    def _fail(self, state: JobState, message: str) -> None:
        with self._lock:
            state.phase, state.error = "failed", message

    def _update(self, p: Any) -> None:
        with self._lock:
            s = self._state
            if s is None:
                return
            if p.phase == "train" and s.train_started_s is None:
                s.train_started_s, s.train_started_step = time.monotonic(), p.step - 1
            s.phase, s.step, s.total_steps, s.message = p.phase, p.step, p.total_steps, p.message
            if p.loss is not None:
                s.loss = p.loss
            if p.lr is not None:
                s.lr = p.lr
        if self._on_progress is not None:  # outside the lock: the hook may call stop() or snapshot()
            self._on_progress(p)

    def stop(self) -> bool:
        """Ask the running training to checkpoint and stop; False when none runs."""
        with self._lock:
            if not self.running:
                return False
            self._stop.set()
            return True

    def snapshot(self) -> JobState | None:
        with self._lock:
            return copy.copy(self._state) if self._state is not None else None

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ends (tests and shutdown); True when it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()
