"""Write the CLI reference (docs/cli.md) from the real argparse parsers, so the docs cannot drift.

python -m workbench.cli.docgen > docs/cli.md
"""

from __future__ import annotations

import argparse
import io
import sys
from contextlib import redirect_stdout

from workbench.cli.main import build_parser

WIDTH = 108  # fixed, so the file does not depend on the terminal it was generated in


def _walk(
    parser: argparse.ArgumentParser, path: list[str]
) -> list[tuple[list[str], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _walk(child, [*path, name])
    return found


def _fixed_width(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=WIDTH)


def render() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from the parsers with `python -m workbench.cli.docgen > docs/cli.md`.",
        "",
    ]
    for path, parser in _walk(build_parser(), []):
        title = " ".join(["workbench", *path])
        parser.formatter_class = _fixed_width
        buf = io.StringIO()
        with redirect_stdout(buf):
            parser.print_help()
        out += [f"## `{title}`", "", "```text", buf.getvalue().rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
