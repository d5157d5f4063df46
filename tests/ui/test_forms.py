"""Form values -> requests (shared by the tabs and the API): conversions, presets, LoRA names, edit operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import InputError
from workbench.core.genres import load_genres
from workbench.engine.requests import Complete, Extend, Extract, Lego, Repaint, request_from_dict
from workbench.ui import forms, tab_edit
from workbench.ui.api import Upload, inputs_for


def test_genre_presets_cover_the_venues() -> None:
    genres = load_genres()
    assert {"hotel_lobby", "spa", "retail", "qsr"} <= set(genres)
    spa = genres["spa"]
    assert spa.bpm == 68 and spa.key == "C major" and spa.loudness_lufs == -22.0 and spa.instrumental


def test_broken_genre_file_names_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "genres.yaml"
    bad.write_text("genres:\n  lobby:\n    caption: x\n")
    with pytest.raises(InputError, match=r"genres.lobby.bpm"):
        load_genres(bad)
    bad.write_text("genres:\n  lobby:\n    bpm: [60, 80]\n    colour: red\n")
    with pytest.raises(InputError, match=r"genres\.lobby\.colour='red': unknown key; allowed: bpm, caption"):
        load_genres(bad)


def test_common_fields_conventions() -> None:
    values = {
        "prompt": "p",
        "bpm": 0,
        "keyscale": "auto",
        "time_signature": "4",
        "steps": 0,
        "shift": 0,
        "guidance_scale": 7,
        "seed": 42.0,
        "random_seed": False,
        "genre": "",
    }
    fields = forms.common_fields(values)
    assert fields["bpm"] is None and fields["keyscale"] is None and fields["time_signature"] == "4"
    assert fields["steps"] is None and fields["shift"] is None and fields["guidance_scale"] == 7.0
    assert fields["seed"] == 42 and fields["genre"] is None
    assert forms.common_fields({**values, "random_seed": True})["seed"] is None
    assert forms.optional_int("seed", "") is None and forms.optional_int("seed", "  ") is None
    assert forms.optional_int("seed", " 7 ") == 7
    with pytest.raises(InputError, match=r"^seed=1.5: must be a whole number"):
        forms.optional_int("seed", 1.5)
    with pytest.raises(InputError, match=r"^bpm='fast'"):
        forms.common_fields({**values, "bpm": "fast"})


def test_lora_names_cannot_escape_the_folder(tmp_path: Path) -> None:
    (tmp_path / "spa_v1").mkdir()
    (tmp_path / "lobby.safetensors").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an adapter")
    assert forms.scan_loras(tmp_path) == ["lobby.safetensors", "spa_v1"]
    ref = forms.lora_from_name(tmp_path, "spa_v1", 0.8)
    assert ref is not None and ref.path == str(tmp_path / "spa_v1") and ref.scale == 0.8
    assert forms.lora_from_name(tmp_path, "", 1.0) is None
    for name in ("../spa_v1", "/etc", "notes.txt"):
        with pytest.raises(InputError, match="not in the LoRA folder"):
            forms.lora_from_name(tmp_path, name, 1.0)


def test_parse_strengths() -> None:
    assert forms.parse_strengths("0.2, 0.5,0.8") == [0.2, 0.5, 0.8]
    for bad, match in (
        ("", "give one or more"),
        ("0.2, x", "must be a number"),
        ("1.2", "between 0 and 1"),
        ("0,0.1,0.2,0.3,0.4,0.5", "at most 5"),
    ):
        with pytest.raises(InputError, match=match):
            forms.parse_strengths(bad)


def test_check_format() -> None:
    assert forms.check_format("flac") == "flac"
    with pytest.raises(InputError, match=r"^output_format='ogg'"):
        forms.check_format("ogg")


def test_edit_requests_for_every_operation() -> None:
    common = forms.common_fields({"prompt": "x", "instrumental": True})
    fields = {
        "start_s": 1,
        "end_s": 2,
        "crossfade_ms": 20,
        "side": "left",
        "extend_s": 3,
        "track": "bass",
        "tracks": ["drums", "strings"],
    }
    built = {
        op: request_from_dict({"task": op, "src": "a.wav", **common, **tab_edit.operation_fields(op, fields)})
        for op in tab_edit.EDIT_OPERATIONS
    }
    assert isinstance(built["repaint"], Repaint) and built["repaint"].end_s == 2.0
    assert isinstance(built["extend"], Extend) and built["extend"].side == "left"
    assert isinstance(built["lego"], Lego) and built["lego"].track == "bass"
    assert isinstance(built["extract"], Extract) and built["extract"].track == "bass"
    assert isinstance(built["complete"], Complete) and built["complete"].tracks == ("drums", "strings")
    for request in built.values():
        request.validate()
    with pytest.raises(InputError, match=r"^operation='remix'"):
        tab_edit.operation_fields("remix", fields)


def test_api_inputs_are_generated_from_the_endpoint_signature() -> None:
    def endpoint(
        audio: Upload | None = None, steps: float | None = None, side: str = "right", on: bool = True
    ) -> None:
        return None

    components = inputs_for(endpoint)
    assert [type(c).__name__ for c in components] == ["File", "Number", "Textbox", "Checkbox"]
    assert [c.label for c in components] == ["audio", "steps", "side", "on"]
    assert [c.value for c in components[1:]] == [None, "right", True]

    def required(prompt: str) -> None:
        return None

    with pytest.raises(TypeError, match="prompt needs a default"):
        inputs_for(required)


def test_form_defaults_come_from_the_request_dataclasses() -> None:
    assert forms.default_of(Extend, "extend_s") == Extend(src="x").extend_s
    assert forms.default_of(Repaint, "crossfade_ms") == Repaint(src="x").crossfade_ms
    with pytest.raises(LookupError, match="Repaint.no_such_field"):
        forms.default_of(Repaint, "no_such_field")
