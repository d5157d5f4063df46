"""Reading, conforming and writing audio.

Everything the engine touches is 48 kHz stereo float32 shaped ``(2, n)``. soundfile decodes wav/flac/mp3/ogg
itself; other containers (m4a/aac) go through ffmpeg. Resampling uses soxr (a librosa dependency), not
torchaudio, whose wheels here are CUDA-only and fail to import.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from workbench.core.errors import AudioInputError, InputError, NonFiniteError
from workbench.core.fs_errors import os_error_fix

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


# Limits checked from the header before any sample is decoded, so a small file that claims hours of audio (a
# silent FLAC compresses an hour into 700 KB) is refused without allocating its decoded size.
MAX_INPUT_CHANNELS = 64
MIN_INPUT_SAMPLE_RATE = 1_000
MAX_INPUT_SAMPLE_RATE = 768_000
MAX_DECODED_BYTES = 2 * 1024**3  # float32 samples held at once; 600 s at 384 kHz stereo is 1.8 GB
_FFMPEG_SUFFIXES = (".m4a", ".aac", ".mp4", ".opus", ".webm")


@dataclass(frozen=True)
class AudioHeader:
    """What a file's header says about it; ``frames`` is None where the container gives no exact length."""

    sample_rate: int
    channels: int
    frames: int | None
    duration_s: float | None
    reader: str  # "soundfile" or "ffmpeg"


def _ffprobe(path: Path) -> AudioHeader:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
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
            "stream=sample_rate,channels,duration:format=duration",
            "-of",
            "default=noprint_wrappers=1",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    found: dict[str, str] = {}
    for line in probe.stdout.splitlines():
        key, _, value = line.partition("=")
        if value and value != "N/A":
            found.setdefault(key.strip(), value.strip())
    if (
        probe.returncode != 0
        or not found.get("sample_rate", "").isdigit()
        or not found.get("channels", "").isdigit()
    ):
        raise AudioInputError(
            "audio", str(path), "the file is not readable audio (ffprobe found no audio stream)"
        )
    try:
        duration_s: float | None = float(found["duration"])
    except (KeyError, ValueError):
        duration_s = None
    return AudioHeader(int(found["sample_rate"]), int(found["channels"]), None, duration_s, "ffmpeg")


def probe(path: str | os.PathLike[str]) -> AudioHeader:
    """The file's header (soundfile, else ffprobe for m4a/aac/opus), read without decoding any audio."""
    p = Path(path)
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if p.suffix.lower() in _FFMPEG_SUFFIXES:
            return _ffprobe(p)
        reason = str(exc).split(":")[-1].strip() or "unknown format"
        raise AudioInputError(
            "audio",
            str(p),
            f"not a readable audio file ({reason}); it may be truncated, corrupt or not audio; "
            f"supported: {', '.join(READ_SUFFIXES)}",
        ) from None
    frames = int(info.frames) if info.frames >= 0 else None
    duration_s = frames / info.samplerate if frames is not None and info.samplerate > 0 else None
    return AudioHeader(int(info.samplerate), int(info.channels), frames, duration_s, "soundfile")


def check_header(path: str | os.PathLike[str], header: AudioHeader, max_duration_s: float) -> None:
    """Refuse, from the header alone, audio whose length, channels, rate or decoded size is over the limits."""
    where = str(path)
    if not MIN_INPUT_SAMPLE_RATE <= header.sample_rate <= MAX_INPUT_SAMPLE_RATE:
        raise AudioInputError(
            "audio",
            where,
            f"has a sample rate of {header.sample_rate} Hz; supported: {MIN_INPUT_SAMPLE_RATE} to "
            f"{MAX_INPUT_SAMPLE_RATE} Hz, resample it first",
        )
    if not 1 <= header.channels <= MAX_INPUT_CHANNELS:
        raise AudioInputError(
            "audio",
            where,
            f"has {header.channels} channels; the maximum is {MAX_INPUT_CHANNELS}, down-mix it first",
        )
    if header.duration_s is not None and header.duration_s > max_duration_s:
        raise AudioInputError(
            "audio",
            where,
            f"is {header.duration_s:.1f} s long; the maximum is {max_duration_s:.0f} s, trim it first",
        )
    decoded = _decoded_bytes(header.sample_rate, header.channels, max_duration_s)
    if header.duration_s is not None:
        decoded = _decoded_bytes(header.sample_rate, header.channels, header.duration_s)
    if decoded > MAX_DECODED_BYTES:
        raise AudioInputError(
            "audio",
            where,
            f"would decode to {decoded / 1024**3:.1f} GiB ({header.channels} channels at "
            f"{header.sample_rate} Hz); the limit is {MAX_DECODED_BYTES / 1024**3:.0f} GiB, "
            "down-mix, resample or trim it first",
        )


def _decoded_bytes(sample_rate: int, channels: int, duration_s: float) -> float:
    return duration_s * sample_rate * channels * 4.0


def _max_frames(header: AudioHeader, max_duration_s: float) -> int:
    """The most frames a decode may return: one past the limit, so that a header that lies is still caught."""
    return int(math.ceil(max_duration_s * header.sample_rate)) + 1


def _decode_with_ffmpeg(path: Path, header: AudioHeader, max_duration_s: float) -> tuple[np.ndarray, int]:
    """Decode containers soundfile cannot read (m4a/aac) to float32, stopping just past the length limit."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-t",
            f"{max_duration_s + 1.0:.3f}",
            "-f",
            "f32le",
            "-acodec",
            "pcm_f32le",
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if out.returncode != 0:
        raise AudioInputError(
            "audio", str(path), "ffmpeg could not decode the file; re-export it as wav or flac"
        )
    usable = len(out.stdout) - len(out.stdout) % (4 * header.channels)
    data = np.frombuffer(out.stdout[:usable], dtype=np.float32).reshape(-1, header.channels)
    return data, header.sample_rate


def read_audio(path: str | os.PathLike[str], max_duration_s: float = MAX_INPUT_DURATION_S) -> Audio:
    """Read a file as it is (no conforming). Raises AudioInputError with the reason for anything unusable.

    The header is checked against the limits first (``check_header``) and the decode then reads at most one
    frame past ``max_duration_s``, so neither a lying header nor a long file makes this allocate more than
    the limit allows.
    """
    p = Path(path)
    if not p.exists():
        raise AudioInputError("audio", str(p), "file not found; check the path")
    if p.is_dir():
        raise AudioInputError("audio", str(p), "is a folder; give an audio file")
    if not p.is_file():
        raise AudioInputError(
            "audio", str(p), "is not a regular file (a device or pipe?); give an audio file"
        )
    if p.stat().st_size == 0:
        raise AudioInputError("audio", str(p), "the file is empty (0 bytes)")
    header = probe(p)
    check_header(p, header, max_duration_s)
    if header.reader == "ffmpeg":
        data, sample_rate = _decode_with_ffmpeg(p, header, max_duration_s)
    else:
        try:
            data, sample_rate = sf.read(
                str(p), frames=_max_frames(header, max_duration_s), dtype="float32", always_2d=True
            )
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            reason = str(exc).split(":")[-1].strip() or "decode failed"
            raise AudioInputError(
                "audio",
                str(p),
                f"could not be decoded ({reason}); it may be truncated or corrupt, re-export it",
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
            f"is over {max_duration_s:.0f} s long (the maximum); trim it first",
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


def write_audio(path: str | os.PathLike[str], audio: Audio, *, source: str = "") -> Path:
    """Write atomically: a temporary file in the same folder, then rename, so no partial file is ever visible.

    Non-finite samples are refused (``source`` names what produced the audio in that message); a failed write
    (disk full, read-only folder) becomes an InputError naming the path, the free space and the fix."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in WRITE_FORMATS:
        raise InputError("output format", fmt, f"choose one of {', '.join(WRITE_FORMATS)}")
    finite = np.isfinite(audio.samples)
    if not finite.all():  # soundfile would write NaN without a word; no file is better than a broken one
        bad = int(finite.size - np.count_nonzero(finite))
        raise NonFiniteError(
            f"refusing to write {p}: {bad} of {finite.size} samples are NaN or infinite ({source or 'the audio'})"
        )
    # float wav keeps the engine's samples bit-exact; flac is 24-bit; mp3 goes through soundfile's LAME.
    subtype = {"wav": "FLOAT", "flac": "PCM_24", "mp3": None}[fmt]
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=f".{fmt}", dir=p.parent)
    except OSError as exc:
        raise InputError("output", str(p), os_error_fix(exc, p.parent)) from None
    os.close(fd)
    try:
        data = audio.samples.T
        if fmt != "wav":
            data = np.clip(data, -1.0, 1.0)
        sf.write(tmp, data, audio.sample_rate, subtype=subtype, format=fmt.upper())
        if fmt == "wav":
            _zero_peak_timestamp(tmp)
        os.replace(tmp, p)
    except (OSError, sf.LibsndfileError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError("output", str(p), os_error_fix(exc, p.parent)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
