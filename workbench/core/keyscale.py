"""Musical keys: the pitch names the workbench writes and the one grammar it reads them with.

A key is written "<tonic> <mode>", e.g. "F# minor" or "Bb major", with the tonics spelled as in
``PITCH_CLASSES``. Reading is more lenient (analysis labels and hand-typed recipes say "Am" or "bb min"); a
request, which goes into the model's prompt, must use the written form (``is_written_keyscale``).
"""

from __future__ import annotations

import re

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
KEYSCALES = tuple(f"{p} {m}" for m in MODES for p in PITCH_CLASSES)
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*(#|b|♯|♭)?\s*(major|minor|maj|min|m)?\s*$")


def pitch_class(name: str) -> int:
    """Pitch class 0-11 of a tonic such as 'Bb', 'F#', 'C♯'. Raises ValueError for anything else."""
    match = _KEY_RE.match(name)
    if not match or match.group(3):
        raise ValueError(f"not a tonic name: {name!r}")
    accidental = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(match.group(2) or "", 0)
    return (_NATURAL[match.group(1).upper()] + accidental) % 12


def parse_keyscale(text: str) -> tuple[int, str]:
    """'F# minor' / 'Bb major' / 'Am' -> (pitch class, mode). Raises ValueError when unreadable."""
    match = _KEY_RE.match(text)
    if not match:
        raise ValueError(f"not a key: {text!r}")
    tonic = match.group(1) + (match.group(2) or "")
    mode = "minor" if (match.group(3) or "major") in ("minor", "min", "m") else "major"
    return pitch_class(tonic), mode


def is_written_keyscale(text: str) -> bool:
    """True for the written form only: an upper-case tonic, one space, the mode spelled out ('C major')."""
    match = _KEY_RE.match(text)
    if not match or not match.group(1).isupper() or match.group(3) not in MODES:
        return False
    return text == f"{match.group(1)}{match.group(2) or ''} {match.group(3)}"
