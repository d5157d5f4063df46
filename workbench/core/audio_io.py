"""Reading, conforming and writing audio.

Everything the engine touches is 48 kHz stereo float32 shaped ``(2, n)``. soundfile decodes wav/flac/mp3/ogg
itself; other containers (m4a/aac) go through ffmpeg. Resampling uses soxr (a librosa dependency), not
torchaudio, whose wheels here are CUDA-only and fail to import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from workbench.core.errors import AudioInputError, InputError

SAMPLE_RATE = 48_000
CHANNELS = 2
MAX_INPUT_DURATION_S = 600.0  # ACE-Step 1.5 generates at most 10 minutes
READ_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".aiff", ".aif")
WRITE_FORMATS = ("wav", "flac", "mp3")


@dataclass
class Audio:
    """Audio samples shaped (channels, frames), float32 in [-1, 1] nominal range."""

    samples: np.ndarray
    sample_rate: int
    notes: list[str] = field(default_factory=list)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / float(self.sample_rate)


def _decode_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode containers soundfile cannot read (m4a/aac) to float32 at the file's own rate."""
    if shutil.which("ffmpeg") is None:
        raise AudioInputError(
            "audio",
            str(path),
            "this format needs ffmpeg; install it (apt-get install ffmpeg) or convert to wav/flac",
        )
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=sample_rate,channels",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = probe.stdout.strip().split(",")
    if probe.returncode != 0 or len(parts) < 2 or not parts[0].isdigit():
        raise AudioInputError(
            "audio", str(path), "the file is not readable audio (ffprobe found no audio stream)"
        )
    sample_rate, channels = int(parts[0]), int(parts[1])
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_output=True,
        check=False,
    )
    if out.returncode != 0:
        raise AudioInputError(
            "audio", str(path), "ffmpeg could not decode the file; re-export it as wav or flac"
        )
    data = np.frombuffer(out.stdout, dtype=np.float32).reshape(-1, channels)
    return data, sample_rate


def read_audio(path: str | os.PathLike[str], max_duration_s: float = MAX_INPUT_DURATION_S) -> Audio:
    """Read a file as it is (no conforming). Raises AudioInputError with the reason for anything unusable."""
    p = Path(path)
    if not p.exists():
        raise AudioInputError("audio", str(p), "file not found; check the path")
    if p.is_dir():
        raise AudioInputError("audio", str(p), "is a folder; give an audio file")
    if p.stat().st_size == 0:
        raise AudioInputError("audio", str(p), "the file is empty (0 bytes)")
    try:
        data, sample_rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        if p.suffix.lower() in (".m4a", ".aac", ".mp4", ".opus", ".webm"):
            data, sample_rate = _decode_with_ffmpeg(p)
        else:
            raise AudioInputError(
                "audio", str(p), f"not a readable audio file; supported: {', '.join(READ_SUFFIXES)}"
            ) from None
    if data.shape[0] == 0:
        raise AudioInputError("audio", str(p), "the file contains no audio frames")
    if not np.isfinite(data).all():
        raise AudioInputError("audio", str(p), "contains NaN or infinite samples; re-export the file")
    duration_s = data.shape[0] / sample_rate
    if duration_s > max_duration_s:
        raise AudioInputError(
            "audio",
            str(p),
            f"is {duration_s:.1f} s long; the maximum is {max_duration_s:.0f} s, trim it first",
        )
    return Audio(np.ascontiguousarray(data.T), int(sample_rate))


def _downmix(samples: np.ndarray) -> tuple[np.ndarray, str]:
    channels = samples.shape[0]
    if channels == 6:
        # ITU-R BS.775 down-mix of 5.1 in the common L R C LFE Ls Rs order; LFE is dropped.
        g = np.float32(1 / np.sqrt(2))
        left = samples[0] + g * samples[2] + g * samples[4]
        right = samples[1] + g * samples[2] + g * samples[5]
        note = "down-mixed 6 channels (5.1) to stereo (ITU-R BS.775, LFE dropped)"
    else:
        left = samples[0::2].mean(axis=0)
        right = samples[1::2].mean(axis=0)
        note = f"down-mixed {channels} channels to stereo (even channels left, odd right)"
    out = np.stack([left, right]).astype(np.float32)
    peak = float(np.abs(out).max())
    if peak > 1.0:
        out /= peak  # the sum can exceed full scale; keep the mix unclipped
        note += f", scaled by {1 / peak:.3f} to avoid clipping"
    return out, note


def conform(audio: Audio) -> Audio:
    """Return 48 kHz stereo float32. Every change made is recorded in ``notes``."""
    samples = audio.samples.astype(np.float32, copy=False)
    notes = list(audio.notes)
    if samples.shape[0] == 1:
        samples = np.concatenate([samples, samples], axis=0)
        notes.append("mono duplicated to stereo")
    elif samples.shape[0] > 2:
        samples, note = _downmix(samples)
        notes.append(note)
    rate = audio.sample_rate
    if rate != SAMPLE_RATE:
        import soxr  # imported lazily: only needed for off-rate input

        samples = soxr.resample(samples.T, rate, SAMPLE_RATE, quality="HQ").T.astype(np.float32)
        notes.append(f"resampled {rate} Hz to {SAMPLE_RATE} Hz")
    return Audio(np.ascontiguousarray(samples), SAMPLE_RATE, notes)


def load_conformed(path: str | os.PathLike[str], max_duration_s: float = MAX_INPUT_DURATION_S) -> Audio:
    return conform(read_audio(path, max_duration_s=max_duration_s))


def _zero_peak_timestamp(path: str) -> None:
    """libsndfile stamps float WAVs with the write time (PEAK chunk); zero it so equal audio gives equal bytes."""
    with open(path, "r+b") as fh:
        head = fh.read(512)
        pos = head.find(b"PEAK")
        if pos >= 0:
            fh.seek(pos + 12)  # 'PEAK', chunk size, version, then the 4-byte timestamp
            fh.write(b"\x00\x00\x00\x00")


def write_audio(path: str | os.PathLike[str], audio: Audio) -> Path:
    """Write atomically: a temporary file in the same folder, then rename, so no partial file is ever visible."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in WRITE_FORMATS:
        raise InputError("output format", fmt, f"choose one of {', '.join(WRITE_FORMATS)}")
    p.parent.mkdir(parents=True, exist_ok=True)
    # float wav keeps the engine's samples bit-exact; flac is 24-bit; mp3 goes through soundfile's LAME.
    subtype = {"wav": "FLOAT", "flac": "PCM_24", "mp3": None}[fmt]
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=f".{fmt}", dir=p.parent)
    os.close(fd)
    try:
        data = audio.samples.T
        if fmt != "wav":
            data = np.clip(data, -1.0, 1.0)
        sf.write(tmp, data, audio.sample_rate, subtype=subtype, format=fmt.upper())
        if fmt == "wav":
            _zero_peak_timestamp(tmp)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
