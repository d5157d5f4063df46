"""API keys: ``Authorization: Bearer <key>`` (or the bare key), or ``ai_token`` in the body, as upstream accepts
(ace-step/ACE-Step-1.5@6d467e4:acestep/api/http/auth.py).

Keys come from ``WORKBENCH_API_KEYS`` (comma-separated) and/or a file with one key per line (``#`` comments).
Each key is known by a short hash (``key_id``): tasks, LoRA choices and limits are kept per key, and no key is ever
stored or logged. Without keys the API serves one anonymous caller and may listen on this machine only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import InputError
from workbench.rest.responses import ApiError

ENV_KEYS = "WORKBENCH_API_KEYS"
ANONYMOUS = "local"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MIN_KEY_LENGTH = 16


def key_id(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ApiKeys:
    keys: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def identify(self, header: str | None, body_token: str | None = None) -> str:
        """The caller's key id; 401 when keys are configured and none (or a wrong one) was sent."""
        if not self.keys:
            return ANONYMOUS
        sent = (header or "").strip()
        if sent.lower().startswith("bearer "):
            sent = sent[7:].strip()
        sent = sent or (body_token or "").strip()
        if not sent:
            raise ApiError(
                401,
                "authorization: this server needs an API key (Authorization: Bearer <key>, or ai_token)",
                "authorization",
                {"WWW-Authenticate": "Bearer"},
            )
        # Compare against every key so the time taken does not tell which one was close.
        matched = [k for k in self.keys if hmac.compare_digest(k.encode(), sent.encode())]
        if not matched:
            raise ApiError(
                401,
                "authorization: the API key is not valid",
                "authorization",
                {"WWW-Authenticate": "Bearer"},
            )
        return key_id(matched[0])


def load_keys(file: str | Path | None = None, env: str | None = None) -> ApiKeys:
    """Keys from ``env`` (default ``$WORKBENCH_API_KEYS``) and ``file``."""
    text = os.environ.get(ENV_KEYS, "") if env is None else env
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if file:
        path = Path(file).expanduser()
        if not path.is_file():
            raise InputError("api-keys", str(path), "no such file; give a file with one API key per line")
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                keys.append(line)
        if not keys:
            raise InputError("api-keys", str(path), "the file holds no keys (one per line, # for comments)")
    short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
    if short:
        raise InputError(
            "api-keys", f"<{len(short)} short key(s)>", f"use keys of at least {MIN_KEY_LENGTH} characters"
        )
    return ApiKeys(tuple(dict.fromkeys(keys)))


def check_listen(host: str, keys: ApiKeys) -> None:
    """The API generates on this machine's GPU for anyone who reaches it: beyond localhost it needs keys."""
    if host not in LOCAL_HOSTS and not keys.required:
        raise InputError(
            "host",
            host,
            f"serving the API beyond this machine needs API keys: --api-keys FILE or ${ENV_KEYS}",
        )
