"""``workbench serve`` (standalone, killed with SIGKILL and restarted) and ``workbench app --api`` (mounted on
Gradio's app, same port)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from workbench.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
KEY = "serve-test-key-0123456789"


def test_serve_refuses_to_listen_beyond_localhost_without_keys(capsys, monkeypatch) -> None:
    monkeypatch.delenv("WORKBENCH_API_KEYS", raising=False)
    assert main(["serve", "--model", "tiny", "--host", "0.0.0.0"]) == 2
    assert "needs API keys" in capsys.readouterr().err


def test_serve_says_which_lm_serves_or_why_none_does(planner, tmp_path) -> None:
    from workbench.cli.serve import api_planner
    from workbench.services import Workbench

    workbench = Workbench(None, None, runs_dir=tmp_path / "runs", temp_dir=tmp_path / "tmp")
    connected, line = api_planner(workbench, "lm-tiny")  # the planner fixture has built the tiny LM
    assert connected is not None and connected.lm_name == "lm-tiny" and line.startswith("LM: lm-tiny")
    for name, says in (("none", "--lm none"), ("lm-nope", "lm-tiny")):
        connected, line = api_planner(workbench, name)
        assert connected is None and line.startswith("LM: none") and says in line and "501" in line


def _start(port: int, store: Path, keys: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the server and read its output until it says it serves (the port is open by then)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli.main",
        "serve",
        "--model",
        "tiny",
        "--port",
        str(port),
        "--store",
        str(store),
        "--api-keys",
        str(keys),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log.open("a"), text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("serving the ACE-Step API"):
            return proc, line
    raise AssertionError(f"the server exited before serving: {log.read_text()[-2000:]}")


def _query(client: httpx.Client, ids: list[str], wait_s: float = 0) -> dict[str, dict[str, Any]]:
    resp = client.post("/query_result", json={"task_id_list": ids, "wait_s": wait_s})
    return {i["task_id"]: i for i in resp.json()["data"]}


@pytest.mark.slow
def test_sigkill_with_tasks_queued_then_restart_every_task_done_or_failed_with_reason(
    tiny_model_dir, free_port, tmp_path
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(KEY + "\n")
    store, log, port = tmp_path / "api.sqlite", tmp_path / "server.log", free_port()
    proc, _ = _start(port, store, keys, log)
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {
        "prompt": "kill",
        "audio_duration": 2,
        "inference_steps": 2,
        "batch_size": 1,
        "audio_format": "wav",
    }
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
            long_task = client.post(
                "/release_task", json={**body, "inference_steps": 200, "audio_duration": 20, "seed": 0}
            ).json()["task_id"]
            for _ in range(400):  # until the long task is denoising: the next ones must wait in the queue
                if _query(client, [long_task], wait_s=10)[long_task]["progress_text"].startswith("denoising"):
                    break
            ids = [long_task] + [
                client.post("/release_task", json={**body, "seed": s}).json()["task_id"] for s in range(1, 6)
            ]
            before = _query(client, ids)
            assert [before[i]["state"] for i in ids[1:]] == ["queued"] * 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    proc, line = _start(port, store, keys, log)
    try:
        assert "resumed 1 interrupted task(s)" in line or before[long_task]["state"] != "running"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
            final: dict[str, dict[str, Any]] = {}
            for _ in range(400):
                waiting = [i for i in ids if i not in final]
                if not waiting:
                    break
                final.update(
                    {i: item for i, item in _query(client, waiting, wait_s=10).items() if item["status"] != 0}
                )
        assert sorted(final) == sorted(ids)
        for item in final.values():
            assert item["status"] == 1 or (item["status"] == 2 and item["error"]), item
        assert [final[i]["result_items"][0]["seed"] for i in ids[1:]] == [1, 2, 3, 4, 5]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


@pytest.mark.slow
def test_app_with_api_serves_gradio_and_the_rest_api_on_one_port(tiny_model_dir, free_port) -> None:
    from workbench.cli.app import build_from_args
    from workbench.cli.main import build_parser
    from workbench.ui.launch import launch

    port = free_port()
    args = build_parser().parse_args(["app", "--model", "tiny", "--api", "--port", str(port)])
    app, options = build_from_args(args)
    launch(app, options, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            assert client.get("/health").json()["data"]["service"] == "ACE-Step API"
            task = client.post(
                "/release_task",
                json={"prompt": "mounted", "audio_duration": 1, "inference_steps": 1, "batch_size": 1},
            ).json()["task_id"]
            item: dict[str, Any] = {}
            for _ in range(400):
                item = _query(client, [task], wait_s=10)[task]
                if item["status"] != 0:
                    break
            assert item["status"] == 1, item
            assert client.get(item["result_items"][0]["file"]).headers["content-type"] == "audio/mpeg"
            assert "/release_task" in client.get("/openapi.json").json()["paths"]
            assert client.get("/docs").status_code == 200
            assert client.get("/").status_code == 200  # Gradio's page is still there
            # the task ran through the app's own Workbench: it is in the app's History store
            assert app.context.store.get_run(item["run_ids"][0]) is not None
    finally:
        app.close()
