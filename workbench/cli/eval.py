"""``workbench eval analyze|fad|report``: per-track analysis, set distances and campaign decision reports.

The ``report`` subcommand lives in workbench/cli/eval_report.py and is attached here when that module is present.
Heavy imports (scipy, librosa, transformers) happen inside the handlers so ``workbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="analyze tracks, compare sets (FAD), build campaign reports",
        description="Objective metrics and decision reports.",
    )
    esub = p.add_subparsers(dest="eval_command", metavar="ACTION", required=True)

    ap = esub.add_parser(
        "analyze",
        help="loudness, true peak, defects, stereo, spectrum, tempo and key of audio files",
        description=(
            "Analyze audio files (or folders of them) and print one row per track. With --genre, each track is "
            "checked against that genre's delivery spec in configs/genres.yaml; with --bpm/--key/--duration, "
            "against the recipe it was generated from."
        ),
    )
    ap.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    ap.add_argument("--json", metavar="OUT", type=Path, help="also write every number to this JSON file")
    ap.add_argument("--genre", metavar="G", help="check delivery against this genre (e.g. hotel_lobby, spa)")
    ap.add_argument(
        "--bpm", type=float, help="recipe tempo to check adherence against (octave errors allowed)"
    )
    ap.add_argument("--key", metavar="KEYSCALE", help="recipe key to check, e.g. 'F major'")
    ap.add_argument("--duration", type=float, metavar="SECONDS", help="recipe duration to check")
    ap.add_argument(
        "--check", action="store_true", help="exit with status 1 when any track fails delivery or its recipe"
    )
    ap.set_defaults(func=run_analyze)

    fp = esub.add_parser(
        "fad",
        help="Fréchet audio distance between two sets of audio files",
        description=(
            "Fréchet distance between the embedding distributions of SET_A and the reference SET_B (folders of "
            "audio). Sets are compared at equal n; the reference's split-half distance is printed as the noise "
            "floor. The logmel backend needs no weights; clap needs a local transformers CLAP checkpoint."
        ),
    )
    fp.add_argument("set_a", metavar="SET_A", help="folder of candidate audio")
    fp.add_argument("set_b", metavar="SET_B", help="folder of reference audio")
    fp.add_argument(
        "--backend", default="logmel", metavar="NAME", help="embedding backend: logmel (default), clap"
    )
    fp.add_argument(
        "--model", metavar="PATH_OR_ID", help="clap only: local checkpoint folder or cached hub id"
    )
    fp.add_argument(
        "--equal-n",
        choices=("subsample", "refuse"),
        default="subsample",
        help="unequal sets: subsample both to the smaller n (default) or refuse",
    )
    fp.add_argument("--seed", type=int, default=0, help="seed for subsampling and the split-half floor")
    fp.add_argument("--json", metavar="OUT", type=Path, help="also write the result to this JSON file")
    fp.set_defaults(func=run_fad)

    try:
        from workbench.cli.eval_report import add_report_parser
    except ImportError:  # the report half of evals is optional for this command group
        return
    add_report_parser(esub)


def _fmt(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def run_analyze(args: argparse.Namespace) -> int:
    from evals import Recipe
    from evals.api import analyze_tracks, file_inputs

    recipe = None
    if args.bpm is not None or args.key is not None or args.duration is not None:
        recipe = Recipe(bpm=args.bpm, keyscale=args.key, duration_s=args.duration)
    genres = [args.genre] if args.genre else []
    tracks = analyze_tracks(file_inputs(args.paths), genres, recipe=recipe)
    results = [t.for_genre(args.genre) if args.genre else t.analysis for t in tracks]
    header = (
        f"{'file':<32} {'dur s':>6} {'LUFS':>6} {'dBTP':>6} {'LRA':>5} {'crest':>5} {'BPM':>6} {'key':<9} "
        f"{'silence':>7} {'clips':>5}  verdict"
    )
    print(header)
    print("-" * len(header))
    failures = []
    for r in results:
        name = Path(r.path or "").name
        name = name if len(name) <= 32 else name[:29] + "..."
        verdicts = []
        if r.delivery is not None:
            verdicts.append("PASS" if r.delivery.passed else "FAIL")
            failures += [(name, reason) for reason in r.delivery.reasons]
        if r.adherence is not None:
            verdicts.append("recipe ok" if r.adherence.passed else "recipe FAIL")
            failures += [(name, reason) for reason in r.adherence.reasons]
        print(
            f"{name:<32} {r.duration_s:>6.1f} {_fmt(r.integrated_loudness_lufs, '6.1f')} "
            f"{_fmt(r.true_peak_dbtp, '6.1f')} {_fmt(r.loudness_range_lu, '5.1f')} {r.crest_factor_db:>5.1f} "
            f"{_fmt(r.tempo_bpm, '6.1f')} {r.keyscale or '-':<9} {r.silence_ratio:>7.0%} {r.clipped_samples:>5}  "
            f"{' / '.join(verdicts) or '-'}"
        )
    for name, reason in failures:
        print(f"  {name}: {reason}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.to_dict() for r in results], indent=2))
        print(f"wrote {args.json}")
    return 1 if args.check and failures else 0


def run_fad(args: argparse.Namespace) -> int:
    import dataclasses

    from evals.api import compare_sets

    options: dict[str, object] = {}
    if args.model is not None:
        if args.backend != "clap":
            raise InputError("--model", args.model, "only the clap backend takes a model; drop --model")
        options["model"] = args.model
    result = compare_sets(
        args.set_a, args.set_b, args.backend, equal_n=args.equal_n, seed=args.seed, **options
    )
    sampled = ""
    if result.subsampled_from:
        sampled = f" (subsampled from {result.subsampled_from[0]} and {result.subsampled_from[1]})"
    print(f"FAD ({result.backend}) = {result.fad:.4f} at n = {result.n_clips} clips per set{sampled}")
    print(f"  frames: {result.n_frames_a} (A), {result.n_frames_b} (B)")
    floor = "-" if result.noise_floor is None else f"{result.noise_floor:.4f}"
    print(f"  noise floor (B split in half, mean of 5 splits): {floor}")
    print(f"  diversity (mean pairwise distance): A {result.diversity_a:.4f}, B {result.diversity_b:.4f}")
    if result.permutation_p is not None:
        from evals.sets.fad import fad_verdict

        print("  " + fad_verdict(result).replace("**", ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dataclasses.asdict(result), indent=2))
        print(f"wrote {args.json}")
    return 0
