"""docs/cli.md is generated from the parsers; a changed flag or help text must be regenerated with it."""

from __future__ import annotations

from pathlib import Path


def test_cli_reference_matches_the_parsers() -> None:
    from workbench.cli.docgen import render

    written = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert render() == written, "regenerate it: python -m workbench.cli.docgen > docs/cli.md"
