"""The tree's structure, checked from the source: layers only import downwards, the UI package holds only Gradio
code, SQL stays in the store and the campaign database, and docs/architecture.md lists the modules that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "lora", "evals")

# Lowest first. A module may import its own room and any room of a lower layer; nothing else. Rooms in one layer
# are independent of each other. Keep in step with the layer list in docs/architecture.md.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("workbench", "workbench.core"),  # ``workbench`` is the package's own __init__ (lazy names, no imports)
    ("workbench.engine",),
    (
        "workbench.planner",
    ),  # the 5 Hz LM: reads the engine's request types and its pipeline's audio tokenizer
    ("evals.audio", "evals.sets"),
    ("evals.preference",),
    ("evals.report",),
    ("evals",),  # the package's lazy exports and evals/api.py: the library's one front door
    ("workbench.audio",),
    ("workbench.records",),
    ("lora",),
    ("workbench.campaigns",),
    ("workbench.batch",),
    ("workbench.services",),
    ("workbench.ui", "workbench.rest"),  # the two faces below the CLI: Gradio and the HTTP API
    ("workbench.cli",),
    ("app",),
)
LAYER_OF = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
SQL_OWNERS = {
    "workbench.core.store",
    "workbench.core.migrations",
    "workbench.campaigns.db",
    "workbench.rest.db",  # the API task queue's own table, like the campaigns' db module
}
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA\s)",
    re.I | re.S,
)


def _modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def room_of(module: str) -> str:
    """The longest layer room that is ``module`` or one of its parents."""
    if module in LAYER_OF:
        return module
    parts = module.split(".")
    for n in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in LAYER_OF and candidate != "workbench":  # a new workbench/x.py must be placed by name
            return candidate
    raise LookupError(module)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every project module ``path`` imports (module level, in functions and under TYPE_CHECKING alike)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            # ``from workbench.core import paths`` imports the submodule workbench.core.paths
            out += [
                (node.lineno, f"{node.module}.{a.name}")
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES
            ]
    return [(line, name) for line, name in out if name.split(".")[0] in PACKAGES]


def test_every_module_has_a_layer() -> None:
    homeless = []
    for name in MODULES:
        try:
            room_of(name)
        except LookupError:
            homeless.append(name)
    assert homeless == [], f"add these modules' rooms to LAYERS: {homeless}"


def test_imports_only_go_down() -> None:
    upward = []
    for name, path in MODULES.items():
        here = room_of(name)
        for line, target in _imports(path):
            there = room_of(target)
            if there != here and LAYER_OF[there] >= LAYER_OF[here]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {target} ({there})")
    assert upward == []


def test_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: an engine module importing the UI is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from workbench.ui.context import TabContext\n")
    (line, target), *_ = _imports(bad)
    assert LAYER_OF[room_of(target)] > LAYER_OF[room_of("workbench.engine.engine")]


def test_every_ui_module_is_gradio_code() -> None:
    """Service logic belongs below the UI, where the CLI and the HTTP API can call it too."""
    plain = []
    for path in sorted((ROOT / "workbench" / "ui").glob("*.py")):
        if path.name == "__init__.py":
            continue
        if not any(name == "gradio" or name.startswith("gradio.") for name in _all_imports(path)):
            plain.append(path.name)
    assert plain == [], f"these workbench/ui modules never use Gradio: move them below the UI: {plain}"


def _all_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sql_only_in_the_store_and_the_campaign_database() -> None:
    found = []
    for name, path in MODULES.items():
        if name in SQL_OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def _module_table() -> dict[str, set[str]]:
    """docs/architecture.md's module table: ``| `folder/` | `a` `b` … | job |`` rows, one per package folder."""
    rows: dict[str, set[str]] = {}
    text = (ROOT / "docs" / "architecture.md").read_text()
    for line in text.splitlines():
        m = re.match(r"\|\s*`([\w/]+/)`\s*\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = set(re.findall(r"`([\w.]+)`", m.group(2)))
    return rows


def test_architecture_doc_lists_every_module() -> None:
    table = _module_table()
    if not table:
        pytest.fail(
            "docs/architecture.md has no module table rows of the form | `folder/` | `module` … | job |"
        )
    expected: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if name == "app" or path.name == "__init__.py":
            continue
        folder = path.parent.relative_to(ROOT).as_posix() + "/"
        expected.setdefault(folder, set()).add(path.stem)
    assert {f: sorted(v) for f, v in table.items()} == {f: sorted(v) for f, v in expected.items()}
