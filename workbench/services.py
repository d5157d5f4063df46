"""The calls every face makes: the Gradio tabs, the API endpoints and the CLI run requests through a ``Workbench``.

A ``Workbench`` holds the engine, the store and the folders results go to. It is the only place that records
results for the faces: ``generate`` / ``edit`` run a typed request on the one engine and write files, sidecars and
store rows; ``master`` masters a recorded run (the file next to it, its sidecar and its store row together) or an
upload; ``stems`` separates; ``style_sweep`` renders one source at several strengths; ``source_path`` turns an
upload or a run id into the audio a source task reads; ``run_batch`` runs a plan on the app's engine.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import records
from workbench.core import audio_io, paths
from workbench.core.errors import InputError, WorkbenchError
from workbench.engine.engine import Engine, Progress, ProgressFn, RunResult
from workbench.engine.pipeline_args import preservation_report
from workbench.engine.requests import GenerationRequest, StyleTransfer
from workbench.records import RecordedTake

if TYPE_CHECKING:
    from lora.auto_label import Labeller
    from workbench.audio.mastering import MasteringResult, MasteringSpec
    from workbench.audio.stems import StemSeparator
    from workbench.batch.plan import Plan
    from workbench.batch.run import BatchResult
    from workbench.batch.runner import BatchProgress
    from workbench.core.store import Store
    from workbench.planner.planner import Planner
    from workbench.planner.plans import FormatRequest, SampleRequest, ThinkOptions, UnderstandRequest, Written
    from workbench.planner.plans import Plan as LmPlan

_SEED_LIMIT = 2**31  # as the engine's random seeds: small enough to type back in
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RecordedRun:
    """A run and what was written of it; ``takes`` is empty when it was cancelled (nothing is saved then)."""

    result: RunResult
    takes: list[RecordedTake]
    preservation: str = ""  # repaint/extend: whether everything outside the window equals the source
    plan: LmPlan | None = None  # Think: what the LM planned (also in each take's sidecar)

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass(frozen=True)
class StemsOutput:
    paths: dict[str, Path]
    archive: Path


@dataclass(frozen=True)
class MasteredFile:
    path: Path
    result: MasteringResult
    recorded: bool  # a recorded run: the pass is in its sidecar and store row; an upload: nothing recorded


@dataclass
class Workbench:
    engine: Engine | None  # None: a workbench that only masters, separates and reads runs (no model)
    store: Store | None
    runs_dir: Path = field(default_factory=paths.runs_dir)
    temp_dir: Path = field(default_factory=paths.ui_cache_dir)
    # The app loads its model in the background; this waits for it (and raises its load error). None: the engine
    # loads on first use.
    ready: Callable[[], Engine] | None = None
    # Called on every engine progress update in the worker thread (tests slow the tiny model's steps with it).
    progress_hook: ProgressFn | None = None
    # The 5 Hz LM planner for Think, Format, Simple mode and Understand; made on first use when None.
    planner: Planner | None = None

    # --- runs ---------------------------------------------------------------------------------------------------
    def require_engine(self) -> Engine:
        if self.ready is not None:
            return self.ready()
        if self.engine is None:
            raise WorkbenchError("this workbench has no model; give it an engine to generate")
        return self.engine

    def generate(
        self,
        request: GenerationRequest,
        *,
        audio_format: str = "wav",
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        think: ThinkOptions | None = None,
    ) -> RecordedRun:
        """Validate, run on the engine and record (files + sidecars + store rows) in ``audio_format``.

        Repaint/extend results also carry the check that everything outside their window equals the source.
        With ``think`` the LM plans the request first (``generate_planned``).
        """
        request.validate()  # before waiting for the model: bad input is reported at once
        records.check_format(audio_format)
        records.check_output_folder(self.runs_dir)
        if think is not None:
            return self.generate_planned(
                request, think, audio_format=audio_format, progress=progress, cancel=cancel
            )
        engine = self.require_engine()
        result = engine.run(request, progress=self._progress(progress), cancel=cancel)
        if not result.ok:
            return RecordedRun(result, [])
        recorded = records.record(result, self.runs_dir, audio_format, self.store)
        return RecordedRun(result, recorded, preservation_report(result))

    # Source tasks (the Edit tab, the repaint/extend endpoints) run and record exactly like text2music.
    edit = generate

    # --- the LM planner -----------------------------------------------------------------------------------------
    def require_planner(self) -> Planner:
        if self.planner is None:
            from workbench.planner.planner import Planner

            engine = self.engine
            self.planner = Planner(device=engine.device if engine is not None else None)
        return self.planner

    def format_inputs(self, request: FormatRequest, cancel: threading.Event | None = None) -> Written:
        """Format (upstream /format_input): the LM rewrites caption + lyrics and fills the empty metadata."""
        return self.require_planner().format(request, cancel=cancel)

    def sample_song(self, request: SampleRequest, cancel: threading.Event | None = None) -> Written:
        """Simple mode (upstream /v1/create_sample): a description -> caption, lyrics and metadata."""
        return self.require_planner().sample(request, cancel=cancel)

    def understand(
        self, request: UnderstandRequest, run_id: str | None = None, cancel: threading.Event | None = None
    ) -> Written:
        """Understand: an audio file (or a recorded run) through the engine's audio tokenizer, then the LM."""
        if not request.codes.strip():
            from workbench.planner.audio_codes import audio_to_codes

            src = self.source_path(request.audio_path or None, run_id)
            request = dataclasses.replace(request, codes=audio_to_codes(self.require_engine(), src))
        return self.require_planner().understand(request, cancel=cancel)

    def dataset_labeller(self, lm: str | None = None) -> Labeller:
        """The LoRA dataset builder's auto-label (``lora.auto_label``): Understand on this workbench's engine and
        LM. A missing or unknown LM is reported now, before any clip is read."""
        from lora.auto_label import understand_labeller
        from workbench.planner.plans import DEFAULT_LM
        from workbench.planner.registry import lm_problem

        name = lm or DEFAULT_LM
        problem = lm_problem(name)
        if problem:
            raise InputError("lm", name, problem)
        return understand_labeller(self.require_engine(), self.require_planner(), name)

    def generate_planned(
        self,
        request: GenerationRequest,
        think: ThinkOptions,
        *,
        audio_format: str = "wav",
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> RecordedRun:
        """Think: the LM plans the fields the user left empty and the audio codes, the DiT renders the codes.

        The sidecar's ``request`` is the rendered (codes) request, so ``replay`` reproduces the take without the
        LM; its ``plan`` block holds the LM, templates, sampling, seed, metadata and codes, and the request the
        user asked for, so ``replay --replan`` can run the LM again with the same seed.
        """
        from workbench.planner.apply import plan_record
        from workbench.planner.apply import think as plan_think
        from workbench.planner.decoding import PlanCancelled

        request.validate()
        if request.seed is None:  # the LM's seed is the request's, so it must be fixed before planning
            request = dataclasses.replace(request, seed=secrets.randbelow(_SEED_LIMIT))
        engine = self.require_engine()
        on_progress = self._progress(progress)

        def lm_progress(phase: str, done: int, total: int) -> None:
            on_progress(Progress(f"planning {phase}", done, total))

        try:
            rendered, plan = plan_think(
                self.require_planner(), request, think, progress=lm_progress, cancel=cancel
            )
        except PlanCancelled:
            cancelled = RunResult(request, "cancelled", [], engine.info, None, batch_id="")
            return RecordedRun(cancelled, [])
        result = engine.run(rendered, progress=on_progress, cancel=cancel)
        if not result.ok:
            return RecordedRun(result, [], plan=plan)
        extra = {"plan": plan_record(request, plan)}
        recorded = records.record(result, self.runs_dir, audio_format, self.store, extra=extra)
        return RecordedRun(result, recorded, plan=plan)

    def _progress(self, progress: ProgressFn | None) -> ProgressFn:
        hook = self.progress_hook

        def on_progress(p: Progress) -> None:
            if hook is not None:
                hook(p)
            if progress is not None:
                progress(p)

        return on_progress

    def style_sweep(
        self,
        src: str,
        strengths: list[float],
        common: dict[str, Any],
        reference: str | None,
        audio_format: str,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> list[tuple[float, RecordedRun]]:
        """One render per strength with the same seed, so only the strength differs between them."""
        if common.get("seed") is None:
            common = {**common, "seed": secrets.randbelow(_SEED_LIMIT)}
        runs = []
        for strength in strengths:
            request = StyleTransfer(**common, src=src, strength=strength, reference=reference or None)
            run = self.generate(request, audio_format=audio_format, progress=progress, cancel=cancel)
            if not run.ok:
                break
            runs.append((strength, run))
        return runs

    # --- audio of recorded runs and uploads ---------------------------------------------------------------------
    def _store(self) -> Store:
        if self.store is None:
            raise InputError("run_id", None, "this workbench has no store; run without --no-store")
        return self.store

    def source_path(self, upload: str | None, run_id: str | None = None) -> str:
        """The audio a source task works on: an upload (Gradio's own temp copy) or a recorded run id."""
        run_id = (run_id or "").strip()
        if run_id:
            row = self._store().get_run(run_id)
            if row is None:
                raise InputError("run_id", run_id, "no such run; pick one from the History tab")
            if not Path(row.audio_path).is_file():
                raise InputError("run_id", run_id, f"the audio file of this run is gone ({row.audio_path})")
            return row.audio_path
        if upload:
            return str(upload)
        raise InputError("source", None, "upload an audio file, or send a result here from another tab")

    def new_temp_dir(self, prefix: str) -> Path:
        folder = (
            self.temp_dir / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{threading.get_ident() % 10000:04d}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def stems(self, separator: StemSeparator, src: str, run_id: str | None = None) -> StemsOutput:
        from workbench.audio.stems import write_stems

        separator.check()  # fast, local: a missing model is reported before the audio is even read
        stems = separator.separate(audio_io.load_conformed(src))
        prefix = f"{run_id}_" if run_id else ""
        stem_paths, archive = write_stems(stems, self.new_temp_dir("stems"), prefix)
        return StemsOutput(stem_paths, archive)

    def master(
        self, src: str, spec: MasteringSpec, run_id: str | None = None, audio_format: str = "wav"
    ) -> MasteredFile:
        """Master a file. For a recorded run the result goes next to it and into its sidecar and store row;
        uploads go to the temp folder and nothing is recorded."""
        from workbench.audio import mastering

        records.check_format(audio_format)
        result = mastering.master(audio_io.load_conformed(src), spec)
        row = self._store().get_run(run_id) if run_id else None
        if row is None:
            stem = _SAFE.sub("_", Path(src).stem)[:60] or "audio"
            out = self.new_temp_dir("master") / f"{stem}_mastered.{audio_format}"
            audio_io.write_audio(out, result.audio)
            return MasteredFile(out, result, False)
        out = _free_name(Path(row.audio_path), audio_format)
        audio_io.write_audio(out, result.audio)
        records.append_mastering(self.store, records.mastering_entry(result, out), run_id=row.id)
        return MasteredFile(out, result, True)

    def master_run(self, run_id: str, spec: MasteringSpec, audio_format: str = "wav") -> MasteredFile:
        """Master a recorded run by its id (the CLI's ``workbench master``)."""
        return self.master(self.source_path(None, run_id), spec, run_id, audio_format)

    # --- batches ------------------------------------------------------------------------------------------------
    def batch_engine(self, model: str) -> Engine:
        """The engine a batch row runs on: the app's own for its model.

        A row naming another model needs a second pipeline (an engine holds one, and swapping the app's model would
        change what Generate and the API run mid-session). It shares the app engine's lock, so the two never run
        at the same time, and the batch runner drops it when it moves on.
        """
        app = self.engine
        if app is None or model == app.model_name:
            return self.require_engine()
        other = Engine(model, device=app.device, dtype=app.dtype, offload=app.offload, lock=app.lock)
        other.load()
        return other

    def run_batch(
        self,
        plan: Plan,
        out_dir: Path,
        progress: Callable[[BatchProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> BatchResult:
        """Run (or resume) a plan in this process on ``batch_engine``; rows go into the store (History)."""
        from workbench.batch import run_batch
        from workbench.batch.distributed import ProcessInfo

        return run_batch(
            plan,
            out_dir,
            make_engine=self.batch_engine,
            store=self.store,
            progress=progress,
            cancel=cancel,
            process=ProcessInfo(0, 1, None, lambda: None),
            planner=self.planner,  # Think rows share the app's LM (None: the runner makes one when needed)
        )


def _free_name(base: Path, audio_format: str) -> Path:
    """``<take>_mastered.<fmt>``, then ``_mastered2``, ... : earlier passes are kept."""
    out = base.with_name(f"{base.stem}_mastered.{audio_format}")
    n = 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.stem}_mastered{n}.{audio_format}")
    return out
