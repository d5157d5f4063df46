"""``workbench env``: versions, device and paths, for bug reports and for checking a setup."""

from __future__ import annotations

import argparse
import os
import shutil
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "env", help="show versions, device and cache paths", description="Show the environment."
    )
    p.set_defaults(func=run_env)


def run_env(args: argparse.Namespace) -> int:
    import torch

    from workbench.core import paths
    from workbench.core.tracking import resolve_mode
    from workbench.engine.models import pick_device, pick_dtype
    from workbench.records import git_sha, package_versions

    device = pick_device()
    print("versions:")
    for name, version in package_versions().items():
        print(f"  {name:<14} {version}")
    print(f"  {'git':<14} {git_sha()}")
    print("device:")
    print(f"  default        {device} ({pick_dtype(device)})")
    print(f"  torch cuda     {torch.version.cuda or 'none'}; available={torch.cuda.is_available()}")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            print(f"  cuda:{i}         {torch.cuda.get_device_name(i)}")
    print("paths:")
    print(f"  workbench home {paths.home()}  (WORKBENCH_HOME)")
    print(f"  store          {paths.store_path()}")
    print(f"  runs           {paths.runs_dir()}")
    print(f"  local models   {paths.models_dir()}")
    hf = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", "~/.cache/huggingface"), "hub"
    )
    print(f"  HF cache       {os.path.expanduser(hf)}")
    print(f"  ffmpeg         {shutil.which('ffmpeg') or 'not found (needed only for m4a/aac input)'}")
    print(f"tracking:        {resolve_mode()} (WORKBENCH_TRACKING / WANDB_MODE)")
    return 0
