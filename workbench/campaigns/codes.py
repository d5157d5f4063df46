"""Rater login codes: easy to read aloud and type, and recoverable by the organiser.

Generated codes (``db.new_code``) use an alphabet without look-alike glyphs (no 0/O, 1/I/l, no lower case at
all), in groups of four: ``KX7P-M4RW-9TQH`` (12 symbols of 31: 59 bits; with the login throttle that is far
beyond guessing).

The store keeps only PBKDF2 hashes, so the rater server never holds a code. The organiser's copy of the
generated codes is a CSV next to the campaign (``campaigns/NAME/codes.csv``, readable by its owner only), written
at create and updated by every reset, so a code shown once and lost (a closed browser during create) can be read
again from the Blind A/B tab or the file. Codes chosen in the campaign file are the organiser's own and are not
copied there.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from workbench.campaigns import db
from workbench.core import paths
from workbench.core.store import Store


def codes_file(campaign: str) -> Path:
    return paths.campaigns_dir() / campaign / "codes.csv"


def read_codes(campaign: str) -> dict[str, str]:
    """rater -> the code last generated for them (empty if none was generated or the file was removed)."""
    path = codes_file(campaign)
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["rater"]: row["code"] for row in csv.DictReader(fh) if row.get("rater")}


def save_codes(campaign: str, codes: dict[str, str]) -> Path:
    """Merge ``codes`` into the organiser's copy, written atomically with owner-only permissions."""
    merged = {**read_codes(campaign), **codes}
    path = codes_file(campaign)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rater", "code"])
    writer.writerows(sorted(merged.items()))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(buffer.getvalue())
    tmp.replace(path)
    return path


def reset(store: Store, campaign: str, rater: str) -> str:
    """A new code for ``rater``: the old one stops working and the rater's open sessions end at their next
    request (``campaigns.access``). The organiser's copy is updated."""
    code = db.reset_code(store, campaign, rater)
    save_codes(campaign, {rater: code})
    return code


def code_rows(store: Store, campaign: str) -> list[list[str]]:
    """[rater, code or how to get one] for every rater of the campaign, for the Blind A/B tab."""
    known = read_codes(campaign)
    return [
        [rater, known.get(rater, "chosen in the campaign file (or issue a new one)")]
        for rater in db.campaign_raters(store, campaign)
    ]
