"""The catalogue of bad inputs: each gets its own clear message naming the field, the value and the fix."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from workbench.core.audio_io import Audio, load_conformed, read_audio, write_audio
from workbench.core.errors import AudioInputError, InputError, WeightsMissingError
from workbench.engine.models import resolve_model
from workbench.engine.requests import Extend, Repaint, Text2Music, request_from_dict


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioInputError, match=r"empty.wav.*the file is empty \(0 bytes\)"):
        read_audio(tmp_path / "empty.wav")


def test_text_file_named_wav(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my notes, not audio")
    with pytest.raises(AudioInputError, match="not a readable audio file .*supported: .wav"):
        read_audio(tmp_path / "notes.wav")


def test_missing_file(tmp_path):
    with pytest.raises(AudioInputError, match="file not found"):
        read_audio(tmp_path / "nope.flac")


def test_nan_audio(tmp_path):
    data = np.zeros((4800, 2), dtype=np.float32)
    data[100, 0] = np.nan
    sf.write(tmp_path / "nan.wav", data, 48_000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="contains NaN or infinite samples"):
        read_audio(tmp_path / "nan.wav")


def test_zero_frames(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros((0, 2), dtype=np.float32), 48_000)
    with pytest.raises(AudioInputError, match="contains no audio frames"):
        read_audio(tmp_path / "zero.wav")


def test_8khz_mono_is_conformed_not_rejected(tmp_path, write_tone):
    audio = load_conformed(write_tone(tmp_path / "m.wav", duration_s=1.0, sample_rate=8000, channels=1))
    assert audio.samples.shape == (2, 48_000)
    assert audio.notes == ["mono duplicated to stereo", "resampled 8000 Hz to 48000 Hz"]


def test_six_channels_downmixed_with_note(tmp_path, write_tone):
    audio = load_conformed(write_tone(tmp_path / "51.wav", duration_s=0.5, channels=6, level=0.5))
    assert audio.samples.shape == (2, 24_000)
    assert "down-mixed 6 channels (5.1)" in audio.notes[0]
    assert np.abs(audio.samples).max() <= 1.0


def test_over_long(tmp_path, write_tone):
    path = write_tone(tmp_path / "long.wav", duration_s=3.0, sample_rate=8000, channels=1)
    with pytest.raises(AudioInputError, match=r"is 3.0 s long; the maximum is 2 s"):
        read_audio(path, max_duration_s=2.0)


def test_formats_roundtrip(tmp_path, write_tone):
    audio = load_conformed(write_tone(tmp_path / "t.wav", duration_s=0.5))
    for fmt in ("wav", "flac", "mp3"):
        out = write_audio(tmp_path / f"o.{fmt}", audio)
        back = read_audio(out)
        assert back.sample_rate == 48_000 and back.channels == 2
        assert abs(back.frames - audio.frames) < 2400  # mp3 pads with encoder delay
    with pytest.raises(InputError, match="output format='aiff': choose one of wav, flac, mp3"):
        write_audio(tmp_path / "o.aiff", audio)


def test_m4a_through_ffmpeg(tmp_path, write_tone):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    wav = write_tone(tmp_path / "t.wav", duration_s=1.0)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(tmp_path / "t.m4a")], check=True
    )
    audio = load_conformed(tmp_path / "t.m4a")
    assert audio.channels == 2 and abs(audio.duration_s - 1.0) < 0.1


def test_write_is_atomic_no_partial_file_on_failure(tmp_path, monkeypatch):
    audio = Audio(np.zeros((2, 480), dtype=np.float32), 48_000)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(InputError, match=r"output=.*x.wav.*the disk is full \(.* MB free there\)"):
        write_audio(tmp_path / "x.wav", audio)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"task": "remix"}, "task='remix': choose one of text2music, repaint"),
        ({"task": "text2music", "duration_s": 0.2}, "duration_s=0.2: must be between 1 and 600 seconds"),
        ({"task": "text2music", "duration_s": 900}, "duration_s=900: must be between 1 and 600 seconds"),
        ({"task": "text2music", "steps": 0}, "steps=0: must be between 1 and 200"),
        ({"task": "text2music", "seed": -1}, "seed=-1: must be a whole number"),
        ({"task": "text2music", "keyscale": "H major"}, "keyscale='H major': write it like 'C major'"),
        ({"task": "text2music", "batch_size": 99}, "batch_size=99: must be between 1 and 16"),
        (
            {"task": "repaint", "src": "a.wav", "start_s": 5, "end_s": 5},
            "end_s=5: must be greater than start_s (5 s)",
        ),
        ({"task": "repaint", "start_s": 1, "end_s": 2}, "src='': task 'repaint' needs a source audio file"),
        ({"task": "extend", "src": "a.wav", "side": "up"}, "side='up': choose 'left'"),
        ({"task": "cover", "src": "a.wav", "strength": 1.5}, "strength=1.5: must be between 0 and 1"),
        ({"task": "lego", "src": "a.wav", "track": "kazoo"}, "track='kazoo': choose one of vocals"),
        ({"task": "audio_codes", "codes": "1 2 3"}, "codes='1 2 3': give <|audio_code_N|> tokens"),
        ({"task": "text2music", "colour": "red"}, "colour='red': unknown field for task 'text2music'"),
        (
            {"task": "text2music", "lora": {"path": "x", "scale": 9}},
            "lora.scale=9: use a number between -2 and 4",
        ),
        (
            {"task": "text2music", "lora": {"path": "x", "scael": 1}},
            "lora.scael=1: unknown key; allowed: path",
        ),
        ({"task": "text2music", "bpm": "fast"}, "bpm='fast': must be a whole number"),
        ({"task": "text2music", "instrumental": "no"}, "instrumental='no': must be true or false"),
        ({"task": "complete", "src": "a.wav", "tracks": ["drums", 3]}, "tracks[1]=3: must be text"),
    ],
)
def test_request_validation_messages(data, message):
    with pytest.raises(InputError) as info:
        request_from_dict(data).validate()
    assert message in str(info.value)


def test_window_beyond_source(engine, src_wav):
    with pytest.raises(InputError, match=r"end_s=5.0: the window ends beyond the source \(3.30 s\)"):
        engine.run(Repaint(src=str(src_wav), start_s=1.0, end_s=5.0, steps=1))


def test_duration_longer_than_source(engine, src_wav):
    with pytest.raises(InputError, match=r"duration_s=10.0: the source is only 3.30 s long"):
        engine.run(Extend(src=str(src_wav), duration_s=10.0, steps=1))


def test_bad_source_reaches_user_before_model_runs(engine, tmp_path):
    (tmp_path / "bad.wav").write_text("nope")
    with pytest.raises(AudioInputError, match="not a readable audio file"):
        engine.run(Repaint(src=str(tmp_path / "bad.wav"), start_s=0, end_s=1))


def test_missing_weights_fail_fast_with_the_fix():
    started = time.perf_counter()
    with pytest.raises(WeightsMissingError, match="Download them with: workbench models pull turbo"):
        resolve_model("turbo")
    assert time.perf_counter() - started < 2.0


def test_unknown_model_name():
    with pytest.raises(InputError, match="model='nonsense': not a registry name"):
        resolve_model("nonsense")


def test_folder_without_pipeline(tmp_path):
    with pytest.raises(InputError, match="has no model_index.json"):
        resolve_model(str(tmp_path))


def test_text2music_duration_default_is_30s(engine):
    assert engine.resolve(Text2Music(prompt="x")).duration_s == 30.0
