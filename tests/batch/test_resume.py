"""The batch CLI as users run it: killed with SIGKILL mid-run and re-run, and split over two accelerate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from workbench.batch import manifest as mf
from workbench.core.audio_io import read_audio

CLI = [sys.executable, "-m", "workbench.cli.main"]


def make_plan(tmp_path: Path, items: int) -> Path:
    half = items // 2
    path = tmp_path / "plan.yaml"
    path.write_text(
        "name: resume\nmodel: tiny\ndefaults: {duration_s: 1, steps: 1}\nrun: {max_group: 4}\nqc: {analyzer: basic}\n"
        f"entries:\n  - {{genre: spa, seeds: 0-{half - 1}}}\n  - {{prompt: soft piano, seeds: 0-{items - half - 1}}}\n"
    )
    return path


def committed(out: Path) -> int:
    return len(mf.read_records(out)) if (out / mf.MANIFEST_DIR).is_dir() else 0


def check_exactly_once(out: Path, items: int) -> None:
    records = mf.read_records(out)
    assert Counter(r["job_id"] for r in records).most_common(1)[0][1] == 1, "an item was committed twice"
    assert len(records) == items and {r["status"] for r in records} == {"ok"}
    frame = pd.read_csv(out / "manifest.csv")
    assert len(frame) == items and frame["job_id"].is_unique
    files = sorted(p.name for p in (out / "tracks").iterdir())
    assert not [f for f in files if f.startswith(".")], (
        f"partial files left: {[f for f in files if f.startswith('.')]}"
    )
    assert sorted(files) == sorted(
        [f"{j}.wav" for j in frame["job_id"]] + [f"{j}.json" for j in frame["job_id"]]
    )


# The batch CLI with soundfile.write wrapped: when the item after the first ``argv[1]`` has its temporary audio
# file created (still empty), the process says HELD on stdout and blocks there. The test kills it at that known
# point instead of racing a poll against the work.
HOLD_MID_WRITE = """
import sys
import threading
from pathlib import Path

import soundfile

hold_after, real_write, started = int(sys.argv[1]), soundfile.write, []


def write(file, *args, **kw):
    path = Path(file)
    if path.parent.name in ("tracks", "rejected") and path.name.startswith(".."):
        started.append(path.name)
        if len(started) > hold_after:
            print("HELD", path.name, flush=True)
            threading.Event().wait()
    return real_write(file, *args, **kw)


soundfile.write = write
from workbench.cli.main import main

sys.exit(main(sys.argv[2:]))
"""


def kill_mid_write(run_args: list[str], kill_after: int, log: Path) -> str:
    """Run the batch until item ``kill_after + 1`` is being written and SIGKILL it there; the name of the
    temporary file that item had just created."""
    with log.open("wb") as err:
        cmd = [sys.executable, "-c", HOLD_MID_WRITE, str(kill_after), *run_args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            assert proc.stdout is not None
            held = next((line.split()[1] for line in proc.stdout if line.startswith("HELD ")), None)
            assert held is not None, f"the batch ended before it could be killed: {log.read_text()[-2000:]}"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
    return held


def kill_and_resume(tmp_path: Path, items: int, kill_after: int) -> None:
    plan, out = make_plan(tmp_path, items), tmp_path / "out"
    run_args = ["batch", "run", str(plan), "--out", str(out), "--no-progress", "--no-store"]
    held = kill_mid_write(run_args, kill_after, tmp_path / "killed-run.log")
    done = committed(out)
    assert done == kill_after
    # The kill came with the next item's temporary audio file created and still empty.
    assert (out / "tracks" / held).stat().st_size == 0
    # Whatever sits under a final name after the kill is a whole file (hidden names are temporaries, which a
    # pathlib "*" would match too).
    for path in (out / "tracks").glob("[!.]*.wav"):
        assert read_audio(path).frames == 48_000
    rerun = subprocess.run([*CLI, *run_args], capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"{done} already done" in rerun.stdout
    check_exactly_once(out, items)


def test_sigkill_mid_run_then_rerun_gives_every_item_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    kill_and_resume(tmp_path, items=8, kill_after=2)


@pytest.mark.slow
def test_sigkill_200_item_plan_then_rerun(tmp_path: Path, tiny_model_dir: Path) -> None:
    kill_and_resume(tmp_path, items=200, kill_after=70)


@pytest.mark.slow
def test_two_accelerate_processes_merge_one_manifest(tmp_path: Path, tiny_model_dir: Path, free_port) -> None:
    plan, out = make_plan(tmp_path, 16), tmp_path / "out"
    accelerate = Path(sys.executable).parent / "accelerate"
    # --multi_gpu makes accelerate start one process per --num_processes through torch's launcher; without CUDA
    # the batch asks accelerate for a CPU (gloo) process group (see workbench/batch/distributed.py).
    args = [
        str(accelerate),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        "-m",
        "workbench.cli.main",
        "batch",
        "run",
        str(plan),
        "--out",
        str(out),
        "--no-progress",
        "--no-store",
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1/2" in done.stdout and "process 2/2" in done.stdout
    assert sorted(p.name for p in (out / mf.MANIFEST_DIR).glob("shard-*.jsonl")) == [
        "shard-0.jsonl",
        "shard-1.jsonl",
    ]
    check_exactly_once(out, 16)
    frame = pd.read_parquet(out / "manifest.parquet")
    assert Counter(frame["process_index"]) == {0: 8, 1: 8}  # 4 groups of 4, dealt round-robin
    assert list(out.glob("manifest*.csv")) == [out / "manifest.csv"]
