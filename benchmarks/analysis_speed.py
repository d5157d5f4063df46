"""Per-track analysis speed and accuracy: evals.analyze_audio against a plain reference and essentia, one process.

    python benchmarks/analysis_speed.py                 # 3-minute 48 kHz stereo synthesised track, 3 rounds
    python benchmarks/analysis_speed.py --rounds 5 --corpus /work/shared/data/corpus

Everything runs single-threaded (BLAS/OpenMP/numba threads set to 1 before numpy is imported). Each contender
is warmed up once on 10 s of audio (imports, numba JIT, filter design), then rounds alternate
(ours, reference, essentia, ours, ...) so contention hits all alike. Speed is reported as x real time from the
median wall time and from the median CPU time of this process (CPU time is the steadier figure on a shared
machine). The plain reference is what one would write with the usual libraries: pyloudnorm integrated loudness,
LRA and 3 s short-term blocks, scipy resample_poly 4x true peak, librosa defaults at 22.05 kHz for spectral
features, beat tracking, CQT chroma + Krumhansl-Schmuckler and onsets. essentia (AGPL, benchmark only) runs its
whole-signal algorithms: LoudnessEBUR128, TruePeakDetector, RhythmExtractor2013, KeyExtractor, plus a frame
loop for the spectral statistics.

With a labelled corpus (labels.json with bpm, key, mode per file) tempo and key accuracy of all three are
reported: tempo within 4 % (Acc1) and within 4 % allowing x2, x1/2, x3, x1/3 (Acc2); key exact (tonic + mode).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402

from evals import analyze_audio  # noqa: E402
from evals.audio.tonal import key_from_chroma  # noqa: E402
from workbench.core.audio_io import Audio, read_audio  # noqa: E402
from workbench.core.keyscale import pitch_class  # noqa: E402

RATE = 48_000
Result = dict[str, float | str | None]


def synth_track(duration_s: float = 180.0, bpm: float = 104.0, seed: int = 0) -> Audio:
    """A dense pop-like mix: kick/snare/hats, bass, G-major chord pads, panned and bus-compressed to ~-12 LUFS."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * RATE)
    t = np.arange(n) / RATE
    beat = 60.0 / bpm
    left = np.zeros(n)
    right = np.zeros(n)

    def place(sound: np.ndarray, at_s: float, gain_l: float, gain_r: float) -> None:
        start = int(at_s * RATE)
        stop = min(n, start + sound.size)
        left[start:stop] += gain_l * sound[: stop - start]
        right[start:stop] += gain_r * sound[: stop - start]

    kt = np.arange(int(0.25 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kt / 0.03)) * kt) * np.exp(-kt / 0.12)
    snare = rng.standard_normal(int(0.2 * RATE)) * np.exp(-np.arange(int(0.2 * RATE)) / RATE / 0.05)
    hat = np.diff(rng.standard_normal(int(0.05 * RATE) + 1)) * np.exp(
        -np.arange(int(0.05 * RATE)) / RATE / 0.01
    )
    for index, at in enumerate(np.arange(0.0, duration_s - 1.0, beat)):
        place(kick, at, 0.9, 0.9)
        if index % 2 == 1:
            place(snare, at, 0.35, 0.3)
        place(hat, at + beat / 2, 0.12, 0.2)
        place(hat, at, 0.08, 0.12)

    progression = [(55, 59, 62), (60, 64, 67), (62, 66, 69), (55, 59, 62)]  # G C D G
    bar = 4 * beat
    for index, at in enumerate(np.arange(0.0, duration_s - bar, bar)):
        chord = progression[index % len(progression)]
        ct = np.arange(int(bar * RATE)) / RATE
        pad = sum(
            np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * ct * (1 + 0.002 * k)) for k, m in enumerate(chord)
        )
        pad = pad * np.minimum(1, ct / 0.3) * np.minimum(1, (bar - ct) / 0.3)
        place(0.12 * pad, at, 0.8, 1.0)
        bass_freq = 440 * 2 ** ((chord[0] - 12 - 69) / 12)
        bass = np.tanh(3 * np.sin(2 * np.pi * bass_freq * ct)) * np.exp(-(ct % beat) / 0.4)
        place(0.25 * bass, at, 1.0, 1.0)
    air = 0.01 * rng.standard_normal((2, n))  # room tone, decorrelated between channels
    mix = np.stack([left, right]) + air + 0.02 * np.sin(2 * np.pi * 0.05 * t)
    mix = np.tanh(1.8 * mix) / np.tanh(1.8) * 0.7  # bus saturation: a dense, modern-ish crest factor
    return Audio(mix.astype(np.float32), RATE)


def reference_analysis(audio: Audio) -> Result:
    """The plain way: pyloudnorm, scipy resample_poly, librosa defaults."""
    import librosa
    import pyloudnorm

    x = audio.samples.astype(np.float64)
    meter = pyloudnorm.Meter(audio.sample_rate)
    integrated = meter.integrated_loudness(x.T)
    lra = meter.loudness_range(x.T)
    short = pyloudnorm.Meter(audio.sample_rate, block_size=3.0, overlap=1 - 0.1 / 3.0)
    short.integrated_loudness(x.T)
    max_short = max(short.blockwise_loudness)
    tp = 20 * np.log10(np.abs(scipy.signal.resample_poly(x, 4, 1, axis=-1)).max())
    rms = np.sqrt((x**2).mean())
    peak = np.abs(x).max()
    dc = x.mean(axis=1)
    clipped = int((np.abs(x) >= 0.999).sum())
    correlation = np.corrcoef(x[0], x[1])[0, 1]
    mono = x.mean(axis=0)
    frame_rms = librosa.feature.rms(y=mono, frame_length=480, hop_length=480)[0]
    silence = float((frame_rms < 1e-3).mean())
    y = librosa.resample(mono, orig_sr=audio.sample_rate, target_sr=22050)
    sr = 22050
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr).mean()
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr).mean()
    flatness = librosa.feature.spectral_flatness(y=y).mean()
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr).mean()
    power = np.abs(librosa.stft(y)) ** 2
    freqs = librosa.fft_frequencies(sr=sr)
    harsh = power[(freqs >= 2000) & (freqs < 6000)].sum() / power.sum()
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr)
    intervals = np.diff(librosa.frames_to_time(beats, sr=sr))
    regularity = 1 - intervals.std() / intervals.mean() if intervals.size > 1 else 0.0
    key = key_from_chroma(librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1))
    onsets = librosa.onset.onset_detect(y=y, sr=sr)
    return {
        "integrated_lufs": float(integrated),
        "lra_lu": float(lra),
        "max_short_term_lufs": float(max_short),
        "true_peak_dbtp": float(tp),
        "tempo_bpm": float(np.atleast_1d(tempo)[0]),
        "key": f"{key.key} {key.mode}",
        "onsets_per_s": len(onsets) / audio.duration_s,
        "rms_dbfs": float(20 * np.log10(rms)),
        "crest_factor_db": float(20 * np.log10(peak / rms)),
        "dc_offset": float(dc[np.argmax(np.abs(dc))]),
        "clipped_samples": clipped,
        "stereo_correlation": float(correlation),
        "silence_ratio": silence,
        "spectral_centroid_hz": float(centroid),
        "spectral_rolloff_hz": float(rolloff),
        "spectral_flatness": float(flatness),
        "spectral_bandwidth_hz": float(bandwidth),
        "harshness_ratio": float(harsh),
        "beat_regularity": float(regularity),
    }


def essentia_analysis(audio: Audio) -> Result:
    import essentia.standard as es

    rate = float(audio.sample_rate)
    stereo = np.ascontiguousarray(audio.samples.T, dtype=np.float32)
    _, short, integrated, lra = es.LoudnessEBUR128(sampleRate=rate)(stereo)
    peaks = [es.TruePeakDetector(sampleRate=rate)(np.ascontiguousarray(ch))[1] for ch in audio.samples]
    tp = 20 * np.log10(max(float(np.max(p)) for p in peaks))
    mono = np.ascontiguousarray(audio.samples.mean(axis=0), dtype=np.float32)
    mono44 = es.Resample(inputSampleRate=rate, outputSampleRate=44100)(mono)
    tempo = es.RhythmExtractor2013()(mono44)[0]
    key, scale, strength = es.KeyExtractor()(mono44)[:3]
    window, spectrum = es.Windowing(type="hann"), es.Spectrum()
    centroid, rolloff, flatness = es.Centroid(range=rate / 2), es.RollOff(sampleRate=rate), es.Flatness()
    stats = []
    for frame in es.FrameGenerator(mono, frameSize=2048, hopSize=2048):
        s = spectrum(window(frame))
        stats.append((centroid(s), rolloff(s), flatness(s + 1e-10)))
    onsets = es.OnsetRate()(mono44)[1]
    return {
        "integrated_lufs": float(integrated),
        "lra_lu": float(lra),
        "max_short_term_lufs": float(np.max(short)),
        "true_peak_dbtp": float(tp),
        "tempo_bpm": float(tempo),
        "key": f"{key} {scale}",
        "onsets_per_s": float(onsets),
    }


def ours_analysis(audio: Audio) -> Result:
    a = analyze_audio(audio)
    return {
        "integrated_lufs": a.integrated_loudness_lufs,
        "lra_lu": a.loudness_range_lu,
        "max_short_term_lufs": a.max_short_term_lufs,
        "true_peak_dbtp": a.true_peak_dbtp,
        "tempo_bpm": a.tempo_bpm,
        "key": a.keyscale,
        "onsets_per_s": a.onset_density_per_s,
    }


def _essentia_available() -> bool:
    try:
        import essentia.standard  # noqa: F401
    except ImportError:
        return False
    return True


def time_contenders(contenders: dict[str, Callable[[Audio], Result]], audio: Audio, rounds: int) -> dict:
    warm = Audio(audio.samples[:, : 10 * RATE], RATE)
    for fn in contenders.values():
        fn(warm)
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, Result] = {}
    for _ in range(rounds):
        for name, fn in contenders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            results[name] = fn(audio)
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {
        name: {
            "wall_s": statistics.median(walls[name]),
            "cpu_s": statistics.median(cpus[name]),
            "x_realtime_wall": audio.duration_s / statistics.median(walls[name]),
            "x_realtime_cpu": audio.duration_s / statistics.median(cpus[name]),
            "result": results[name],
        }
        for name in contenders
    }


def _tempo_hits(measured: float | None, truth: float) -> tuple[bool, bool]:
    if measured is None:
        return False, False
    acc1 = abs(measured - truth) <= 0.04 * truth
    acc2 = any(abs(measured * f - truth) <= 0.04 * truth for f in (1, 2, 0.5, 3, 1 / 3))
    return acc1, acc2


def _key_hit(measured: str | None, tonic: str, mode: str) -> bool:
    if not measured or " " not in measured:
        return False
    got_tonic, got_mode = measured.split(" ", 1)
    return pitch_class(got_tonic) == pitch_class(tonic) and got_mode == mode


def corpus_accuracy(contenders: dict[str, Callable[[Audio], Result]], corpus: Path) -> dict:
    labels = json.loads((corpus / "labels.json").read_text())
    scores: dict[str, dict[str, int]] = {name: {"acc1": 0, "acc2": 0, "key": 0} for name in contenders}
    rows = []
    for label in labels:
        audio = read_audio(corpus / label["file"])
        row = {"id": label["id"], "bpm": label["bpm"], "key": f"{label['key']} {label['mode']}"}
        for name, fn in contenders.items():
            result = fn(audio)
            acc1, acc2 = _tempo_hits(result["tempo_bpm"], float(label["bpm"]))  # type: ignore[arg-type]
            key_ok = _key_hit(result["key"], label["key"], label["mode"])  # type: ignore[arg-type]
            scores[name]["acc1"] += acc1
            scores[name]["acc2"] += acc2
            scores[name]["key"] += key_ok
            tempo = result["tempo_bpm"]
            row[name] = (
                f"{tempo:.1f} / {result['key']}" if isinstance(tempo, float) else f"- / {result['key']}"
            )
        rows.append(row)
    return {"n": len(labels), "scores": scores, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/data/corpus"))
    parser.add_argument("--json", type=Path, help="write all numbers here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    contenders: dict[str, Callable[[Audio], Result]] = {
        "ours": ours_analysis,
        "reference": reference_analysis,
    }
    if _essentia_available():
        contenders["essentia"] = essentia_analysis
    else:
        print("essentia is not installed (pip install essentia); its column is skipped")
    audio = synth_track(args.seconds)
    timing = time_contenders(contenders, audio, args.rounds)
    print(f"{args.seconds:.0f} s 48 kHz stereo synthesised track, {args.rounds} rounds, single thread")
    print(
        f"{'':<10} {'wall s':>7} {'cpu s':>7} {'x RT wall':>9} {'x RT cpu':>9}   LUFS    dBTP   LRA  BPM    key"
    )
    for name, t in timing.items():
        r = t["result"]
        print(
            f"{name:<10} {t['wall_s']:>7.2f} {t['cpu_s']:>7.2f} {t['x_realtime_wall']:>9.0f} {t['x_realtime_cpu']:>9.0f}"
            f"  {r['integrated_lufs']:6.2f} {r['true_peak_dbtp']:6.2f} {r['lra_lu'] or 0:5.2f} "
            f"{r['tempo_bpm'] or 0:5.1f}  {r['key']}"
        )
    for name in timing:
        if name != "ours":
            ratio = timing[name]["cpu_s"] / timing["ours"]["cpu_s"]
            wall_ratio = timing[name]["wall_s"] / timing["ours"]["wall_s"]
            print(f"ours is {ratio:.1f}x faster than {name} (CPU time; wall {wall_ratio:.1f}x)")
    report: dict = {"timing": timing}
    if (args.corpus / "labels.json").exists():
        accuracy = corpus_accuracy(contenders, args.corpus)
        report["corpus"] = accuracy
        print(f"\nlabelled corpus: {accuracy['n']} clips ({args.corpus})")
        for name, s in accuracy["scores"].items():
            n = accuracy["n"]
            print(f"  {name:<10} tempo Acc1 {s['acc1']}/{n}  Acc2 {s['acc2']}/{n}  key exact {s['key']}/{n}")
        for row in accuracy["rows"]:
            print("   ", "  ".join(f"{k}={v}" for k, v in row.items()))
    else:
        print(f"\nno labelled corpus at {args.corpus}; accuracy skipped")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
