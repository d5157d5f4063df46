"""Stimuli: imports conformed, loudness-matched, equal length, bare anonymised WAVs; generated systems via the engine."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
import soundfile as sf

from workbench.campaigns import db
from workbench.campaigns.config import config_from_dict
from workbench.campaigns.stimuli import create_campaign, serve_dir
from workbench.core.errors import ConfigError, InputError
from workbench.core.store import Store


def chunk_ids(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    ids, pos = [], 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4].decode("latin-1"), struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        ids.append(cid)
        pos += 8 + size + (size & 1)
    return ids


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store.sqlite")


@pytest.fixture(scope="module")
def imported(tmp_path_factory, new_campaign):
    root = tmp_path_factory.mktemp("stimuli")
    store = Store(root / "store.sqlite")
    return store, new_campaign(store, root / "imports", name="stim-alphasys-vs-betasys")


def test_imported_stimuli_are_matched_and_anonymous(imported):
    store, config = imported
    clips = db.load_clips(store, config.name)
    target, ceiling = config.loudness_target()
    assert len([c for c in clips if c.kind == "clip"]) == 3 * 4 * 2
    assert len([c for c in clips if c.kind == "degraded"]) == 3 * 4 * 2  # gold_rate > 0: one per clip
    files = sorted(serve_dir(config.name).iterdir())
    assert len(files) == len(clips)  # the serve folder holds stimuli and nothing else
    sizes, frames = set(), set()
    for clip in clips:
        path = Path(clip.served_path)
        assert path.parent == serve_dir(config.name)
        assert re.fullmatch(r"[0-9a-f]{32}\.wav", path.name), path.name
        assert chunk_ids(path) == ["fmt ", "data"]  # no LIST/INFO, no bext, no id3: nothing but audio
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (
            48_000,
            2,
            "PCM_24",
        )  # the master; raters get a dithered 16-bit rendering
        audio, rate = sf.read(str(path), always_2d=True)
        loudness = pyloudnorm.Meter(rate).integrated_loudness(audio)
        assert abs(loudness - target) <= 0.5, (clip.system, loudness)
        true_peak = np.abs(scipy.signal.resample_poly(audio, 4, 1, axis=0)).max()
        assert 20 * np.log10(true_peak) <= ceiling + 0.05  # 16-bit rounding margin
        sizes.add(path.stat().st_size)
        frames.add(info.frames)
    assert frames == {48_000} and len(sizes) == 1  # equal length and byte size for every system


def test_degraded_copy_is_lowpassed(imported):
    store, config = imported
    clips = {c.id: c for c in db.load_clips(store, config.name)}
    for bad in (c for c in clips.values() if c.kind == "degraded"):
        good = clips[bad.source_clip]
        assert good.system == bad.system and good.prompt_id == bad.prompt_id

        def high_share(path: str) -> float:
            x, rate = sf.read(path)
            f, p = scipy.signal.welch(x[:, 0], rate, nperseg=4096)
            return float(p[f > 5000].sum() / p.sum())

        assert (
            high_share(bad.served_path) < high_share(good.served_path) or high_share(good.served_path) < 1e-4
        )


def test_generated_system_runs_through_the_engine(store, tmp_path, engine, campaign_dict):
    data = campaign_dict(
        tmp_path / "imports", name="stim-gen", prompts=2, takes=1, quota=2, gold_rate=0.0, repeat_rate=0.0
    )
    data["systems"] = [
        {"name": "tinygen", "model": "tiny", "params": {"steps": 2}, "seed": 7},
        data["systems"][1],
    ]
    data["prompts"] = [{"id": "p0", "caption": "calm pads"}, {"id": "p1", "caption": "soft harp"}]
    config = config_from_dict(data)
    create_campaign(store, config, engine_for=lambda model: engine, log=lambda m: None)
    generated = [c for c in db.load_clips(store, config.name) if c.system == "tinygen"]
    assert len(generated) == 2 and all(c.run_id for c in generated)
    for clip in generated:
        run = store.get_run(clip.run_id)
        assert run is not None and run.genre == "spa" and run.prompt in ("calm pads", "soft harp")
        assert Path(run.sidecar_path).is_file() and Path(clip.source_path) == Path(run.audio_path)
        assert sf.info(clip.served_path).frames == 48_000


def test_bad_import_is_reported_and_the_name_stays_free(store, tmp_path, campaign_dict, system_names):
    data = campaign_dict(tmp_path / "imports", name="stim-bad")
    (Path(data["systems"][0]["import_dir"]) / f"{system_names[0]}_track_0_0.wav").unlink()
    with pytest.raises(ConfigError, match=r"mapping\.csv\[2\]\.file"):
        create_campaign(store, config_from_dict(data), engine_for=lambda m: None, log=lambda m: None)
    assert "stim-bad" not in db.list_campaigns(store)


def test_too_short_clip_is_an_error_naming_the_clip(store, tmp_path, campaign_dict):
    data = campaign_dict(tmp_path / "imports", name="stim-short", clip_duration_s=1.8)
    with pytest.raises(InputError, match=r"alphasys/p0/take0\.clip_duration_s=1\.8: a clip is only 1\.50 s"):
        create_campaign(store, config_from_dict(data), engine_for=lambda m: None, log=lambda m: None)
    assert db.list_campaigns(store) == []
