"""Think on the tiny LM: the metadata block is always valid, the codes are exactly 5 per second, the user's fields
are kept, cancel stops within one token, and bad inputs each get their own error."""

from __future__ import annotations

import pytest

from workbench.core.errors import InputError
from workbench.core.keyscale import KEYSCALES
from workbench.engine.requests import TIME_SIGNATURES, Text2Music
from workbench.planner import vocab
from workbench.planner.apply import plan_request, planned_request
from workbench.planner.decoding import PlanCancelled, Sampling
from workbench.planner.plans import PlanRequest


def _request(**kw) -> PlanRequest:
    base = {"caption": "calm piano", "lm": "lm-tiny", "caption_tokens": 6}
    base.update(kw)
    return PlanRequest(**base)


@pytest.mark.slow
def test_metadata_parses_and_lies_in_range_for_50_seeds(planner) -> None:
    for seed in range(50):
        metadata, chosen = planner.metadata(_request(seed=seed))
        assert vocab.BPM_RANGE[0] <= metadata.bpm <= vocab.BPM_RANGE[1], seed
        assert vocab.DURATION_RANGE[0] <= metadata.duration_s <= vocab.DURATION_RANGE[1], seed
        assert metadata.keyscale in KEYSCALES, seed
        assert metadata.time_signature in TIME_SIGNATURES, seed
        assert metadata.language in vocab.LANGUAGES, seed
        assert metadata.caption, seed
        assert set(chosen) == {"bpm", "caption", "duration", "keyscale", "language", "timesignature"}


def test_same_seed_same_plan_and_another_seed_differs(planner) -> None:
    a = planner.plan(_request(seed=5, duration_s=2.0))
    b = planner.plan(_request(seed=5, duration_s=2.0))
    c = planner.plan(_request(seed=6, duration_s=2.0))
    assert a.codes == b.codes and a.metadata == b.metadata
    assert (c.codes, c.metadata) != (a.codes, a.metadata)


def test_user_fixed_fields_are_never_changed(planner) -> None:
    plan = planner.plan(
        _request(
            seed=1,
            bpm=97,
            keyscale="Eb minor",
            duration_s=3.0,
            language="de",
            sampling=Sampling(cfg_scale=1.0),
        )
    )
    m = plan.metadata
    assert (m.bpm, m.keyscale, m.duration_s, m.language) == (97, "Eb minor", 3.0, "de")
    assert set(plan.chosen) == {"caption", "timesignature"}
    assert m.time_signature in TIME_SIGNATURES


def test_all_metadata_fixed_skips_the_metadata_phase(planner) -> None:
    plan = planner.plan(_request(seed=2, bpm=120, keyscale="C major", time_signature="3", duration_s=2.0))
    assert plan.chosen == ()
    assert plan.metadata.caption == "calm piano"


def test_exactly_five_codes_per_second_and_the_dit_renders_that_length(planner, engine) -> None:
    request = Text2Music(prompt="calm piano", duration_s=4.0, seed=11, steps=2)
    plan = planner.plan(plan_request(request, lm="lm-tiny", caption_tokens=6))
    assert plan.code_count == 20
    assert plan.codes.count("<|audio_code_") == 20
    rendered = planned_request(request, plan)
    assert rendered.code_count == 20 and rendered.prompt == "calm piano"
    assert rendered.bpm == plan.metadata.bpm and rendered.keyscale == plan.metadata.keyscale
    result = engine.run(rendered)
    assert result.ok
    assert result.audio.duration_s == pytest.approx(4.0, abs=0.05)


def test_cancel_stops_within_one_token_step(planner, cancel_at) -> None:
    event, progress, seen = cancel_at(3)
    with pytest.raises(PlanCancelled):
        planner.plan(_request(seed=3, duration_s=20.0), progress=progress, cancel=event)
    assert max(seen) == 3


def test_unknown_language_is_its_own_error(planner) -> None:
    with pytest.raises(InputError, match="vocal_language='xx'.*language codes"):
        planner.plan(_request(language="xx", duration_s=2.0))


def test_lyrics_over_the_token_limit_are_refused(planner, lm_tokenizer) -> None:
    lyrics = "[verse]\n" + "tonight we sing the morning light\n" * 400
    assert len(lm_tokenizer.encode(lyrics)) > 2048
    with pytest.raises(InputError, match=r"lyrics=.*at most 2048 lyric tokens"):
        planner.plan(_request(lyrics=lyrics, duration_s=2.0))


def test_a_duration_beyond_the_context_is_refused_before_decoding(planner, lm_tokenizer, cancel_at) -> None:
    lyrics = "[verse]\n" + "tonight we sing the morning light\n" * 150
    assert 1000 < len(lm_tokenizer.encode(lyrics)) <= 2048
    event, progress, seen = cancel_at(1)
    with pytest.raises(InputError, match=r"duration_s=600.0.*4096-token context.*at most \d+ s"):
        planner.plan(_request(lyrics=lyrics, duration_s=600.0), progress=progress, cancel=event)
    assert seen == []  # refused before the first token


def test_think_refuses_source_tasks() -> None:
    from workbench.engine.requests import Repaint

    with pytest.raises(InputError, match="think=True.*text2music"):
        plan_request(Repaint(src="x.wav", end_s=1.0))
