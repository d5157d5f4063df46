"""Each API key's LoRA (``/v1/lora/load|unload|toggle|scale|status``): a default the key's tasks carry.

Upstream keeps one adapter as global server state, so one client's ``/v1/lora/load`` changes what every other
client's next task renders (ace-step/ACE-Step-1.5@6d467e4:acestep/api/lora_routes.py). Here a key's choice is only
the default for that key's next submissions: it is copied into each task when it is queued (so changing it never
touches a queued task), and the engine applies each task's own adapter and scale under its lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from workbench.engine.requests import LoraRef


@dataclass(frozen=True)
class KeyLora:
    lora: LoraRef
    enabled: bool = True


class KeyLoras:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, KeyLora] = {}

    def load(self, key: str, lora: LoraRef) -> None:
        lora.validate()
        with self._lock:
            self._by_key[key] = KeyLora(lora)

    def unload(self, key: str) -> bool:
        with self._lock:
            return self._by_key.pop(key, None) is not None

    def toggle(self, key: str, enabled: bool) -> KeyLora | None:
        with self._lock:
            current = self._by_key.get(key)
            if current is not None:
                self._by_key[key] = replace(current, enabled=enabled)
            return self._by_key.get(key)

    def scale(self, key: str, scale: float) -> KeyLora | None:
        with self._lock:
            current = self._by_key.get(key)
            if current is not None:
                updated = replace(current, lora=replace(current.lora, scale=scale))
                updated.lora.validate()
                self._by_key[key] = updated
            return self._by_key.get(key)

    def default(self, key: str) -> LoraRef | None:
        """What this key's next task carries when it names no adapter of its own."""
        with self._lock:
            current = self._by_key.get(key)
        return current.lora if current is not None and current.enabled else None

    def status(self, key: str) -> dict[str, Any]:
        with self._lock:
            current = self._by_key.get(key)
        if current is None:
            return {
                "lora_loaded": False,
                "use_lora": False,
                "lora_scale": 1.0,
                "lora_path": None,
                "adapter_type": None,
                "scales": {},
                "active_adapter": None,
                "adapters": [],
                "scope": "this API key",
            }
        return {
            "lora_loaded": True,
            "use_lora": current.enabled,
            "lora_scale": current.lora.scale,
            "lora_path": current.lora.path,
            "adapter_type": "lora",
            "scales": {"default": current.lora.scale},
            "active_adapter": "default" if current.enabled else None,
            "adapters": ["default"],
            "scope": "this API key",
        }
