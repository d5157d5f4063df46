"""The prompts equal upstream's, character for character.

The expected strings are upstream's templates (ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py
``build_formatted_prompt``, ``build_formatted_prompt_with_cot``, ``build_formatted_prompt_for_format`` /
``_for_inspiration`` / ``_for_understanding``, instructions from acestep/constants.py) rendered with the Qwen3
chat format the released LMs carry, written out by hand.
"""

from __future__ import annotations

from workbench.planner import prompts

CAPTION = "calm piano, soft strings"
LYRICS = "[verse]\nhello night"


def test_think_prompt_matches_upstream(lm_tokenizer) -> None:
    expected = (
        "<|im_start|>system\n# Instruction\nGenerate audio semantic tokens based on the given conditions:\n\n"
        "<|im_end|>\n"
        "<|im_start|>user\n# Caption\ncalm piano, soft strings\n\n# Lyric\n[verse]\nhello night\n<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompts.render(lm_tokenizer, prompts.think_messages(CAPTION, LYRICS)) == expected


def test_think_negative_prompt_drops_the_caption_for_the_default_negative(lm_tokenizer) -> None:
    expected = (
        "<|im_start|>system\n# Instruction\nGenerate audio semantic tokens based on the given conditions:\n\n"
        "<|im_end|>\n<|im_start|>user\n# Lyric\n[verse]\nhello night\n<|im_end|>\n<|im_start|>assistant\n"
    )
    negative = prompts.think_negative_messages(LYRICS, "NO USER INPUT")
    assert prompts.render(lm_tokenizer, negative) == expected
    custom = prompts.render(lm_tokenizer, prompts.think_negative_messages(LYRICS, "noise"))
    assert "<|im_start|>user\n# Caption\nnoise\n\n# Lyric\n[verse]\nhello night\n<|im_end|>" in custom


def test_codes_prompt_carries_the_metadata_block_in_the_assistant_turn(lm_tokenizer) -> None:
    cot = prompts.cot_text(
        {"bpm": "92", "duration": "30", "keyscale": "F# minor", "language": "en", "timesignature": "4"}
    )
    assert (
        cot == "<think>\nbpm: 92\nduration: 30\nkeyscale: F# minor\nlanguage: en\ntimesignature: 4\n</think>"
    )
    expected = (
        "<|im_start|>system\n# Instruction\nGenerate audio semantic tokens based on the given conditions:\n\n"
        "<|im_end|>\n"
        "<|im_start|>user\n# Caption\ncalm piano, soft strings\n\n# Lyric\n[verse]\nhello night\n<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nbpm: 92\nduration: 30\nkeyscale: F# minor\nlanguage: en\n"
        "timesignature: 4\n</think>\n\n<|im_end|>\n"
    )
    assert prompts.render(lm_tokenizer, prompts.codes_messages(CAPTION, LYRICS, cot)) == expected
    negative = prompts.render(lm_tokenizer, prompts.codes_negative_messages(CAPTION, LYRICS, "NO USER INPUT"))
    assert negative.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n<|im_end|>\n")
    assert "# Caption\ncalm piano, soft strings\n" in negative


def test_format_sample_and_understand_prompts_match_upstream(lm_tokenizer) -> None:
    fmt = prompts.render(lm_tokenizer, prompts.format_messages(CAPTION, LYRICS))
    assert fmt == (
        "<|im_start|>system\n# Instruction\nFormat the user's input into a more detailed and specific musical "
        "description:\n\n<|im_end|>\n<|im_start|>user\n# Caption\ncalm piano, soft strings\n\n# Lyric\n"
        "[verse]\nhello night<|im_end|>\n<|im_start|>assistant\n"
    )
    sample = prompts.render(lm_tokenizer, prompts.sample_messages("a soft love song", True))
    assert sample == (
        "<|im_start|>system\n# Instruction\nExpand the user's input into a more detailed and specific musical "
        "description:\n\n<|im_end|>\n<|im_start|>user\na soft love song\n\ninstrumental: true<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    codes = "<|audio_code_1|><|audio_code_63999|>"
    understand = prompts.render(lm_tokenizer, prompts.understand_messages(codes))
    assert understand == (
        "<|im_start|>system\n# Instruction\nUnderstand the given musical conditions and describe the audio "
        "semantics accordingly:\n\n<|im_end|>\n<|im_start|>user\n<|audio_code_1|><|audio_code_63999|><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_metadata_block_reads_back() -> None:
    out = prompts.read_output(
        "<think>\nbpm: 92\ncaption: a b\nkeyscale: C major\n</think>\n\n# Lyric\nla la<|im_end|>"
    )
    assert out.fields == {"bpm": "92", "caption": "a b", "keyscale": "C major"}
    assert out.after == "la la"
