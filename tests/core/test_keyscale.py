"""One key vocabulary: the Generate form's list, what a request accepts and what analysis and QC read."""

from __future__ import annotations

import pytest

from workbench.batch import qc
from workbench.core.errors import InputError
from workbench.core.keyscale import KEYSCALES, is_written_keyscale, parse_keyscale
from workbench.engine.requests import Text2Music
from workbench.ui import forms


def test_one_key_vocabulary_for_forms_requests_and_analysis() -> None:
    """The written keys (the Generate form's list) are exactly what a request accepts, and every one reads back."""
    assert forms.KEYS == KEYSCALES and len(KEYSCALES) == 24
    for i, key in enumerate(KEYSCALES):
        assert is_written_keyscale(key) and parse_keyscale(key) == (i % 12, "major" if i < 12 else "minor")
        Text2Music(prompt="x", keyscale=key).validate()
    for loose in ("Am", "c major", "C  major", "C ♯ minor", " C major", "Cmajor"):
        assert not is_written_keyscale(loose)
        with pytest.raises(InputError, match="write it like 'C major'"):
            Text2Music(prompt="x", keyscale=loose).validate()
    assert (
        parse_keyscale("Am") == (9, "minor")
        and is_written_keyscale("Gb major")
        and is_written_keyscale("C♯ minor")
    )
    assert qc.key_pitch("F# minor") == (6, "minor") and qc.key_pitch("H major") is None
