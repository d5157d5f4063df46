"""Spreadsheet-safe cells for the CSV and Parquet files people open in Excel or LibreOffice.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by
spreadsheets (OWASP "CSV injection"): a rater's comment ``=HYPERLINK(...)`` would become a live link in the
organiser's export. Such cells get a leading apostrophe, which spreadsheets treat as "this is text" and do not
display. Text that is a plain number ("-3.5") is left alone: it cannot be a formula.
"""

from __future__ import annotations

import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _needs_quote(text: str) -> bool:
    # text that already looks quoted ("'=x") is quoted once more, so that ``plain_cell`` can undo exactly one quote
    # and every value reads back as it was written
    bare = text.lstrip("'")
    return bare.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(bare)


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then ``'`` + the text."""
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def plain_cell(value: Any) -> Any:
    """The value ``safe_cell`` was given: what reads a file this project wrote calls this on each text cell."""
    if isinstance(value, str) and value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value


def safe_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell passed through ``safe_cell``."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for name in out.columns:
        if is_object_dtype(out[name]) or is_string_dtype(out[name]):  # pandas 3 gives text its own dtype
            out[name] = out[name].map(safe_cell)
    return out
