"""Stimuli a bot cannot read: simple detectors that need no listening do no better than chance on what raters are
served, while the same detectors succeed on the unprotected signals (so they are not blind by construction)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
import scipy.stats
import soundfile as sf

from workbench.campaigns import audio_prep, db
from workbench.campaigns.service import RaterService
from workbench.core.audio_io import Audio
from workbench.core.store import Store

RATERS, QUOTA, PROMPTS, TAKES = 4, 30, 6, 2
CHANCE_P = 0.001  # one-sided binomial p-value under which a detector counts as better than chance


def music(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """Harmonic tones over broadband noise: energy up to the Nyquist frequency, like a lossless master."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(110, 330)
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8))
    x = 0.2 * x + 0.05 * rng.standard_normal(t.size)
    return np.stack([x, np.roll(x, 7)], 1)


def write_system(root: Path, name: str, *, codec_like: bool, seed: int) -> dict[str, Any]:
    """An imported system. ``codec_like``: 44.1 kHz files with an encoder-style cut-off at 16.5 kHz, as an MP3
    export would arrive; otherwise full-band 48 kHz files."""
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines = ["prompt_id,file"]
    for p in range(PROMPTS):
        for t in range(TAKES):
            rate = 44_100 if codec_like else 48_000
            x = music(rng, rate, 1.6)
            if codec_like:
                sos = scipy.signal.butter(12, 16_500, fs=rate, output="sos")
                x = scipy.signal.sosfiltfilt(sos, x, axis=0)
            sf.write(folder / f"{p}_{t}.flac", x, rate)
            lines.append(f"p{p},{p}_{t}.flac")
    (folder / "mapping.csv").write_text("\n".join(lines) + "\n")
    return {"name": name, "import_dir": str(folder), "mapping_csv": "mapping.csv"}


def decode(data: bytes) -> np.ndarray:
    audio, _ = sf.read(io.BytesIO(data), always_2d=True)
    return np.asarray(audio)


def high_share(x: np.ndarray, rate: int = 48_000) -> float:
    f, p = scipy.signal.welch(x[:, 0], rate, nperseg=2048)
    return float(p[f >= 16_000].sum() / p.sum())


def first_samples(x: np.ndarray) -> float:
    return float(np.abs(x[:10]).max())


def better_than_chance(hits: int, n: int) -> bool:
    return bool(scipy.stats.binomtest(hits, n, 0.5, alternative="greater").pvalue < CHANCE_P)


def pick(left: float, right: float, rng: random.Random) -> str:
    """The side a detector names as 'larger'; a tie is a coin flip, as a bot would have to make it."""
    if left == right:
        return rng.choice(("left", "right"))
    return "left" if left > right else "right"


@pytest.fixture(scope="module")
def served(tmp_path_factory, campaign_dict) -> dict[str, Any]:
    """Every pair of a generated campaign as its raters were served it: the pair row and both sides' bytes."""
    from workbench.campaigns.config import config_from_dict
    from workbench.campaigns.stimuli import create_campaign

    root = tmp_path_factory.mktemp("bot")
    store = Store(root / "store.sqlite")
    systems = [
        write_system(root, "lossless", codec_like=False, seed=1),
        write_system(root, "codec", codec_like=True, seed=2),
    ]
    data = campaign_dict(
        root, name="bot-camp", prompts=PROMPTS, takes=TAKES, raters=RATERS, quota=QUOTA, systems=systems
    )
    data.update(gold_rate=0.3, repeat_rate=0.2, fade_ms=50.0, clip_duration_s=1.0)
    create_campaign(store, config_from_dict(data), engine_for=lambda model: None, log=lambda msg: None)
    service = RaterService(store, "bot-camp", seed=7)
    rng = random.Random(3)
    pairs = []
    for i in range(RATERS):
        rater = f"rater{i:02d}"
        view = service.current(rater)
        while not view.finished:
            sides = {}
            for side, url in (("left", view.url_left), ("right", view.url_right)):
                sides[side] = service.clip_bytes(url.rsplit("/", 1)[1], rater)
            pair = db.get_served(store.connect(), view.pair_id)
            pairs.append((pair, sides))
            view = service.vote(rater, view.pair_id, rng.choice(("left", "right", "tie")))
    clips = {c.id: c for c in db.load_clips(store, "bot-camp")}
    return {"pairs": pairs, "clips": clips, "store": store}


def test_gold_copies_cannot_be_told_from_their_first_samples(served):
    rng = random.Random(11)
    gold = [(p, s) for p, s in served["pairs"] if p.choice.is_gold]
    assert len(gold) >= 30
    hits = sum(
        pick(first_samples(decode(s["left"])), first_samples(decode(s["right"])), rng)
        != p.choice.gold_expected
        for p, s in gold
    )
    assert not better_than_chance(hits, len(gold)), (hits, len(gold))
    # the same rule on gold copies degraded after the fade (the old order) finds nearly every one
    control = 0
    for pair, _ in gold:
        intact_id = pair.choice.clip_left if pair.choice.gold_expected == "left" else pair.choice.clip_right
        master, rate = sf.read(served["clips"][intact_id].served_path, always_2d=True)
        late = audio_prep.degrade(Audio(master.T.astype(np.float32), rate, []), seed=5).samples.T
        control += first_samples(late) > first_samples(master)
    assert better_than_chance(control, len(gold)) and control >= 0.95 * len(gold)


def test_a_codec_sourced_system_leaves_no_trace_above_16_khz(served):
    rng = random.Random(12)
    regular = [(p, s) for p, s in served["pairs"] if not p.choice.is_gold and p.choice.repeat_of is None]
    assert len(regular) >= 40
    hits = sum(
        # the side with less energy above 16 kHz is named the codec-sourced system
        pick(high_share(decode(s["right"])), high_share(decode(s["left"])), rng)
        == ("left" if p.choice.system_left == "codec" else "right")
        for p, s in regular
    )
    assert not better_than_chance(hits, len(regular)), (hits, len(regular))
    # the sources themselves are told apart by the same rule every time
    control = 0
    for pair, _ in regular:
        shares = {}
        for system, clip_id in (
            (pair.choice.system_left, pair.choice.clip_left),
            (pair.choice.system_right, pair.choice.clip_right),
        ):
            source, rate = sf.read(served["clips"][clip_id].source_path, always_2d=True)
            shares[system] = high_share(source, rate)
        control += shares["codec"] < shares["lossless"]
    assert control == len(regular)


def test_no_two_served_clips_share_bytes_so_hashes_spot_no_repeat(served):
    pairs = served["pairs"]
    digests = [hashlib.sha256(s[side]).hexdigest() for _, s in pairs for side in ("left", "right")]
    assert len(set(digests)) == len(digests)  # every serve of every clip is its own bytes
    repeats = [p for p, _ in pairs if p.choice.repeat_of is not None]
    assert len(repeats) >= 16

    def spotted(side_hash) -> int:
        """Repeats a bot finds as 'the sides of an earlier pair, swapped', comparing hashes only."""
        seen, found = set(), 0
        for pair, sides in pairs:
            left, right = side_hash(pair, sides, "left"), side_hash(pair, sides, "right")
            found += pair.choice.repeat_of is not None and (right, left) in seen
            seen.add((left, right))
        return found

    assert spotted(lambda pair, sides, side: hashlib.sha256(sides[side]).digest()) == 0

    # serving each clip's stored file (the old way) gives every repeat away
    def stored(pair, sides, side):
        clip_id = pair.choice.clip_left if side == "left" else pair.choice.clip_right
        return hashlib.sha256(Path(served["clips"][clip_id].served_path).read_bytes()).digest()

    assert spotted(stored) == len(repeats)


def test_the_serve_dither_is_loudness_neutral_and_repeatable_per_seed(served):
    clip = next(c for c in served["clips"].values() if c.kind == "clip")
    master, rate = sf.read(clip.served_path, always_2d=True)
    one, again, other = (decode(audio_prep.render_served(Path(clip.served_path), s)) for s in (1, 1, 2))
    assert np.array_equal(one, again) and not np.array_equal(one, other)
    assert np.abs(one - master).max() <= 1.5 / 32768  # within the rounding plus one LSB of dither
    meter = pyloudnorm.Meter(rate)
    assert abs(meter.integrated_loudness(one) - meter.integrated_loudness(master)) < 0.01
