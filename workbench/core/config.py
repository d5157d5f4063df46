"""Typed config loading: a dataclass from a YAML/JSON mapping, and the range checks every ``validate()`` uses.

``from_mapping(cls, data, where)`` builds ``cls`` from plain data (what ``yaml.safe_load`` or ``json.loads``
return; nothing is imported or executed), coercing each value by the field's type hint: ``int``, ``float``,
``bool``, ``str``, ``X | None``, ``Literal[...]``, ``list[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``,
``dict[K, V]``, ``Any`` and nested dataclasses. An unknown key fails with its full path (``qc.rejct``) and the
allowed names, because a misspelt setting that silently kept its default would change what a run does. Ranges
are left to the class's ``validate()``, which knows them; ``whole`` and ``number`` give those checks one wording.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from workbench.core.errors import ConfigError, InputError

T = TypeVar("T")

# PyYAML follows YAML 1.1, whose floats need a dot: "3e-4" and "1e5" load as text. In a float field a number
# was meant, so these (and only these) are read as numbers; any other text stays an error.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_KINDS = {int: "whole numbers", float: "numbers", str: "text", bool: "true/false values"}


def from_mapping(
    cls: type[T],
    data: Any,
    where: str = "",
    *,
    what: str = "key",
    fixed: Mapping[str, Any] | None = None,
) -> T:
    """``cls`` built from ``data``. ``where`` prefixes every field in messages (``"qc"`` -> ``qc.reject``).

    ``what`` names an unknown key in the message ("unknown QC setting"); ``fixed`` are values the caller supplies
    and the data may not (a registry entry's name, which is its key in the file).
    """
    fixed = dict(fixed or {})
    fields = [f for f in dataclasses.fields(cls) if f.init and f.name not in fixed]  # type: ignore[arg-type]
    allowed = sorted(f.name for f in fields)
    if not isinstance(data, Mapping):
        raise ConfigError(
            where or "config", data, f"must be a mapping of key: value; allowed keys: {', '.join(allowed)}"
        )
    unknown = sorted((k for k in data if k not in allowed), key=str)
    if unknown:
        key = unknown[0]
        raise ConfigError(_path(where, str(key)), data[key], f"unknown {what}; allowed: {', '.join(allowed)}")
    hints = typing.get_type_hints(cls)
    values = {name: coerce(hints[name], value, _path(where, name)) for name, value in data.items()}
    required = sorted(f.name for f in fields if _required(f))
    missing = [name for name in required if name not in data]
    if missing:  # after the values, so that a wrong value is named before a key the user has yet to add
        raise ConfigError(
            _path(where, missing[0]), None, f"missing; this key is required (required: {', '.join(required)})"
        )
    return cls(**values, **fixed)


def coerce(hint: Any, value: Any, field: str) -> Any:
    """``value`` checked (and, where lossless, converted) against one type hint; ``field`` names it in errors."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return _union(args, value, field)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise ConfigError(field, value, f"choose one of {', '.join(str(a) for a in args)}")
    if origin in (list, tuple):
        return _sequence(origin, args, value, field)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(field, value, "must be a mapping of key: value")
        key_type, value_type = args or (Any, Any)
        return {
            coerce(key_type, k, field): coerce(value_type, v, _path(field, str(k))) for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return from_mapping(hint, value, field)
    return _scalar(hint, value, field)


def _union(args: tuple[Any, ...], value: Any, field: str) -> Any:
    options = [a for a in args if a is not type(None)]
    if value is None and len(options) < len(args):
        return None
    if len(options) == 1:
        return coerce(options[0], value, field)
    fixes = []
    for option in options:
        try:
            return coerce(option, value, field)
        except ConfigError as exc:
            fixes.append(exc.fix)
    raise ConfigError(field, value, " or ".join(fixes))


def _sequence(origin: type, args: tuple[Any, ...], value: Any, field: str) -> Any:
    variable = origin is list or (len(args) == 2 and args[1] is Ellipsis)
    item_types = [args[0] if args else Any] if variable else list(args)
    if isinstance(value, str) and variable and item_types[0] is str:  # "a,b,c" from a command line or a cell
        value = [v.strip() for v in value.split(",") if v.strip()]
    kind = _kind(item_types[0]) if len(set(item_types)) == 1 else "values"
    if not isinstance(value, (list, tuple)) or (not variable and len(value) != len(item_types)):
        count = "" if variable else f"{len(item_types)} "
        raise ConfigError(field, value, f"must be a list of {count}{kind}")
    kinds = item_types * len(value) if variable else item_types
    items = [coerce(t, v, f"{field}[{i}]") for i, (t, v) in enumerate(zip(kinds, value, strict=True))]
    return items if origin is list else tuple(items)


def _kind(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "mappings"
    return _KINDS.get(hint, "values")


def _scalar(kind: Any, value: Any, field: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(field, value, "must be true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():  # JSON writers and number widgets give 64.0
            return int(value)
        raise ConfigError(field, value, "must be a whole number")
    if kind is float:
        return _float(value, field)
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ConfigError(field, value, f"must be text; quote it in YAML ('{value}')")
        raise ConfigError(field, value, "must be text")
    raise TypeError(f"from_mapping cannot read fields of type {kind!r} ({field}); add a branch for it")


def _float(value: Any, field: str) -> float:
    # An int stays an int (it is a valid float in Python's number tower), so a message shows it as written.
    if isinstance(value, str) and _EXPONENT_FLOAT.match(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, value, "must be a number")
    if not math.isfinite(value):
        raise ConfigError(field, value, "must be a finite number")
    return value


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def whole(
    field: str,
    value: Any,
    lo: int,
    hi: int | None = None,
    *,
    empty_ok: bool = False,
    error: type[InputError] = InputError,
) -> int:
    """``value`` if it is a whole number (not a bool) in [lo, hi] (hi None: no upper bound), else ``error``."""
    span = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
    tail = ", or empty" if empty_ok else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(field, value, f"must be a whole number {span}{tail}")
    if value < lo or (hi is not None and value > hi):
        raise error(
            field, value, f"must be {span}{tail}" if hi is not None else f"must be a whole number {span}"
        )
    return value


def number(
    field: str,
    value: Any,
    lo: float,
    hi: float | None = None,
    unit: str = "",
    *,
    error: type[InputError] = InputError,
) -> float:
    """``value`` if it is a finite number (not a bool) in [lo, hi] (hi None: no upper bound), else ``error``."""
    span = f"between {lo:g} and {hi:g}{unit}" if hi is not None else f">= {lo:g}{unit}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise error(field, value, f"must be a number {span}")
    if value < lo or (hi is not None and value > hi):
        raise error(field, value, f"must be {span}" if hi is not None else f"must be a number {span}")
    return value


def read_yaml(path: str | Path, field: str) -> Any:
    """A YAML file's data (``safe_load``: plain values only, no tags that build objects); ``field`` names it."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(field, str(path), f"is not valid YAML: {exc}") from None


@contextlib.contextmanager
def in_file(path: str | Path) -> Iterator[None]:
    """Adds which file was being read to an input error raised inside, for configs the user did not name."""
    try:
        yield
    except InputError as exc:
        raise type(exc)(exc.field, exc.value, f"{exc.fix} (in {path})") from None
