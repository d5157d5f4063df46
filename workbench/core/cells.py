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


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then ``'`` + the text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def safe_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell passed through ``safe_cell``."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for name in out.columns:
        if is_object_dtype(out[name]) or is_string_dtype(out[name]):  # pandas 3 gives text its own dtype
            out[name] = out[name].map(safe_cell)
    return out
