"""``workbench master RUN_ID``: master a recorded run, as the Mastering tab does (file, sidecar and store row)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workbench.audio.mastering import CEILING_MODES

if TYPE_CHECKING:
    from workbench.audio.mastering import MasteringSpec

_OFF = "none"  # --target-lufs none: keep the level; --true-peak none: no ceiling
DEFAULT_TARGET_LUFS = -18.0  # the Mastering tab's defaults
DEFAULT_TRUE_PEAK_DBTP = -1.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "master",
        help="master a recorded run (loudness, true-peak ceiling, fades)",
        description=(
            "Master a recorded run: writes <take>_mastered.<fmt> next to it and appends the pass to its sidecar "
            "and its store row, so History and the result card show the same recipe."
        ),
    )
    p.add_argument("run_id", help="the run id (History, or the sidecar's run_id)")
    p.add_argument("--genre", default=None, help="loudness and ceiling of a genre in configs/genres.yaml")
    p.add_argument(
        "--target-lufs",
        default=None,
        help=f"loudness target (default {DEFAULT_TARGET_LUFS:g}; '{_OFF}' = keep)",
    )
    p.add_argument(
        "--true-peak",
        default=None,
        help=f"ceiling, dBTP (default {DEFAULT_TRUE_PEAK_DBTP:g}; '{_OFF}' = none)",
    )
    p.add_argument("--fade-in", type=float, default=0.0, help="seconds")
    p.add_argument("--fade-out", type=float, default=0.0, help="seconds")
    p.add_argument("--ceiling-mode", default="limit", choices=CEILING_MODES)
    p.add_argument("--format", default="wav", choices=("wav", "flac", "mp3"))
    p.set_defaults(func=run_master)


def _level(name: str, given: str | None, default: float | None) -> float | None:
    from workbench.core.errors import InputError

    if given is None:
        return default
    if given.strip().lower() == _OFF:
        return None
    try:
        return float(given)
    except ValueError:
        raise InputError(name, given, f"give a number in dB, or '{_OFF}'") from None


def spec_from_args(args: argparse.Namespace) -> MasteringSpec:
    """The tab's defaults, then the genre's targets, then the flags."""
    from workbench.audio.mastering import MasteringSpec
    from workbench.core.errors import InputError
    from workbench.core.genres import load_genres

    target: float | None = DEFAULT_TARGET_LUFS
    ceiling: float | None = DEFAULT_TRUE_PEAK_DBTP
    if args.genre:
        genres = load_genres()
        preset = genres.get(args.genre)
        if preset is None:
            raise InputError("genre", args.genre, f"choose one of {', '.join(sorted(genres))}")
        target, ceiling = preset.loudness_lufs, preset.true_peak_dbtp
    return MasteringSpec(
        target_lufs=_level("target_lufs", args.target_lufs, target),
        true_peak_dbtp=_level("true_peak", args.true_peak, ceiling),
        fade_in_s=args.fade_in,
        fade_out_s=args.fade_out,
        ceiling_mode=args.ceiling_mode,
    )


def run_master(args: argparse.Namespace) -> int:
    from workbench.core.store import Store
    from workbench.services import Workbench

    spec = spec_from_args(args)
    bench = Workbench(None, Store())  # mastering needs no model
    mastered = bench.master_run(args.run_id, spec, args.format)
    for note in mastered.result.notes:
        print(f"note: {note}")
    print(f"{mastered.path}  {mastered.result.summary()}")
    return 0
