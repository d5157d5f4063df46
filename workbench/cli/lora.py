"""``workbench lora prepare|train|eval|list``: per-genre LoRA training headless.

Multi-GPU / multi-node: ``accelerate launch -m workbench.cli.main lora train CONFIG ...`` runs the same code on
every process; only the main process writes checkpoints, previews and logs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "lora",
        help="build LoRA datasets, train, evaluate and list adapters",
        description="Per-genre LoRA training for ACE-Step 1.5 (see docs/lora.md).",
    )
    lsub = p.add_subparsers(dest="lora_command", metavar="ACTION", required=True)

    pp = lsub.add_parser(
        "prepare",
        help="build a dataset from a folder or a CSV/JSON manifest, with a report",
        description="Scan a folder of audio (with optional .txt lyrics / .json metadata sidecars) "
        "or read a CSV/JSON manifest, validate every file, estimate missing bpm/key, "
        "split train/validation and save a Hugging Face dataset with a report.",
    )
    pp.add_argument("source", help="folder of audio files, or a .csv/.json manifest")
    pp.add_argument("--out", required=True, help="dataset folder to write")
    pp.add_argument("--trigger", default="", help="trigger tag added to every caption")
    pp.add_argument("--trigger-mode", default="prepend", choices=("prepend", "append", "replace"))
    pp.add_argument("--val-fraction", type=float, default=0.1, help="share of clips held out for validation")
    pp.add_argument("--seed", type=int, default=42, help="seed of the train/validation split")
    pp.add_argument(
        "--max-duration", type=float, default=600.0, help="reject files longer than this (seconds)"
    )
    pp.add_argument("--no-estimate", action="store_true", help="do not estimate missing bpm/key")
    pp.add_argument(
        "--auto-label",
        action="store_true",
        help="fill empty captions, bpm, key and time signatures with the 5 Hz LM's Understand "
        "(marked as estimated; the user's values are kept)",
    )
    pp.add_argument("--lm", help="the LM that auto-labels (default lm-1.7B; see `workbench models list`)")
    pp.add_argument(
        "--label-model",
        help="the model whose audio tokenizer feeds the LM when auto-labelling (default: --model, else turbo)",
    )
    pp.add_argument("--model", help="also encode the dataset now (VAE latents + conditions) with this model")
    pp.add_argument("--cache-dir", help="where encoded items go (default DATASET/cache)")
    pp.add_argument("--json", action="store_true", help="print the report as JSON")
    pp.set_defaults(func=run_prepare)

    tp = lsub.add_parser(
        "train",
        help="train a LoRA from a YAML config",
        description="Train a LoRA. CONFIG is a YAML file or a name in configs/lora/ "
        "(hotel_lobby, spa, retail, tiny).",
    )
    tp.add_argument("config", help="YAML config path or name in configs/lora/")
    tp.add_argument("--data", help="dataset folder from `workbench lora prepare`")
    tp.add_argument("--max-steps", type=int, help="optimizer steps (overrides epochs)")
    tp.add_argument("--out", help="run folder (default WORKBENCH_HOME/runs/lora/NAME)")
    tp.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    tp.add_argument("--tracking", choices=("auto", "online", "offline", "off"), help="W&B mode")
    tp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set learning_rate=1e-4 (repeatable)",
    )
    tp.set_defaults(func=run_train)

    ep = lsub.add_parser(
        "eval",
        help="checkpoint table and a LoRA-scale sweep of one adapter",
        description="Print each checkpoint's metrics and render fixed prompts/seeds at several "
        "LoRA scales (0 = base model) for the chosen adapter.",
    )
    ep.add_argument("run", help="run folder (see `workbench lora list`)")
    ep.add_argument("--checkpoint", default="best", help="best, final, step-000200 or 200")
    ep.add_argument("--scales", default="0,0.5,1,1.5", help="comma-separated LoRA scales")
    ep.add_argument("--prompt", action="append", help="prompt to render (repeatable; default: the run's)")
    ep.add_argument("--seeds", help="comma-separated seeds (default: the run's)")
    ep.add_argument("--duration", type=float, help="seconds per render (default: the run's preview length)")
    ep.add_argument("--table-only", action="store_true", help="only print the checkpoint table")
    ep.add_argument("--device", help="cuda, cuda:1, mps or cpu")
    ep.set_defaults(func=run_eval)

    lp = lsub.add_parser("list", help="trained adapters (best and final per run)")
    lp.add_argument("--root", help="runs folder (default WORKBENCH_HOME/runs/lora)")
    lp.add_argument("--checkpoints", action="store_true", help="also list every checkpoint")
    lp.add_argument("--json", action="store_true", help="print JSON")
    lp.set_defaults(func=run_list)


def _numbers(text: str, field: str, kind: type) -> list[Any]:
    from workbench.core.errors import InputError

    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(field, text, f"give comma-separated {kind.__name__}s, e.g. 0,0.5,1") from None


def _bar(done: int, total: int, message: str) -> None:
    print(f"  [{done}/{total}] {message}", file=sys.stderr)


def run_prepare(args: argparse.Namespace) -> int:
    from lora.dataset import DatasetOptions, build_dataset

    opts = DatasetOptions(
        trigger_tag=args.trigger,
        trigger_mode=args.trigger_mode,
        val_fraction=args.val_fraction,
        seed=args.seed,
        max_duration_s=args.max_duration,
        estimate=not args.no_estimate,
    )
    report = build_dataset(args.source, args.out, opts, progress=_bar, label=_labeller(args))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    print(f"saved to {args.out}", file=sys.stderr)
    if args.model:
        from pathlib import Path

        from lora.model import load_training_pipeline
        from lora.preprocess import preprocess
        from workbench.engine.models import pick_device, pick_dtype

        device = pick_device()
        pipe, info = load_training_pipeline(args.model, device=device, dtype=pick_dtype(device))
        cache = Path(args.cache_dir) if args.cache_dir else Path(args.out) / "cache"
        result = preprocess(report.records, pipe, info.revision, cache, progress=_bar)
        print(
            f"encoded {result.encoded}, already cached {result.skipped}, failed {len(result.issues)} -> {cache}"
        )
        for issue in result.issues:
            print(f"  ERROR {issue.source}: {issue.reason}")
        if report.records and not result.entries:
            # nothing to train on: a script chaining `prepare && train` must stop here, not at train
            print(
                f"no clip could be encoded for {args.model}; fix the errors above and run prepare again",
                file=sys.stderr,
            )
            return 2
    return 0 if report.records else 2


def _labeller(args: argparse.Namespace) -> Any:
    if not args.auto_label:
        if args.lm or args.label_model:
            from workbench.core.errors import InputError

            raise InputError(
                "--lm", args.lm or args.label_model, "these choose the auto-label; add --auto-label"
            )
        return None
    from workbench.engine.engine import Engine
    from workbench.engine.models import pick_device
    from workbench.services import Workbench

    engine = Engine(args.label_model or args.model or "turbo", device=pick_device())
    return Workbench(engine, None).dataset_labeller(args.lm)


def run_train(args: argparse.Namespace) -> int:
    from lora.config import load_config, parse_override
    from lora.trainer import TrainProgress, train

    overrides: dict[str, Any] = dict(parse_override(s) for s in args.set)
    for key, value in (
        ("data", args.data),
        ("max_steps", args.max_steps),
        ("out", args.out),
        ("tracking", args.tracking),
    ):
        if value is not None:
            overrides[key] = value
    cfg = load_config(args.config, overrides)

    def show(p: TrainProgress) -> None:
        if p.phase == "train":
            if p.step == 1 or p.step % 10 == 0 or p.step == p.total_steps:
                print(f"step {p.step}/{p.total_steps} loss {p.loss:.4f} lr {p.lr:.2e}", flush=True)
        else:
            print(f"[{p.phase}] {p.step}/{p.total_steps} {p.message}", flush=True)

    result = train(cfg, progress=show, resume=args.resume)
    if not result.main_process:  # under `accelerate launch` only rank 0 reports
        return 0
    if result.stopped:
        print(f"stopped at step {result.steps}; resume with --resume --out {result.run_dir}")
        return 0
    print(f"done: {result.steps} steps in {result.run_dir}")
    if result.best_dir is not None:
        print(f"best checkpoint: step {result.best_step} -> {result.best_dir}")
    print(f"final adapter -> {result.final_dir}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lora.sweep import checkpoint_table, scale_sweep

    run = Path(args.run).expanduser()
    rows = checkpoint_table(run)
    if not rows:
        from workbench.core.errors import InputError

        raise InputError("run", args.run, "has no checkpoints; see `workbench lora list`")
    print(f"{'step':>8} {'val_loss':>10} {'train_loss':>10} {'lr':>10}")
    for r in rows:
        val = f"{r['val_loss']:.5f}" if isinstance(r.get("val_loss"), float) else "-"
        tr = f"{r['train_loss']:.5f}" if isinstance(r.get("train_loss"), float) else "-"
        print(f"{r['step']:>8} {val:>10} {tr:>10} {r.get('lr', 0):>10.2e}")
    if args.table_only:
        return 0
    result = scale_sweep(
        run,
        args.checkpoint,
        scales=_numbers(args.scales, "--scales", float),
        prompts=args.prompt,
        seeds=_numbers(args.seeds, "--seeds", int) if args.seeds else None,
        duration_s=args.duration,
        device=args.device,
    )
    print(f"scale sweep of {result.adapter_dir}:")
    for p in result.previews:
        print(f"  scale {p.scale:g} seed {p.seed} '{p.prompt[:40]}' -> {p.path}")
    if result.feature_gaps:
        print("feature gap to the training clips (tempo, centroid, onsets, loudness; lower = closer):")
        for scale, gap in result.feature_gaps.items():
            print(f"  scale {scale:g}: {gap:.3f}" if gap is not None else f"  scale {scale:g}: -")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from lora.checkpoints import list_adapters

    adapters = list_adapters(args.root, include_checkpoints=args.checkpoints)
    if args.json:
        print(json.dumps([a.to_dict() for a in adapters], indent=2))
        return 0
    if not adapters:
        print("no adapters yet; train one with `workbench lora train CONFIG --data DIR`")
        return 0
    print(f"{'run':<20} {'kind':<10} {'step':>7} {'val_loss':>10}  path")
    notes: list[str] = []
    for a in adapters:
        val = f"{a.val_loss:.5f}" if isinstance(a.val_loss, (int, float)) else "-"
        print(f"{a.run:<20} {a.kind:<10} {a.step if a.step is not None else '-':>7} {val:>10}  {a.path}")
        if a.note and a.note not in notes:
            notes.append(a.note)
    for note in notes:
        print(f"note: {note}")
    return 0
