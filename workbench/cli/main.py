"""The one ``workbench`` console script. Each subcommand lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from workbench.core.errors import WorkbenchError
from workbench.core.fs_errors import describe_failure

# Each module defines register(subparsers) and sets a `func(args) -> int` default on its parser(s).
SUBCOMMAND_MODULES = [
    "workbench.cli.generate",
    "workbench.cli.models",
    "workbench.cli.master",
    "workbench.cli.env",
    "workbench.cli.app",
    "workbench.cli.lora",
    "workbench.cli.campaign",
    "workbench.cli.batch",
    "workbench.cli.eval",
    "workbench.cli.serve",
    "workbench.cli.lm",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="ACE Workbench: generate, edit, train and evaluate ACE-Step 1.5 music headless.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and library logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _quiet_libraries() -> None:
    # Progress bars and deprecation chatter from diffusers/transformers drown the CLI's own output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    logging.getLogger("wandb").setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if not args.debug:
        _quiet_libraries()
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        known = describe_failure(exc)
        if known is not None:
            print(f"error: {known}", file=sys.stderr)
            return 2
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
