"""Exit codes for commands that run many items: a run where items failed must not look like a success.

``0`` everything finished (QC rejections are a verdict, not a failure), ``3`` some items failed, ``4`` every item
failed. ``2`` stays "the input was refused before anything ran" and ``1`` the generic error, as in ``cli.main``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_SOME_FAILED = 3
EXIT_ALL_FAILED = 4
EXIT_CODES_HELP = (
    "exit status: 0 every item finished, 3 some items failed, 4 every item failed, 2 bad input (nothing ran)"
)
SHOWN_FAILURES = 20  # a summary, not a log: the manifest or report has every row


@dataclass(frozen=True)
class Failure:
    name: str  # what failed: a job id, a file
    reason: str


def exit_code(failed: int, attempted: int) -> int:
    """The status for ``failed`` of ``attempted`` items (items skipped as already done are not attempted)."""
    if failed <= 0:
        return EXIT_OK
    return EXIT_ALL_FAILED if failed >= attempted else EXIT_SOME_FAILED


def report_failures(failures: Sequence[Failure], attempted: int, what: str = "items") -> int:
    """Prints a summary naming the failed items to stderr and returns the exit status."""
    code = exit_code(len(failures), attempted)
    if code == EXIT_OK:
        return code
    head = "all" if code == EXIT_ALL_FAILED else f"{len(failures)} of"
    print(f"error: {head} {attempted} {what} failed:", file=sys.stderr)
    for f in failures[:SHOWN_FAILURES]:
        print(f"  {f.name}: {_one_line(f.reason)}", file=sys.stderr)
    if len(failures) > SHOWN_FAILURES:
        print(f"  ... and {len(failures) - SHOWN_FAILURES} more", file=sys.stderr)
    return code


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
