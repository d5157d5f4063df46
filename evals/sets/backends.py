"""The embedding backends by name: ``get_backend("logmel")`` or ``get_backend("clap", model=...)``.

The registry sits apart from ``embeddings`` (the base class, ``logmel`` and the cache) so that ``clap``, which
subclasses the base, and the registry, which names ``clap``, import in one direction only.
"""

from __future__ import annotations

from collections.abc import Callable

from evals.sets.embeddings import EmbeddingBackend, LogMelBackend
from workbench.core.errors import InputError


def _clap_factory(**options: object) -> EmbeddingBackend:
    from evals.sets.clap import ClapBackend  # torch/transformers only when asked for

    return ClapBackend(**options)  # type: ignore[arg-type]


BACKENDS: dict[str, Callable[..., EmbeddingBackend]] = {
    "logmel": LogMelBackend,
    "clap": _clap_factory,
}


def get_backend(name: str, **options: object) -> EmbeddingBackend:
    if name not in BACKENDS:
        raise InputError("backend", name, f"choose one of {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](**options)
