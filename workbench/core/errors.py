"""Project exceptions.

Input problems are `InputError` (a `ValueError`) so that callers that only know the standard library still catch
them. Every message names the field, the bad value and what would be accepted; the UI and the CLI show the message
as it is, so it must read well on its own.
"""

from __future__ import annotations

import reprlib

SHOWN_CHARS = 120


class _ShortRepr(reprlib.Repr):
    """``repr`` that stops early: containers show their first items a few levels deep and huge numbers their
    size, so that showing a value costs the same however large the value is (a YAML alias bomb, a 10**5-digit
    integer), instead of building the whole text and cutting it afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = SHOWN_CHARS
        self.maxother = SHOWN_CHARS
        self.maxlong = SHOWN_CHARS
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = self.maxarray = 12
        self.maxdict = 12

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 4 * SHOWN_CHARS:  # str() of a huge int is slow, and refused past 4300 digits
            return f"<a whole number of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)

    def repr_instance(self, x: object, level: int) -> str:
        try:
            return super().repr_instance(x, level)
        except Exception:  # a value whose __repr__ fails is still shown by its type
            return f"<{type(x).__name__}>"


_SHORT = _ShortRepr()


def short_repr(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` of at most ``limit`` characters, built without materialising the full text."""
    shown = _SHORT.repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


class WorkbenchError(Exception):
    """Base class for errors that are meant to reach a user as a readable message."""


class InputError(WorkbenchError, ValueError):
    """A request field, file or option is invalid. The message says which, what it was and how to fix it."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        shown = short_repr(value)
        super().__init__(f"{field}={shown}: {fix}")


class AudioInputError(InputError):
    """An audio file cannot be used (unreadable, empty, non-finite, too long...)."""


class WeightsMissingError(WorkbenchError):
    """Model weights are not available locally (and the hub cannot or may not be reached)."""


class AdapterError(WorkbenchError):
    """A LoRA adapter cannot be loaded, or would load without effect."""


class NonFiniteError(WorkbenchError):
    """A computation produced NaN or infinite values; the message names which part, and nothing was written."""


class ConfigError(InputError):
    """A YAML config or a CLI override is invalid."""
