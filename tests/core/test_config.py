"""core.config: typed loading of YAML/JSON mappings into dataclasses, and the shared range checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from workbench.core.config import from_mapping, in_file, number, read_yaml, whole
from workbench.core.errors import AudioInputError, ConfigError, InputError


@dataclass(frozen=True)
class Inner:
    path: str
    scale: float = 1.0


@dataclass(frozen=True)
class Outer:
    name: str
    count: int = 1
    rate: float = 0.5
    on: bool = True
    mode: Literal["fast", "slow"] = "fast"
    label: str | None = None
    tags: list[str] = field(default_factory=list)
    pair: tuple[int, int] = (0, 1)
    seeds: tuple[int, ...] = ()
    inner: Inner | None = None
    inners: list[Inner] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    by_name: dict[str, Inner] = field(default_factory=dict)


def message(data: Any, where: str = "cfg", **kw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        from_mapping(Outer, data, where, **kw)
    return str(info.value)


def test_every_supported_type_is_coerced() -> None:
    got = from_mapping(
        Outer,
        {
            "name": "x",
            "count": 3.0,
            "rate": "3e-4",
            "on": False,
            "mode": "slow",
            "label": None,
            "tags": "a, b,,c",
            "pair": [60, 80.0],
            "seeds": [1, 2, 3],
            "inner": {"path": "p", "scale": 2},
            "inners": [{"path": "q"}],
            "params": {"steps": 4, "any": [1]},
            "by_name": {"one": {"path": "r"}},
        },
        "cfg",
    )
    assert got == Outer(
        name="x",
        count=3,
        rate=3e-4,
        on=False,
        mode="slow",
        label=None,
        tags=["a", "b", "c"],
        pair=(60, 80),
        seeds=(1, 2, 3),
        inner=Inner("p", 2),
        inners=[Inner("q")],
        params={"steps": 4, "any": [1]},
        by_name={"one": Inner("r")},
    )
    assert type(got.count) is int and type(got.pair) is tuple and type(got.seeds) is tuple
    assert type(got.inner.scale) is int  # an int is kept as written; it is a valid float
    assert from_mapping(Outer, {"name": "y"}) == Outer(name="y")


def test_data_parsed_from_yaml_and_json_text_loads_the_same() -> None:
    text = "name: x\ncount: 2\nrate: 1e-3\npair: [1, 2]\ninner: {path: p}\n"
    assert from_mapping(Outer, yaml.safe_load(text)) == Outer(
        name="x", count=2, rate=1e-3, pair=(1, 2), inner=Inner("p")
    )


def test_unknown_keys_name_their_full_path_and_the_allowed_keys() -> None:
    text = message({"name": "x", "cuont": 2})
    assert text.startswith("cfg.cuont=2: unknown key; allowed: by_name, count, inner, inners, label, mode")
    assert message({"name": "x", "inner": {"path": "p", "scael": 1}}).startswith(
        "cfg.inner.scael=1: unknown key; allowed: path, scale"
    )
    assert message({"name": "x", "inners": [{"path": "p"}, {"pth": "q"}]}).startswith(
        "cfg.inners[1].pth='q': unknown key"
    )
    assert message({"name": "x", "by_name": {"one": {"x": 1}}}).startswith("cfg.by_name.one.x=1: unknown key")
    assert message({"name": "x", "colour": 1}, "", what="config key").startswith(
        "colour=1: unknown config key; allowed:"
    )


def test_missing_keys_and_non_mappings() -> None:
    assert message({"count": 1}).startswith("cfg.name=None: missing; this key is required (required: name)")
    assert message({"name": "x", "inner": {}}).startswith("cfg.inner.path=None: missing")
    assert message(["name", "x"]).startswith(
        "cfg=['name', 'x']: must be a mapping of key: value; allowed keys:"
    )
    assert message({"name": "x", "inner": "p"}).startswith("cfg.inner='p': must be a mapping")
    assert message({"name": "x", "params": [1]}).startswith("cfg.params=[1]: must be a mapping")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"count": True}, "cfg.count=True: must be a whole number"),
        ({"count": 1.5}, "cfg.count=1.5: must be a whole number"),
        ({"count": "2"}, "cfg.count='2': must be a whole number"),
        ({"rate": True}, "cfg.rate=True: must be a number"),
        ({"rate": "fast"}, "cfg.rate='fast': must be a number"),
        ({"rate": "0.5"}, "cfg.rate='0.5': must be a number"),
        ({"rate": float("nan")}, "cfg.rate=nan: must be a finite number"),
        ({"rate": None}, "cfg.rate=None: must be a number"),
        ({"on": "yes"}, "cfg.on='yes': must be true or false"),
        ({"on": 1}, "cfg.on=1: must be true or false"),
        ({"name": 4}, "cfg.name=4: must be text; quote it in YAML ('4')"),
        ({"name": None}, "cfg.name=None: must be text"),
        ({"mode": "medium"}, "cfg.mode='medium': choose one of fast, slow"),
        ({"label": 3}, "cfg.label=3: must be text"),
        ({"tags": 3}, "cfg.tags=3: must be a list of text"),
        ({"tags": ["a", 3]}, "cfg.tags[1]=3: must be text"),
        ({"pair": [1]}, "cfg.pair=[1]: must be a list of 2 whole numbers"),
        ({"pair": [1, True]}, "cfg.pair[1]=True: must be a whole number"),
        ({"seeds": [1, "x"]}, "cfg.seeds[1]='x': must be a whole number"),
        ({"inner": {"path": "p", "scale": "big"}}, "cfg.inner.scale='big': must be a number"),
        ({"inners": [{"path": 1}]}, "cfg.inners[0].path=1: must be text"),
        ({"inners": {"path": "p"}}, "cfg.inners={'path': 'p'}: must be a list of mappings"),
    ],
)
def test_bad_types_name_field_value_and_fix(data: dict[str, Any], expected: str) -> None:
    assert message({"name": "x", **data}).startswith(expected)


def test_errors_are_config_errors_and_input_errors() -> None:
    with pytest.raises(InputError) as info:
        from_mapping(Outer, {"name": "x", "count": "many"}, "cfg")
    assert isinstance(info.value, ConfigError)
    assert (info.value.field, info.value.value) == ("cfg.count", "many")


def test_fixed_values_come_from_the_caller_not_the_data() -> None:
    got = from_mapping(Inner, {"scale": 2.0}, "models.a", fixed={"path": "a"})
    assert got == Inner("a", 2.0)
    with pytest.raises(ConfigError, match=r"^models\.a\.path='b': unknown key; allowed: scale"):
        from_mapping(Inner, {"path": "b"}, "models.a", fixed={"path": "a"})


def test_only_plain_data_is_read() -> None:
    with pytest.raises(ConfigError, match="must be text"):
        from_mapping(Inner, {"path": object()})
    with pytest.raises(TypeError, match="cannot read fields of type"):

        @dataclass
        class Odd:
            where: Path

        from_mapping(Odd, {"where": "x"})


def test_whole_and_number_ranges() -> None:
    assert whole("steps", 4, 1, 200) == 4 and number("gain", 0.5, 0, 1) == 0.5
    cases = [
        (lambda: whole("steps", 0, 1, 200), "steps=0: must be between 1 and 200"),
        (lambda: whole("steps", 2.0, 1, 200), "steps=2.0: must be a whole number between 1 and 200"),
        (lambda: whole("steps", True, 1, 200), "steps=True: must be a whole number between 1 and 200"),
        (lambda: whole("bpm", 400, 30, 300, empty_ok=True), "bpm=400: must be between 30 and 300, or empty"),
        (lambda: whole("rank", 0, 1), "rank=0: must be a whole number >= 1"),
        (lambda: number("d", 900, 1, 600, " seconds"), "d=900: must be between 1 and 600 seconds"),
        (lambda: number("d", "x", 1, 600, " seconds"), "d='x': must be a number between 1 and 600 seconds"),
        (lambda: number("d", float("inf"), 1, 600), "d=inf: must be a number between 1 and 600"),
        (lambda: number("d", False, 0, 1), "d=False: must be a number between 0 and 1"),
        (lambda: number("f", -1, 0), "f=-1: must be a number >= 0"),
    ]
    for call, expected in cases:
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == expected
        assert not isinstance(info.value, ConfigError)
    with pytest.raises(ConfigError):
        whole("rank", 0, 1, error=ConfigError)


def test_read_yaml_and_in_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("a: 1\n")
    assert read_yaml(good, "config") == {"a": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    with pytest.raises(ConfigError, match=r"^config='.*bad\.yaml': is not valid YAML"):
        read_yaml(bad, "config")
    with pytest.raises(AudioInputError, match=r"^x=1: too loud \(in f\.yaml\)$"), in_file("f.yaml"):
        raise AudioInputError("x", 1, "too loud")
