"""Audio that would exhaust memory: refused from its header before any decode, on every way audio comes in."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
import pytest
import soundfile as sf

from workbench.core import audio_io
from workbench.core.errors import AudioInputError

MB = 1024 * 1024


@pytest.fixture(scope="module")
def bombs(tmp_path_factory, write_silent_flac) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    # The 6-hour file is mono at 8 kHz so that writing it is as quick as the 1-hour one; decoded in full it
    # would still need 0.7 GB (and 8 GB after conforming to 48 kHz stereo), far over the 100 MB asserted.
    return {
        "1h": write_silent_flac(folder / "hour.flac", 3600),
        "6h": write_silent_flac(folder / "six-hours.flac", 6 * 3600, 8_000, 1),
    }


@pytest.fixture
def no_decode(monkeypatch):
    """Makes any decode fail loudly, so a test passing with it proves the refusal came from the header."""

    def decoded(*args, **kwargs):
        raise AssertionError("the audio was decoded")

    monkeypatch.setattr(audio_io.sf, "read", decoded)
    monkeypatch.setattr(audio_io, "_decode_with_ffmpeg", decoded)


@pytest.mark.parametrize(("name", "seconds"), [("1h", "3600.0"), ("6h", "21600.0")])
def test_hours_long_flac_fails_with_bounded_memory(bombs, name, seconds):
    path = bombs[name]
    assert path.stat().st_size < 5 * MB
    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    try:
        with pytest.raises(AudioInputError) as info:
            audio_io.load_conformed(path)
        _, peak_traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = process.memory_info().rss - rss_before
    assert f"is {seconds} s long; the maximum is 600 s, trim it first" in str(info.value)
    assert peak_traced < 100 * MB, f"{peak_traced / MB:.0f} MB allocated while refusing"
    assert rss_growth < 100 * MB, f"RSS grew by {rss_growth / MB:.0f} MB"


@pytest.mark.parametrize("name", ["1h", "6h"])
def test_refusal_comes_from_the_header_before_any_decode(bombs, name, no_decode):
    with pytest.raises(AudioInputError, match="s long; the maximum is 600 s"):
        audio_io.read_audio(bombs[name])


def test_header_reports_length_without_decoding(bombs, no_decode):
    header = audio_io.probe(bombs["1h"])
    assert (header.sample_rate, header.channels, header.frames) == (48_000, 2, 48_000 * 3600)


def test_too_many_channels_refused_from_the_header(tmp_path, no_decode):
    path = tmp_path / "ch80.wav"
    sf.write(path, np.zeros((10, 80), dtype=np.float32), 48_000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="has 80 channels; the maximum is 64, down-mix it first"):
        audio_io.read_audio(path)


def test_decoded_size_limit_named(tmp_path, monkeypatch, no_decode):
    path = tmp_path / "wide.wav"
    sf.write(path, np.zeros((48_000, 64), dtype=np.float32), 48_000, subtype="FLOAT")
    monkeypatch.setattr(audio_io, "MAX_DECODED_BYTES", 1024**3 // 100)
    with pytest.raises(
        AudioInputError, match=r"would decode to 0.0 GiB \(64 channels at 48000 Hz\); the limit"
    ):
        audio_io.read_audio(path)


def test_decode_stops_one_frame_past_the_limit(tmp_path, monkeypatch):
    """A header that under-states the length cannot make the decode read the whole file."""
    path = tmp_path / "three.wav"
    sf.write(path, np.zeros((3 * 8000, 1), dtype=np.float32), 8000, subtype="FLOAT")
    real_read = sf.read
    asked: list[int] = []

    def counting_read(*args, **kwargs):
        asked.append(kwargs["frames"])
        return real_read(*args, **kwargs)

    lying = audio_io.AudioHeader(8000, 1, 8000, 1.0, "soundfile")
    monkeypatch.setattr(audio_io, "probe", lambda p: lying)
    monkeypatch.setattr(audio_io.sf, "read", counting_read)
    with pytest.raises(AudioInputError, match="is over 2 s long"):
        audio_io.read_audio(path, max_duration_s=2.0)
    assert asked == [2 * 8000 + 1]


def test_sample_rate_out_of_range(tmp_path):
    path = tmp_path / "slow.wav"
    sf.write(path, np.zeros((700, 1), dtype=np.float32), 1, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="has a sample rate of 1 Hz; supported: 1000 to 768000 Hz"):
        audio_io.read_audio(path)


def test_truncated_flac_says_it_may_be_truncated(tmp_path, write_tone):
    full = tmp_path / "full.flac"
    sf.write(full, np.random.default_rng(0).uniform(-0.5, 0.5, (48_000, 2)).astype(np.float32), 48_000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[:60])
    with pytest.raises(AudioInputError, match="it may be truncated"):
        audio_io.read_audio(cut)


def test_device_file_refused(tmp_path):
    link = tmp_path / "zero.wav"
    link.symlink_to("/dev/zero")
    with pytest.raises(AudioInputError, match="is not a regular file"):
        audio_io.read_audio(link)


# --- every entry uses the same guard ---------------------------------------------------------------------------


def _entry_src(engine, path: Path) -> None:
    from workbench.engine.requests import Repaint

    engine.run(Repaint(src=str(path), start_s=0.0, end_s=1.0, steps=1))


def _entry_analyze(engine, path: Path) -> None:
    from evals.audio.analysis import analyze_file

    analyze_file(path)


def _entry_master(engine, path: Path) -> None:
    from workbench.audio.mastering import MasteringSpec
    from workbench.services import Workbench

    Workbench(None, None).master(str(path), MasteringSpec(target_lufs=-14.0))


def _entry_campaign_import(engine, path: Path) -> None:
    from workbench.campaigns.config import config_from_dict
    from workbench.campaigns.stimuli import import_system

    (path.parent / "map.csv").write_text(f"prompt_id,file\np0,{path.name}\n", encoding="utf-8")
    systems = [{"name": f"s{i}", "import_dir": str(path.parent), "mapping_csv": "map.csv"} for i in range(2)]
    config = config_from_dict(
        {"name": "bomb", "genre": "spa", "systems": systems, "prompts": [{"id": "p0"}], "raters": ["r0"]}
        | {"clips_per_prompt": 1, "votes_per_rater": 1, "gold_rate": 0.0, "repeat_rate": 0.0}
    )
    import_system(config, config.systems[0])


def _entry_lora_dataset(engine, path: Path) -> None:
    from lora.dataset import DatasetOptions, build_dataset

    report = build_dataset(path.parent, path.parent / "ds", DatasetOptions())
    reasons = " ".join(issue.reason for issue in report.issues)
    raise AudioInputError("dataset", str(path), reasons)


@pytest.mark.parametrize(
    "entry",
    [_entry_src, _entry_analyze, _entry_master, _entry_campaign_import, _entry_lora_dataset],
    ids=["generate-src", "eval-analyze", "master", "campaign-import", "lora-dataset"],
)
def test_every_entry_refuses_from_the_header(engine, bombs, entry, tmp_path, no_decode):
    import shutil

    path = shutil.copy(bombs["1h"], tmp_path / "hour.flac")
    with pytest.raises(AudioInputError, match=r"is 3600.0 s long; the maximum is \d+ s"):
        entry(engine, Path(path))
