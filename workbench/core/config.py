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
import csv
import dataclasses
import io
import json
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from workbench.core.errors import ConfigError, InputError, short_repr

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
            raise ConfigError(field, value, f"must be text; quote it in YAML ('{short_repr(value, 40)}')")
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


# Limits on a config file, checked before its values are built: a 1 KB YAML file with nested aliases ("billion
# laughs") expands to 9**9 values, and a 100,000-deep JSON list overflows the parser's stack.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_CONFIG_VALUES = 1_000_000  # counted with every alias expanded
MAX_CONFIG_DEPTH = 64


def decode_text(raw: bytes, field: str, source: str) -> str:
    """``raw`` as text: UTF-8 (a BOM allowed) or UTF-16 with a BOM; anything else is refused with the encoding
    it seems to be in, because guessing would silently change prompts and names."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = _guess_encoding(raw)
        raise ConfigError(
            field,
            source,
            f"is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); it looks like {found}. "
            "Save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > NEW)",
        ) from None


def _guess_encoding(raw: bytes) -> str:
    if b"\x00" in raw[:4096]:
        return "binary data or UTF-16 without a byte-order mark"
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return "Latin-1 (ISO-8859-1) or another 8-bit encoding"
    return "Windows-1252 / Latin-1"


def read_text(path: str | Path, field: str, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """A config file's text, refused before reading when it is over ``max_bytes``; ``field`` names it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(field, str(p), "file not found")
    size = p.stat().st_size
    if size > max_bytes:
        raise ConfigError(
            field, str(p), f"is {size / 1e6:.1f} MB; config files are limited to {max_bytes / 1e6:.0f} MB"
        )
    with p.open("rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:  # a file that grew, or a device that reports no size
        raise ConfigError(field, str(p), f"is over {max_bytes / 1e6:.0f} MB, the limit for config files")
    return decode_text(raw, field, str(p))


def parse_yaml(text: str, field: str, source: str = "") -> Any:
    """YAML text as plain data (safe types only). Aliases are allowed, but the document is refused if, with
    every alias expanded, it holds more than ``MAX_CONFIG_VALUES`` values or nests deeper than
    ``MAX_CONFIG_DEPTH``; both are counted on the parsed node graph, before any value is built."""
    where = source or "the text"
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            field, where, f"is over {MAX_CONFIG_BYTES / 1e6:.0f} MB, the limit for config files"
        )
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, field, where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(field, where, f"is not valid YAML: {_short(str(exc))}") from None
    except RecursionError:
        raise ConfigError(field, where, f"nests deeper than {MAX_CONFIG_DEPTH} levels") from None
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node, field: str, where: str) -> None:
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    active: set[int] = set()

    def visit(node: yaml.Node, level: int) -> int:
        if level > MAX_CONFIG_DEPTH:
            raise ConfigError(field, where, f"nests deeper than {MAX_CONFIG_DEPTH} levels")
        key = id(node)
        if key in active:
            raise ConfigError(
                field, where, "has an alias that refers to a value containing itself; remove it"
            )
        if key in sizes:
            if depths[key] + level > MAX_CONFIG_DEPTH:
                raise ConfigError(field, where, f"nests deeper than {MAX_CONFIG_DEPTH} levels")
            return sizes[key]
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        active.add(key)
        total = 1
        deepest = 0
        for child in children:
            total += visit(child, level + 1)
            deepest = max(deepest, depths[id(child)] + 1)
            if total > MAX_CONFIG_VALUES:
                raise ConfigError(
                    field,
                    where,
                    f"expands to more than {MAX_CONFIG_VALUES:,} values (aliases counted in full); "
                    "write the values out or split the file",
                )
        active.discard(key)
        sizes[key] = total
        depths[key] = deepest
        return total

    visit(root, 0)


def parse_json(text: str, field: str, source: str = "") -> Any:
    """JSON text as plain data; nesting deeper than ``MAX_CONFIG_DEPTH`` is refused."""
    where = source or "the text"
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            field, where, f"is over {MAX_CONFIG_BYTES / 1e6:.0f} MB, the limit for config files"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(field, where, f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(field, where, f"nests deeper than {MAX_CONFIG_DEPTH} levels") from None
    if _depth(data) > MAX_CONFIG_DEPTH:
        raise ConfigError(field, where, f"nests deeper than {MAX_CONFIG_DEPTH} levels")
    return data


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_CONFIG_DEPTH:
            break
        if isinstance(value, dict):
            stack += [(v, level + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, level + 1) for v in value]
    return deepest


def read_yaml(path: str | Path, field: str) -> Any:
    """A YAML file's data through ``parse_yaml`` (safe types, size/alias/depth limits, UTF-8 checked)."""
    return parse_yaml(read_text(path, field), field, str(path))


def read_json(path: str | Path, field: str) -> Any:
    """A JSON file's data through ``parse_json`` (size and depth limits, UTF-8 checked); ``field`` names it."""
    return parse_json(read_text(path, field), field, str(path))


def read_data(path: str | Path, field: str) -> Any:
    """A ``.json`` file through ``read_json``; anything else (``.yaml``/``.yml``) through ``read_yaml``."""
    return read_json(path, field) if Path(path).suffix.lower() == ".json" else read_yaml(path, field)


def read_table(path: str | Path, field: str) -> tuple[list[str], list[dict[str | None, Any]]]:
    """A CSV file's header (names stripped) and rows as ``csv.DictReader`` gives them (surplus cells under the
    key None), read through ``read_text``. A column named twice is refused: the reader would keep the last
    one and silently drop the other."""
    text = read_text(path, field)
    header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise ConfigError(
                f"{field} header",
                name,
                f"column {position} repeats an earlier column name; rename or remove one of them (in {path})",
            )
        seen.add(name)
    return header, list(csv.DictReader(io.StringIO(text)))


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def in_file(path: str | Path) -> Iterator[None]:
    """Adds which file was being read to an input error raised inside, for configs the user did not name."""
    try:
        yield
    except InputError as exc:
        raise type(exc)(exc.field, exc.value, f"{exc.fix} (in {path})") from None
