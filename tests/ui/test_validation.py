"""Form checks that refuse instead of clamping or running on nothing, and upload checks that name the file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import AudioInputError, InputError


def _values(**changes):
    values = {
        "prompt": "calm piano",
        "lyrics": "",
        "instrumental": True,
        "duration_s": 5,
        "bpm": None,
        "keyscale": "",
        "time_signature": "",
        "steps": 2,
        "guidance_scale": None,
        "shift": None,
        "seed": 1,
        "random_seed": False,
        "genre": "",
        "batch_size": 1,
        "lora": "",
        "lora_path": "",
        "lora_scale": 1.0,
    }
    return values | changes


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"duration_s": 0}, r"duration_s=0\.0: must be between 1 and 600 seconds"),
        ({"duration_s": 9999}, r"must be between 1 and 600 seconds"),
        ({"duration_s": None}, r"enter a duration between 1 and 600 seconds"),
        ({"prompt": "  "}, r"caption='': describe the music"),
    ],
)
def test_generate_form_refuses_what_it_used_to_clamp(ctx, changes, match) -> None:
    from workbench.ui.tab_generate import request_of

    with pytest.raises(InputError, match=match):
        request_of(ctx, _values(**changes)).validate()  # the check the run makes before any work
    assert request_of(ctx, _values()).duration_s == 5.0


def test_upload_problem_names_the_file_not_the_folder(tmp_path: Path, write_tone) -> None:
    from workbench.ui.results import upload_problem

    fake = tmp_path / "deep" / "upload-cache" / "fake.wav"
    fake.parent.mkdir(parents=True)
    fake.write_text("not audio")
    problem = upload_problem(str(fake))
    assert problem is not None and problem.startswith("fake.wav: not a readable audio file")
    assert str(tmp_path) not in problem
    assert upload_problem(str(write_tone(tmp_path / "ok.wav", 0.5))) is None
    assert upload_problem(None) is None


def test_audio_errors_reach_the_page_without_the_server_path() -> None:
    from workbench.ui.context import error_text

    exc = AudioInputError("audio", "/tmp/gradio/3f9a/fake.wav", "not a readable audio file")
    assert error_text(exc) == "fake.wav: not a readable audio file"
    assert (
        error_text(InputError("steps", -3, "must be between 1 and 200"))
        == "steps=-3: must be between 1 and 200"
    )


def test_lora_label_names_the_run_of_a_best_adapter() -> None:
    from workbench.ui.context import lora_label

    assert lora_label("/home/x/runs/lora/spa-r4/best", 4, 1.0) == "spa-r4/best (rank 4, scale 1)"
    assert lora_label("/l/step-000050", 8, 0.5) == "l/step-000050 (rank 8, scale 0.5)"
    assert lora_label("/loras/lobby.safetensors", 16, 1.25) == "lobby (rank 16, scale 1.25)"


def test_status_line_shows_this_sessions_lora_not_the_engines(
    ctx, tmp_path: Path, random_lora_state, save_diffusers
) -> None:
    """Another session's LoRA run leaves the adapter loaded in the engine; a session's line names only its own."""
    import gradio as gr
    from diffusers import AceStepPipeline

    from workbench.ui.results import result_card
    from workbench.ui.tab_generate import generate

    adapter = save_diffusers(
        AceStepPipeline, random_lora_state(ctx.engine.pipeline.transformer), tmp_path / "run7" / "best"
    )

    class Job:
        hooks: dict = {}

    with gr.Blocks():
        cards = [result_card(ctx, "t", 0)]
    try:
        ctx.engine.load_lora(str(adapter))  # as another session's run would leave it
        assert ctx.model.status_line().endswith("(your last run) none")
        values = _values(lora_path=str(adapter), lora_scale=0.5, audio_format="wav", target_lufs=None)
        label = generate(ctx, values, Job(), cards=cards)[-1]
        assert label == "run7/best (rank 4, scale 0.5)"
        assert ctx.model.status_line(label).endswith(f"(your last run) {label}")
        assert generate(ctx, _values(audio_format="wav", target_lufs=None), Job(), cards=cards)[-1] == "none"
    finally:
        ctx.engine.unload_lora()
