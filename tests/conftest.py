"""Shared fixtures. Every test session gets its own WORKBENCH_HOME, no network, and W&B off.

Helpers that several test folders use are fixtures here; a factory fixture returns the function the tests call.
Fixtures used by one folder live in that folder's conftest.py. Test modules import none of them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Set before any project import so paths/tracking see them.
_HOME = tempfile.mkdtemp(prefix="workbench-tests-")
os.environ["WORKBENCH_HOME"] = _HOME
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WORKBENCH_TRACKING", "off")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import socket  # noqa: E402
import struct  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from workbench.core.audio_io import SAMPLE_RATE, Audio  # noqa: E402

# --- the tiny model -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from workbench.engine.tiny import ensure_tiny

    return ensure_tiny()


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path):
    """One tiny engine for the session (loading is the slow part). Tests must not leave a LoRA loaded."""
    from workbench.engine.engine import Engine

    eng = Engine("tiny")
    eng.load()
    yield eng
    eng.unload_lora()


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a TCP port that is free on 127.0.0.1 right now."""

    def pick() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    return pick


# --- tones ----------------------------------------------------------------------------------------------------


def _tone(
    duration_s: float = 2.0,
    sample_rate: int = SAMPLE_RATE,
    channels: int = 2,
    freq_hz: float = 220.0,
    level: float = 0.3,
) -> np.ndarray:
    """A deterministic test signal shaped (channels, frames): a sine per channel at slightly different pitch."""
    t = np.arange(int(round(duration_s * sample_rate))) / sample_rate
    rows = [level * np.sin(2 * np.pi * freq_hz * (1 + 0.25 * c) * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def _write_tone(
    path: Path, duration_s: float = 2.0, sample_rate: int = SAMPLE_RATE, channels: int = 2, **kw: Any
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), _tone(duration_s, sample_rate, channels, **kw).T, sample_rate)
    return path


@pytest.fixture(scope="session")
def tone() -> Callable[..., np.ndarray]:
    """``tone(duration_s, sample_rate, channels, freq_hz, level)``: a sine per channel, shaped (channels, frames)."""
    return _tone


@pytest.fixture(scope="session")
def write_tone() -> Callable[..., Path]:
    """``write_tone(path, duration_s, sample_rate, channels, **tone_kw)``: that tone written as a WAV file."""
    return _write_tone


@pytest.fixture
def src_wav(tmp_path: Path) -> Path:
    return _write_tone(tmp_path / "src.wav", duration_s=3.3)


# --- signals with known properties (evals and `workbench eval`) -----------------------------------------------


def _sine(
    freq_hz: float, duration_s: float, amplitude: float = 0.5, phase: float = 0.0, rate: int = SAMPLE_RATE
) -> np.ndarray:
    t = np.arange(int(round(duration_s * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def _stereo(left: np.ndarray, right: np.ndarray | None = None, rate: int = SAMPLE_RATE) -> Audio:
    right = left if right is None else right
    return Audio(np.stack([left, right]).astype(np.float32), rate)


def _white_noise(
    duration_s: float, rms: float = 0.1, seed: int = 0, channels: int = 2, rate: int = SAMPLE_RATE
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rms * rng.standard_normal((channels, int(duration_s * rate)))).astype(np.float32)


def _click_track(
    bpm: float, duration_s: float, amplitude: float = 0.5, rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A decaying 1 kHz blip on every beat."""
    out = np.zeros(int(duration_s * rate), dtype=np.float32)
    blip_t = np.arange(int(0.03 * rate)) / rate
    blip = (amplitude * np.sin(2 * np.pi * 1000 * blip_t) * np.exp(-blip_t / 0.008)).astype(np.float32)
    period = 60.0 / bpm
    for beat in np.arange(0.0, duration_s - 0.05, period):
        start = int(round(beat * rate))
        out[start : start + blip.size] += blip[: out.size - start]
    return out


_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: the V chord has a leading tone


def _chord_progression(
    tonic_midi: int, mode: str, duration_s: float = 16.0, rate: int = SAMPLE_RATE
) -> np.ndarray:
    """I-IV-V-I (or i-iv-V-i) repeated, triads of harmonic-rich tones with a bass note on the chord root (C2 and up)."""
    steps = _MAJOR_STEPS if mode == "major" else _MINOR_STEPS
    degrees = (0, 3, 4, 0)  # I IV V I
    chord_s = 1.0
    n_chord = int(chord_s * rate)
    t = np.arange(n_chord) / rate
    envelope = np.minimum(1.0, t / 0.02) * np.exp(-t / 1.5)
    out = []
    for index in range(int(duration_s / chord_s)):
        degree = degrees[index % len(degrees)]
        notes = [tonic_midi + steps[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        notes.append(tonic_midi + steps[degree] - 12)  # bass
        chord = np.zeros(n_chord)
        for note in notes:
            freq = 440.0 * 2 ** ((note - 69) / 12)
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                chord += weight * np.sin(2 * np.pi * freq * harmonic * t)
        out.append(chord * envelope)
    signal = np.concatenate(out)
    return (0.2 * signal / np.abs(signal).max()).astype(np.float32)


@pytest.fixture(scope="session")
def db_to_amp() -> Callable[[float], float]:
    return lambda db: float(10.0 ** (db / 20.0))


@pytest.fixture(scope="session")
def sine() -> Callable[..., np.ndarray]:
    """``sine(freq_hz, duration_s, amplitude=0.5, phase=0.0, rate=48000)``: mono float32."""
    return _sine


@pytest.fixture(scope="session")
def stereo() -> Callable[..., Audio]:
    """``stereo(left, right=None, rate=48000)``: an Audio of two channels (right defaults to left)."""
    return _stereo


@pytest.fixture(scope="session")
def white_noise() -> Callable[..., np.ndarray]:
    """``white_noise(duration_s, rms=0.1, seed=0, channels=2, rate=48000)``: shaped (channels, frames)."""
    return _white_noise


@pytest.fixture(scope="session")
def click_track() -> Callable[..., np.ndarray]:
    """``click_track(bpm, duration_s, amplitude=0.5, rate=48000)``: mono, a blip on every beat."""
    return _click_track


@pytest.fixture(scope="session")
def chord_progression() -> Callable[..., np.ndarray]:
    """``chord_progression(tonic_midi, mode, duration_s=16.0, rate=48000)``: mono I-IV-V-I in a known key."""
    return _chord_progression


# --- clips and folders for LoRA datasets (lora, the LoRA tab, `workbench lora`) --------------------------------


def _write_clip(
    path: Path, freq_hz: float, duration_s: float = 2.0, seed: int = 0, level: float = 0.3
) -> Path:
    """A stereo sine with a little noise, so each clip is distinct and clearly not silent."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    left = level * np.sin(2 * np.pi * freq_hz * t) + 0.02 * rng.standard_normal(t.size)
    right = level * np.sin(2 * np.pi * freq_hz * 1.5 * t) + 0.02 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([left, right], axis=1).astype(np.float32), SAMPLE_RATE)
    return path


def _write_beat_clip(path: Path, bpm: float = 120.0, duration_s: float = 4.0, freq_hz: float = 220.0) -> Path:
    """A sine with a decaying click on every beat: something a tempo estimator can find (4 s is its minimum)."""
    sr = SAMPLE_RATE
    t = np.arange(int(duration_s * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * freq_hz * t)
    n = 2400
    click = 0.6 * np.exp(-np.arange(n) / 300) * np.sin(2 * np.pi * 1000 * np.arange(n) / sr)
    for beat_s in np.arange(0, duration_s - n / sr, 60.0 / bpm):
        i = int(beat_s * sr)
        x[i : i + n] += click
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([x, x], axis=1).astype(np.float32), sr)
    return path


def _write_sparse_long_wav(path: Path, duration_s: float, rate: int = 8000) -> Path:
    """A valid 16-bit mono WAV whose data is a sparse run of zeros: hours long by its header, ~0 bytes on disk."""
    n_bytes = int(duration_s * rate) * 2
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + n_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", n_bytes)
    )
    with path.open("wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + n_bytes)
    return path


def _make_folder(root: Path, n: int = 4, duration_s: float = 2.0) -> Path:
    for i in range(n):
        _write_clip(root / f"clip{i}.wav", 180.0 + 70 * i, duration_s, seed=i)
        (root / f"clip{i}.json").write_text(
            f'{{"caption": "soft tone {i}, warm pad", "bpm": {90 + i}, "key": "C major", "time_signature": "4"}}'
        )
    return root


@pytest.fixture(scope="session")
def write_clip() -> Callable[..., Path]:
    """``write_clip(path, freq_hz, duration_s=2.0, seed=0, level=0.3)``: a distinct stereo sine with noise."""
    return _write_clip


@pytest.fixture(scope="session")
def write_beat_clip() -> Callable[..., Path]:
    """``write_beat_clip(path, bpm=120.0, duration_s=4.0, freq_hz=220.0)``: a sine with a click on every beat."""
    return _write_beat_clip


@pytest.fixture(scope="session")
def write_sparse_long_wav() -> Callable[..., Path]:
    """``write_sparse_long_wav(path, duration_s, rate=8000)``: hours long by its header, ~0 bytes on disk."""
    return _write_sparse_long_wav


@pytest.fixture(scope="session")
def make_folder() -> Callable[..., Path]:
    """``make_folder(root, n=4, duration_s=2.0)``: n clips with JSON sidecars (caption, bpm, key)."""
    return _make_folder


# --- LoRA adapters for the tiny transformer (engine loading, batch LoRA rows) ---------------------------------


@dataclass(frozen=True)
class LoraShape:
    rank: int = 4
    alpha: float = 8.0
    targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")


@pytest.fixture(scope="session")
def lora_shape() -> LoraShape:
    """Rank, alpha and target modules of the adapters the fixtures below build."""
    return LoraShape()


@pytest.fixture(scope="session")
def random_lora_state(lora_shape: LoraShape) -> Callable[..., dict[str, Any]]:
    """``random_lora_state(transformer, seed=0)``: ``layers.0.self_attn.to_q.lora_A.weight``-style tensors with
    non-zero A and B (a trained-looking adapter)."""
    import torch

    def build(transformer: Any, seed: int = 0) -> dict[str, Any]:
        gen = torch.Generator().manual_seed(seed)
        state = {}
        for name, module in transformer.named_modules():
            if any(name.endswith("attn." + t) for t in lora_shape.targets):
                out_f, in_f = module.weight.shape
                state[f"{name}.lora_A.weight"] = torch.randn(lora_shape.rank, in_f, generator=gen) * 0.5
                state[f"{name}.lora_B.weight"] = torch.randn(out_f, lora_shape.rank, generator=gen) * 0.5
        return state

    return build


@pytest.fixture(scope="session")
def save_diffusers(lora_shape: LoraShape) -> Callable[..., Path]:
    """``save_diffusers(pipe_cls, state, folder)``: diffusers format with r/alpha metadata, as
    AceStepPipeline.save_lora_weights writes it."""

    def save(pipe_cls: Any, state: dict[str, Any], folder: Path) -> Path:
        pipe_cls.save_lora_weights(
            str(folder),
            transformer_lora_layers=state,
            transformer_lora_adapter_metadata={
                "r": lora_shape.rank,
                "lora_alpha": lora_shape.alpha,
                "target_modules": list(lora_shape.targets),
            },
        )
        return folder

    return save


# --- small campaigns of imported tone systems (campaigns, the rater app, `workbench campaign`, batch) ---------

SYSTEM_NAMES = ("alphasys", "betasys", "gammasys")


def _make_import(
    root: Path,
    system: str,
    prompts: int,
    takes: int,
    *,
    level: float,
    sample_rate: int = SAMPLE_RATE,
    duration_s: float = 1.5,
    freq_hz: float = 220.0,
) -> dict[str, Any]:
    """A folder of tone files plus mapping.csv, as an external service's export would look."""
    folder = root / system
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["prompt_id,file"]
    rng = np.random.default_rng(sum(system.encode()))
    for p in range(prompts):
        for t in range(takes):
            n = int(duration_s * sample_rate)
            time = np.arange(n) / sample_rate
            x = level * np.sin(2 * np.pi * (freq_hz + 40 * p + 7 * t) * time) + 0.01 * rng.standard_normal(n)
            name = f"{system}_track_{p}_{t}.wav"
            sf.write(folder / name, np.stack([x, 0.7 * x], 1), sample_rate)
            lines.append(f"p{p},{name}")
    (folder / "mapping.csv").write_text("\n".join(lines) + "\n")
    return {"name": system, "import_dir": str(folder), "mapping_csv": "mapping.csv"}


def _campaign_dict(
    root: Path,
    *,
    name: str = "camp",
    prompts: int = 4,
    takes: int = 2,
    raters: int = 2,
    quota: int = 10,
    min_listen_s: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    # Levels and sample rates differ per system on purpose: the stimuli must not carry those differences.
    systems = [
        _make_import(root, SYSTEM_NAMES[0], prompts, takes, level=0.05),
        _make_import(root, SYSTEM_NAMES[1], prompts, takes, level=0.4, duration_s=2.0),
        _make_import(root, SYSTEM_NAMES[2], prompts, takes, level=0.2, sample_rate=44_100, freq_hz=330.0),
    ]
    data: dict[str, Any] = {
        "name": name,
        "genre": "spa",
        "instructions": "Pick the clip you would rather hear in a quiet spa.",
        "systems": systems,
        "prompts": [{"id": f"p{p}"} for p in range(prompts)],
        "raters": [{"id": f"rater{i:02d}", "code": f"code-{i:04d}"} for i in range(raters)],
        "clips_per_prompt": takes,
        "votes_per_rater": quota,
        "clip_duration_s": 1.0,
        "fade_ms": 50.0,
        "min_listen_s": min_listen_s,
        "gold_rate": 0.1,
        "repeat_rate": 0.1,
        # these small campaigns test serving, not screening: the rates apply as given (no screening minimums)
        "min_gold_trials": 0,
        "min_repeats": 0,
    }
    data.update(extra)
    return data


@pytest.fixture(scope="session")
def system_names() -> tuple[str, ...]:
    """The names of the three imported systems in every campaign the fixtures below build."""
    return SYSTEM_NAMES


@pytest.fixture(scope="session")
def campaign_dict() -> Callable[..., dict[str, Any]]:
    """``campaign_dict(root, *, name, prompts, takes, raters, quota, min_listen_s, **extra)``: a campaign config
    as a mapping, its three systems imported from tone folders written under ``root``."""
    return _campaign_dict


@pytest.fixture(scope="session")
def new_campaign() -> Callable[..., Any]:
    """``new_campaign(store, root, **campaign_dict_kw)``: create that campaign in ``store`` (no model needed)."""

    def create(store: Any, root: Path, **kw: Any) -> Any:
        from workbench.campaigns.config import config_from_dict
        from workbench.campaigns.stimuli import create_campaign

        config = config_from_dict(_campaign_dict(root, **kw))
        create_campaign(store, config, engine_for=lambda model: None, log=lambda msg: None)
        return config

    return create


# --- hostile inputs (tests/core/test_bad_inputs*.py) ------------------------------------------------------------


@pytest.fixture(scope="session")
def write_silent_flac() -> Callable[..., Path]:
    """``write_silent_flac(path, seconds, sample_rate=48000, channels=2)``: digital silence written a minute at a
    time; FLAC stores an hour of it in about 700 KB, though it decodes to 1.4 GB."""

    def write(path: Path, seconds: int, sample_rate: int = SAMPLE_RATE, channels: int = 2) -> Path:
        minute = np.zeros((sample_rate * 60, channels), dtype=np.int16)
        with sf.SoundFile(str(path), "w", sample_rate, channels, subtype="PCM_16", format="FLAC") as fh:
            for _ in range(seconds // 60):
                fh.write(minute)
        return path

    return write


@pytest.fixture(scope="session")
def yaml_bomb() -> str:
    """A "billion laughs" YAML document: 9 levels of 9 aliases, 9**9 values from about 1 KB; anchor ``i`` is the
    top level, so ``key: *i`` puts the whole expansion under ``key``."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        name, previous = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines)


# --- the tiny 5 Hz LM -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def planner():
    """One planner on the tiny LM for the session (loading its 64k-token tokenizer is the slow part)."""
    from workbench.planner.planner import Planner

    p = Planner(device="cpu")
    p.lm("lm-tiny")
    yield p
    p.unload()


@pytest.fixture(scope="module")
def one_torch_thread():
    """The token loop is hundreds of tiny ops; on a shared 2-core machine two OpenMP threads spin against each
    other and make each op ~50x slower, so these tests run torch on one thread (and restore it after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
