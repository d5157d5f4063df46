"""``Planner``: the one API to the 5 Hz LM. ``plan`` (Think) writes a song's metadata for the fields the user left
empty and then exactly 5 audio codes per second; ``format``, ``sample`` and ``understand`` write song inputs.

Think runs upstream's two phases (ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py
``generate_with_stop_condition``): phase 1 writes the metadata block (skipped when bpm, key, time signature and
duration are all fixed, as upstream's ``has_all_metas``), phase 2 puts that block into the assistant's turn and
writes the codes. Both phases use LM CFG; Format, Simple mode and Understand do not (upstream's
``format_sample_from_input``, ``create_sample_from_query`` and ``understand_audio_from_codes`` take no CFG).
Phase 1 samples with ``seed`` and phase 2 with ``seed + 1``, so a plan replays from its seed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from workbench.core.errors import InputError, WorkbenchError
from workbench.planner import prompts, vocab
from workbench.planner.constraints import Choice, Codes, Fixed, FreeLine, FreeText, ProgramProcessor, Segment
from workbench.planner.decoding import Sampling, decode
from workbench.planner.loading import LoadedLm, load_lm
from workbench.planner.plans import (
    LYRICS_TOKEN_LIMIT,
    FormatRequest,
    Metadata,
    Plan,
    PlanProgress,
    PlanRequest,
    SampleRequest,
    UnderstandRequest,
    Written,
)

_FIELD_OF = {  # request attribute -> metadata-block field
    "bpm": "bpm",
    "duration_s": "duration",
    "keyscale": "keyscale",
    "time_signature": "timesignature",
    "language": "language",
}
_BLOCK_SLACK = 96  # tokens for the block's field names, numbers and tags besides the caption
_MAX_SEED = 2**63 - 1


def _value_text(field: str, value: Any) -> str:
    if field == "duration":
        return str(int(value)) if float(value).is_integer() else f"{float(value):g}"
    return str(value)


def _choices(field: str, duration_max: int) -> tuple[str, ...]:
    if field == "bpm":
        return tuple(str(v) for v in range(vocab.BPM_RANGE[0], vocab.BPM_RANGE[1] + 1))
    if field == "duration":
        return tuple(str(v) for v in range(vocab.DURATION_RANGE[0], duration_max + 1))
    if field == "keyscale":
        return vocab.KEYS
    if field == "language":
        return vocab.LANGUAGES
    return vocab.TIMESIGS


def metadata_program(fixed: dict[str, str], caption_tokens: int | None, duration_max: int) -> list[Segment]:
    """The metadata block: fixed fields written as given, the others chosen from their value sets; the caption
    is a free line (``caption_tokens=None``: no caption field)."""
    program: list[Segment] = [Fixed("<think>\n")]
    for field in prompts.COT_FIELDS:
        if field == "caption":
            if caption_tokens is not None:
                program += [Fixed("caption:"), FreeLine(caption_tokens)]
        elif field in fixed:
            program.append(Fixed(f"{field}: {fixed[field]}\n"))
        else:
            program += [Fixed(f"{field}:"), Choice(tuple(f" {v}\n" for v in _choices(field, duration_max)))]
    program.append(Fixed("</think>"))
    return program


def _metadata(fields: dict[str, str], caption: str) -> Metadata:
    try:
        return Metadata(
            bpm=int(fields["bpm"]),
            keyscale=fields["keyscale"],
            time_signature=fields["timesignature"],
            duration_s=float(fields["duration"]),
            language=fields.get("language", "unknown"),
            caption=fields.get("caption", caption).strip() or caption,
        )
    except (KeyError, ValueError) as exc:
        raise WorkbenchError(f"the LM's metadata block could not be read ({exc}): {fields}") from exc


class Planner:
    """Loads LMs on first use (one at a time: asking for another unloads the first) and serialises their use."""

    def __init__(self, *, device: str | None = None, dtype: str | None = None) -> None:
        self.device = device
        self.dtype = dtype
        self._loaded: LoadedLm | None = None
        self._lock = threading.RLock()

    # --- the model -----------------------------------------------------------------------------------------
    def lm(self, name: str) -> LoadedLm:
        with self._lock:
            if self._loaded is not None and self._loaded.info.name == name and self._loaded.model is not None:
                return self._loaded
            self.unload()
            self._loaded = load_lm(name, device=self.device, dtype=self.dtype)
            return self._loaded

    def unload(self) -> None:
        """Free the LM's memory (e.g. before training); the next call loads it again."""
        with self._lock:
            if self._loaded is not None:
                self._loaded.unload()
                self._loaded = None

    @property
    def loaded_name(self) -> str | None:
        return self._loaded.info.name if self._loaded is not None else None

    # --- checks --------------------------------------------------------------------------------------------
    def _check(self, lm: LoadedLm, lyrics: str, language: str | None, seed: int) -> None:
        if language is not None and language not in vocab.LANGUAGES:
            raise InputError(
                "vocal_language", language, f"the LM knows these language codes: {', '.join(vocab.LANGUAGES)}"
            )
        count = len(lm.tokenizer.encode(lyrics, add_special_tokens=False))
        if count > LYRICS_TOKEN_LIMIT:
            raise InputError(
                "lyrics",
                lyrics[:40],
                f"are {count} tokens; ACE-Step reads at most {LYRICS_TOKEN_LIMIT} lyric tokens, shorten them",
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
            raise InputError("seed", seed, f"must be a whole number between 0 and {_MAX_SEED}")

    def _tokens(self, lm: LoadedLm, text: str) -> int:
        return len(lm.tokenizer.encode(text, add_special_tokens=False))

    def _context_error(self, lm: LoadedLm, duration_s: float, fits_s: int) -> InputError:
        return InputError(
            "duration_s",
            duration_s,
            f"the LM '{lm.info.name}' has a {lm.info.max_model_len}-token context; with this caption and these "
            f"lyrics it can plan at most {max(fits_s, 0)} s (5 codes per second). Shorten the duration or the "
            "lyrics, or turn Think off",
        )

    # --- one turn ------------------------------------------------------------------------------------------
    def _write(
        self,
        lm: LoadedLm,
        messages: prompts.Messages,
        negative: prompts.Messages | None,
        program: list[Segment],
        sampling: Sampling,
        seed: int,
        phase: str,
        budget: int,
        progress: PlanProgress | None,
        cancel: threading.Event | None,
    ) -> list[int]:
        prompt = prompts.render(lm.tokenizer, messages)
        negative_prompt = (
            prompts.render(lm.tokenizer, negative)
            if negative is not None and sampling.cfg_scale > 1
            else None
        )
        room = lm.info.max_model_len - self._tokens(lm, prompt)
        if room <= 0:
            raise InputError(
                "lyrics", "", f"the prompt alone fills the LM's {lm.info.max_model_len}-token context"
            )
        processor = ProgramProcessor(tuple(program), lm.vocab)

        def on_token(n: int) -> None:
            if progress is not None:
                progress(phase, n, budget)

        tokens = decode(
            lm.model,
            lm.tokenizer,
            prompt,
            negative_prompt,
            processor,
            sampling,
            seed,
            min(room, budget),
            cancel=cancel,
            on_token=on_token,
        )
        if not processor.finished:
            raise WorkbenchError(
                f"the LM ran out of its {lm.info.max_model_len}-token context during {phase}; "
                "shorten the caption or the lyrics"
            )
        return tokens

    def _text(self, lm: LoadedLm, tokens: list[int]) -> str:
        return str(lm.tokenizer.decode(tokens, skip_special_tokens=False))

    # --- Think ---------------------------------------------------------------------------------------------
    def plan(
        self,
        request: PlanRequest,
        progress: PlanProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> Plan:
        with self._lock:
            return self._plan(request, progress, cancel)

    def metadata(
        self,
        request: PlanRequest,
        progress: PlanProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[Metadata, tuple[str, ...]]:
        """Think's first phase alone: the metadata block (upstream's ``infer_type="dit"``), no codes."""
        with self._lock:
            fields, chosen = self._metadata_phase(self.lm(request.lm), request, progress, cancel)
            return _metadata(fields, request.caption), chosen

    def _metadata_phase(
        self,
        lm: LoadedLm,
        request: PlanRequest,
        progress: PlanProgress | None,
        cancel: threading.Event | None,
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        lyrics = request.lyrics_for_lm
        self._check(lm, lyrics, request.language, request.seed)
        fixed = {
            _FIELD_OF[attr]: _value_text(_FIELD_OF[attr], getattr(request, attr))
            for attr in _FIELD_OF
            if getattr(request, attr) is not None
        }
        think = prompts.think_messages(request.caption, lyrics)
        head = self._tokens(lm, prompts.render(lm.tokenizer, think)) + request.caption_tokens + _BLOCK_SLACK
        fits_s = (lm.info.max_model_len - head) // vocab.CODES_PER_SECOND
        if request.duration_s is not None and round(request.duration_s * vocab.CODES_PER_SECOND) > (
            lm.info.max_model_len - head
        ):
            raise self._context_error(lm, request.duration_s, fits_s)
        if {"bpm", "keyscale", "timesignature", "duration"} <= fixed.keys():
            return dict(fixed), ()
        duration_max = min(vocab.DURATION_RANGE[1], fits_s)
        if duration_max < vocab.DURATION_RANGE[0]:
            raise self._context_error(lm, vocab.DURATION_RANGE[0], fits_s)
        program = metadata_program(fixed, request.caption_tokens, duration_max)
        negative = prompts.think_negative_messages(lyrics, request.sampling.negative_prompt)
        budget = request.caption_tokens + _BLOCK_SLACK + 64
        tokens = self._write(
            lm, think, negative, program, request.sampling, request.seed, "metadata", budget, progress, cancel
        )
        fields = prompts.read_output(self._text(lm, tokens)).fields
        return fields, tuple(f for f in prompts.COT_FIELDS if f in fields and f not in fixed)

    def _plan(
        self, request: PlanRequest, progress: PlanProgress | None, cancel: threading.Event | None
    ) -> Plan:
        lm = self.lm(request.lm)
        lyrics = request.lyrics_for_lm
        started = time.perf_counter()
        fields, chosen = self._metadata_phase(lm, request, progress, cancel)
        metadata = _metadata(fields, request.caption)
        phase1_s = time.perf_counter() - started
        cot = prompts.cot_text(fields)
        codes_prompt = prompts.codes_messages(request.caption, lyrics, cot)
        count = round(metadata.duration_s * vocab.CODES_PER_SECOND)
        room = lm.info.max_model_len - self._tokens(lm, prompts.render(lm.tokenizer, codes_prompt))
        if count > room:
            raise self._context_error(lm, metadata.duration_s, room // vocab.CODES_PER_SECOND)
        negative = prompts.codes_negative_messages(request.caption, lyrics, request.sampling.negative_prompt)
        seed2 = (request.seed + 1) % (_MAX_SEED + 1)
        tokens = self._write(
            lm,
            codes_prompt,
            negative,
            [Codes(count)],
            request.sampling,
            seed2,
            "codes",
            count,
            progress,
            cancel,
        )
        codes = "".join(f"<|audio_code_{lm.vocab.code_of[t]}|>" for t in tokens)
        total_s = time.perf_counter() - started
        return Plan(
            metadata=metadata,
            chosen=chosen,
            codes=codes,
            code_count=len(tokens),
            seed=request.seed,
            sampling=request.sampling,
            lm={"name": lm.info.name, "revision": lm.info.revision, "dtype": lm.info.dtype},
            templates_version=prompts.TEMPLATES_VERSION,
            caption_tokens=request.caption_tokens,
            timings={"metadata_s": phase1_s, "codes_s": total_s - phase1_s, "total_s": total_s},
        )

    # --- Format, Simple mode, Understand -------------------------------------------------------------------
    def _song_inputs(
        self,
        lm: LoadedLm,
        messages: prompts.Messages,
        fixed: dict[str, str],
        request: FormatRequest | SampleRequest | UnderstandRequest,
        progress: PlanProgress | None,
        cancel: threading.Event | None,
    ) -> tuple[dict[str, str], str, tuple[str, ...]]:
        temperature, seed = request.temperature, request.seed
        caption_tokens, lyrics_tokens = request.caption_tokens, request.lyrics_tokens
        program = metadata_program(fixed, caption_tokens, vocab.DURATION_RANGE[1])
        program.append(FreeText(lyrics_tokens))
        sampling = Sampling(temperature=temperature, cfg_scale=1.0, top_p=None)
        budget = caption_tokens + _BLOCK_SLACK + lyrics_tokens + 1
        tokens = self._write(lm, messages, None, program, sampling, seed, "writing", budget, progress, cancel)
        out = prompts.read_output(self._text(lm, tokens))
        chosen = tuple(f for f in prompts.COT_FIELDS if f in out.fields and f not in fixed)
        return out.fields, out.after, chosen

    def _number(self, name: str, value: float, low: float, high: float) -> None:
        if not low <= value <= high:
            raise InputError(name, value, f"must be between {low:g} and {high:g}")

    def format(
        self,
        request: FormatRequest,
        progress: PlanProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> Written:
        with self._lock:
            lm = self.lm(request.lm)
            caption = request.caption if request.caption.strip() else prompts.NO_INPUT
            lyrics = request.lyrics if request.lyrics.strip() else "[Instrumental]"
            self._check(lm, lyrics, request.language, request.seed)
            self._number("temperature", request.temperature, 0.0, 2.0)
            fixed = {
                _FIELD_OF[attr]: _value_text(_FIELD_OF[attr], getattr(request, attr))
                for attr in _FIELD_OF
                if getattr(request, attr) is not None
            }
            fields, after, chosen = self._song_inputs(
                lm,
                prompts.format_messages(caption, lyrics),
                fixed,
                request,
                progress,
                cancel,
            )
            metadata = _metadata(fields, request.caption)
            return Written(metadata.caption, after or lyrics, metadata, chosen, lm=lm.info.to_dict())

    def sample(
        self,
        request: SampleRequest,
        progress: PlanProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> Written:
        with self._lock:
            lm = self.lm(request.lm)
            query = request.query if request.query.strip() else prompts.NO_INPUT
            language = request.language if request.language and request.language != "unknown" else None
            self._check(lm, "", request.language, request.seed)
            self._number("temperature", request.temperature, 0.0, 2.0)
            fixed = {"language": language} if language else {}
            fields, after, chosen = self._song_inputs(
                lm,
                prompts.sample_messages(query, request.instrumental),
                fixed,
                request,
                progress,
                cancel,
            )
            metadata = _metadata(fields, "")
            lyrics = "[Instrumental]" if request.instrumental else after
            return Written(
                metadata.caption,
                lyrics,
                metadata,
                chosen,
                instrumental=request.instrumental,
                lm=lm.info.to_dict(),
            )

    def understand(
        self,
        request: UnderstandRequest,
        progress: PlanProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> Written:
        from workbench.engine.requests import AudioCodes

        if not request.codes.strip():
            raise InputError(
                "codes", request.codes, "give <|audio_code_N|> tokens or an audio file to understand"
            )
        AudioCodes(codes=request.codes).validate()
        with self._lock:
            lm = self.lm(request.lm)
            self._check(lm, "", None, request.seed)
            fields, after, chosen = self._song_inputs(
                lm,
                prompts.understand_messages(request.codes),
                {},
                request,
                progress,
                cancel,
            )
            metadata = _metadata(fields, "")
            return Written(metadata.caption, after, metadata, chosen, lm=lm.info.to_dict())


def with_seed(request: PlanRequest, seed: int) -> PlanRequest:
    return replace(request, seed=seed)
