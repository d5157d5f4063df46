"""Format, Simple mode and Understand on the tiny LM: valid metadata, given fields kept, lyrics handled as
upstream (instrumental -> "[Instrumental]"), and Understand reads audio through the engine's audio tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import InputError
from workbench.core.keyscale import KEYSCALES
from workbench.planner import vocab
from workbench.planner.plans import FormatRequest, SampleRequest, UnderstandRequest
from workbench.services import Workbench

SMALL = {"lm": "lm-tiny", "caption_tokens": 6, "lyrics_tokens": 16}


def _valid(metadata) -> None:
    assert vocab.BPM_RANGE[0] <= metadata.bpm <= vocab.BPM_RANGE[1]
    assert metadata.keyscale in KEYSCALES
    assert metadata.language in vocab.LANGUAGES
    assert vocab.DURATION_RANGE[0] <= metadata.duration_s <= vocab.DURATION_RANGE[1]


def test_format_keeps_the_given_fields_and_fills_the_rest(planner) -> None:
    out = planner.format(
        FormatRequest(
            caption="latin pop", lyrics="[verse]\ntengo", bpm=101, time_signature="3", seed=2, **SMALL
        )
    )
    assert out.metadata.bpm == 101 and out.metadata.time_signature == "3"
    assert set(out.chosen) == {"caption", "duration", "keyscale", "language"}
    _valid(out.metadata)
    assert out.caption == out.metadata.caption and out.caption
    assert out.lyrics  # the LM's text after the block, or the given lyrics when it wrote none


def test_sample_instrumental_and_language(planner) -> None:
    out = planner.sample(
        SampleRequest(query="a soft love song", instrumental=True, language="bn", seed=4, **SMALL)
    )
    assert out.lyrics == "[Instrumental]" and out.instrumental
    assert out.metadata.language == "bn" and "language" not in out.chosen
    _valid(out.metadata)


def test_sample_unknown_language_is_refused(planner) -> None:
    with pytest.raises(InputError, match="vocal_language='klingon'"):
        planner.sample(SampleRequest(query="x", language="klingon", **SMALL))


def test_understand_audio_through_the_workbench(engine, planner, src_wav: Path) -> None:
    bench = Workbench(engine, None, planner=planner)
    out = bench.understand(UnderstandRequest(audio_path=str(src_wav), seed=1, **SMALL))
    _valid(out.metadata)
    assert out.caption
    assert set(out.chosen) == {"bpm", "caption", "duration", "keyscale", "language", "timesignature"}


def test_understand_needs_codes(planner) -> None:
    with pytest.raises(InputError, match="codes"):
        planner.understand(UnderstandRequest(codes="", **SMALL))
