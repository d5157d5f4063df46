"""Upstream's reply envelope ``{data, code, error, timestamp, extra}`` and the API's JSON errors.

Every route but ``/v1/audio`` answers in the envelope, as ace-step/ACE-Step-1.5@6d467e4:acestep/api_server.py
(``_wrap_response``) does. Errors use the same envelope with ``code`` set, plus ``field`` (the request field at
fault, as the client named it) and ``detail`` (FastAPI's usual key), so clients of either style read the message.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An HTTP error with a message a client can act on."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def now_ms() -> int:
    return int(time.time() * 1000)


def envelope(data: Any, **flat: Any) -> dict[str, Any]:
    """The upstream envelope; ``flat`` keys are also put at the top level for clients of the older shape."""
    return {**flat, "data": data, "code": 200, "error": None, "timestamp": now_ms(), "extra": None}


def ok(data: Any, **flat: Any) -> JSONResponse:
    return JSONResponse(envelope(data, **flat))


def error_response(exc: ApiError) -> JSONResponse:
    body = {
        "data": None,
        "code": exc.status,
        "error": exc.message,
        "detail": exc.message,
        "field": exc.field,
        "timestamp": now_ms(),
        "extra": None,
    }
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)
