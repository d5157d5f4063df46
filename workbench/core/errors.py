"""Project exceptions.

Input problems are `InputError` (a `ValueError`) so that callers that only know the standard library still catch
them. Every message names the field, the bad value and what would be accepted; the UI and the CLI show the message
as it is, so it must read well on its own.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for errors that are meant to reach a user as a readable message."""


class InputError(WorkbenchError, ValueError):
    """A request field, file or option is invalid. The message says which, what it was and how to fix it."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{field}={shown}: {fix}")


class AudioInputError(InputError):
    """An audio file cannot be used (unreadable, empty, non-finite, too long...)."""


class WeightsMissingError(WorkbenchError):
    """Model weights are not available locally (and the hub cannot or may not be reached)."""


class AdapterError(WorkbenchError):
    """A LoRA adapter cannot be loaded, or would load without effect."""


class ConfigError(InputError):
    """A YAML config or a CLI override is invalid."""
