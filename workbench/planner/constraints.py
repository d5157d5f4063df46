"""Constrained decoding as transformers ``LogitsProcessor``s: the LM may only write what the planner can use.

A turn is a ``Program``: a list of segments the LM must write in order. Fixed text (a field name, a value the
user fixed) and choices (a bpm from 30-300, one of the written keys, ...) are token tries: at each step only the
tokens that continue a path are allowed. A free line (the caption) allows any plain-text token except newlines
and ends at a newline; free text (lyrics) ends at end-of-turn; a codes segment allows only ``<|audio_code_N|>``
tokens and ends after exactly N of them. This is the shape of upstream's field-by-field state machine
(ace-step/ACE-Step-1.5@f30aee4:acestep/constrained_logits_processor.py ``MetadataConstrainedLogitsProcessor``:
field order bpm, caption, duration, keyscale, language, timesignature; user values injected; codes only after
``</think>``; end-of-turn blocked until the target code count) built on tries instead of hand-written states,
so one mechanism covers every field. The processor reads the tokens the sampler chose from ``input_ids`` itself,
so it works inside the planner's loop and inside ``model.generate`` alike.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import LogitsProcessor

from workbench.core.errors import WorkbenchError


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    end: bool = False


@dataclass(frozen=True)
class Fixed:
    text: str


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]


@dataclass(frozen=True)
class FreeLine:
    max_tokens: int


@dataclass(frozen=True)
class FreeText:
    max_tokens: int


@dataclass(frozen=True)
class Codes:
    count: int


Segment = Fixed | Choice | FreeLine | FreeText | Codes
Program = tuple[Segment, ...]


class Vocabulary:
    """Token facts a program needs, computed once per tokenizer and vocabulary size (the model's logits may be
    wider than the tokenizer, as Qwen3 pads its embedding)."""

    def __init__(self, tokenizer: Any, vocab_size: int, codebook_size: int) -> None:
        self.tokenizer = tokenizer
        self.size = vocab_size
        self.eos_id = int(tokenizer.convert_tokens_to_ids("<|im_end|>"))
        newline = tokenizer.encode("\n", add_special_tokens=False)
        if len(newline) != 1:
            raise WorkbenchError(
                "the LM's tokenizer does not have a single newline token; it is not a 5 Hz LM"
            )
        self.newline_id = int(newline[0])
        codes = tokenizer.convert_tokens_to_ids([f"<|audio_code_{n}|>" for n in range(codebook_size)])
        unknown = tokenizer.unk_token_id
        if any(c is None or c == unknown for c in codes):
            raise WorkbenchError(
                f"the LM's tokenizer lacks some of the {codebook_size} <|audio_code_N|> tokens; it is not a 5 Hz LM"
            )
        self.code_ids = torch.tensor(codes, dtype=torch.long)
        self.code_of = {int(t): n for n, t in enumerate(codes)}
        added = {int(i) for i in tokenizer.added_tokens_decoder}
        base = [i for i in range(min(vocab_size, len(tokenizer))) if i not in added]
        texts = tokenizer.batch_decode([[i] for i in base])
        self.text_ids = torch.tensor(base, dtype=torch.long)
        self.line_ids = torch.tensor([i for i, t in zip(base, texts, strict=True) if "\n" not in t and t])
        self._tries: dict[tuple[str, ...], _Node] = {}
        self._masks: dict[tuple[str, str], torch.Tensor] = {}

    def mask(self, kind: str, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        """An additive mask (0 where allowed, -inf elsewhere) for a large allowed set, built once per device:
        rebuilding a 64k-wide mask each step would cost more than the tiny model's forward pass."""
        key = (kind, str(device))
        cached = self._masks.get(key)
        if cached is None:
            cached = torch.full((self.size,), float("-inf"), device=device)
            cached[ids.to(device)] = 0.0
            self._masks[key] = cached
        return cached

    def trie(self, options: tuple[str, ...]) -> _Node:
        cached = self._tries.get(options)
        if cached is not None:
            return cached
        root = _Node()
        for option in options:
            node = root
            for token in self.tokenizer.encode(option, add_special_tokens=False):
                node = node.children.setdefault(int(token), _Node())
            node.end = True
        self._tries[options] = root
        return root


class _Row:
    """Where one sequence is in its program."""

    def __init__(self, program: Program, vocab: Vocabulary) -> None:
        self.program = program
        self.vocab = vocab
        self.index = -1
        self.node: _Node | None = None
        self.count = 0
        self._next()

    @property
    def done(self) -> bool:
        return self.index >= len(self.program)

    def _next(self) -> None:
        self.index += 1
        self.count = 0
        self.node = None
        if self.done:
            return
        seg = self.program[self.index]
        if isinstance(seg, Fixed | Choice):
            options = (seg.text,) if isinstance(seg, Fixed) else seg.options
            self.node = self.vocab.trie(options)
            if self.node.end and not self.node.children:  # empty text: nothing to write
                self._next()
        elif isinstance(seg, Codes) and seg.count == 0:
            self._next()

    def allowed(self) -> tuple[str, torch.Tensor]:
        """(kind, ids): a named kind for the large sets, whose masks are cached; "" for small ones."""
        v = self.vocab
        if self.done:
            return "", torch.tensor([v.eos_id])
        seg = self.program[self.index]
        if self.node is not None:
            return "", torch.tensor(list(self.node.children))
        if isinstance(seg, FreeLine):
            if self.count >= seg.max_tokens:
                return "", torch.tensor([v.newline_id])
            if self.count == 0:
                return "line", v.line_ids
            return "line+newline", torch.cat([v.line_ids, torch.tensor([v.newline_id])])
        if isinstance(seg, FreeText):
            if self.count >= seg.max_tokens:
                return "", torch.tensor([v.eos_id])
            return "text+eos", torch.cat([v.text_ids, torch.tensor([v.eos_id])])
        return "codes", v.code_ids

    def advance(self, token: int) -> None:
        if self.done:
            return
        seg = self.program[self.index]
        if self.node is not None:
            child = self.node.children.get(token)
            if child is None:
                raise WorkbenchError(f"the LM wrote token {token} where the constraint did not allow it")
            self.node = child
            if child.end and not child.children:
                self._next()
        elif isinstance(seg, FreeLine):
            if token == self.vocab.newline_id:
                self._next()
            else:
                self.count += 1
        elif isinstance(seg, FreeText):
            if token == self.vocab.eos_id:
                self._next()
            else:
                self.count += 1
        elif isinstance(seg, Codes):
            self.count += 1
            if self.count >= seg.count:
                self._next()


class ProgramProcessor(LogitsProcessor):
    """Masks every token the program does not allow at this step, for each row of the batch.

    The first call sees the prompt; each later call first reads the token chosen at the previous step from the
    end of ``input_ids``. ``finished`` says when every row has written its whole program.
    """

    def __init__(self, program: Program, vocab: Vocabulary, rows: int = 1) -> None:
        self.vocab = vocab
        self.rows = [_Row(program, vocab) for _ in range(rows)]
        self._seen: int | None = None

    @property
    def finished(self) -> bool:
        return all(r.done for r in self.rows)

    def consume(self, input_ids: torch.Tensor) -> None:
        """Read the token appended since the last call (none on the first call, which sees the prompt)."""
        length = int(input_ids.shape[-1])
        if self._seen is not None and length > self._seen:
            for row, token in zip(self.rows, input_ids[:, -1].tolist(), strict=True):
                row.advance(int(token))
        self._seen = length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:  # type: ignore[override]
        self.consume(input_ids)
        mask = torch.full_like(scores, float("-inf"))
        for i, row in enumerate(self.rows):
            kind, allowed = row.allowed()
            if kind:
                mask[i] = self.vocab.mask(kind, allowed, scores.device)[: scores.shape[-1]]
            else:
                mask[i, allowed.to(scores.device)] = 0.0
        return typing.cast(torch.FloatTensor, scores + mask)
