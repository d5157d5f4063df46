"""Tasks as store rows: cancel within a step, restart and recovery, per-key limits, per-request LoRA, and many
clients at once with every task answered exactly once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from workbench import records
from workbench.core.store import Store
from workbench.engine.requests import LoraRef, Text2Music
from workbench.rest import db

BASE = {
    "prompt": "queue",
    "audio_duration": 1,
    "inference_steps": 1,
    "batch_size": 1,
    "audio_format": "wav",
    "seed": 3,
}
KEY_A, KEY_B = "a" * 20, "b" * 20


def _finish(client: httpx.Client, task_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    for _ in range(400):
        resp = client.post(
            "/query_result", json={"task_id_list": [task_id], "wait_s": 10}, headers=headers or {}
        )
        (item,) = resp.json()["data"]
        if item["status"] != 0:
            return item
    raise AssertionError("task did not finish")


def test_cancel_stops_a_running_task_within_a_step_and_a_queued_one_at_once(make_server) -> None:
    at_step_2 = threading.Event()
    go_on = threading.Event()

    def progress(p: Any) -> None:
        if p.stage == "denoising" and p.step == 2:
            at_step_2.set()
            go_on.wait(60)

    server = make_server(progress_hook=progress)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        running = client.post("/release_task", json={**BASE, "inference_steps": 50}).json()["task_id"]
        queued = client.post("/release_task", json=BASE).json()["task_id"]
        assert at_step_2.wait(60)
        (item,) = client.post("/query_result", json={"task_id_list": [queued]}).json()["data"]
        assert item["state"] == "queued" and item["queue_position"] == 1
        assert client.post("/v1/cancel", json={"task_id": queued}).json()["data"]["state"] == "cancelled"
        client.post("/v1/cancel", json={"task_id": running})
        go_on.set()
        done = _finish(client, running)
        assert done["status"] == 2 and done["state"] == "cancelled"
        assert "after 2 of 50 steps" in done["error"] and done["result_items"] == []
        (gone,) = client.post("/query_result", json={"task_id_list": [queued]}).json()["data"]
        assert gone["status"] == 2 and "before it started" in gone["error"]
        assert client.post("/v1/cancel", json={"task_id": "nope"}).status_code == 404


def test_recovery_requeues_interrupted_tasks_and_fails_them_after_two_deaths(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    db.insert_job(store, "t1", "k", {"seed": 1, "batch_size": 1}, "wav", [], 10)
    first = db.claim_next(store, 1)
    assert first is not None and first.attempts == 1 and first.status == "running"
    assert db.recover(store) == (1, 0)  # the server died in it once: back to the queue
    assert db.get_jobs(store, ["t1"])["t1"].status == "queued"
    assert db.claim_next(store, 1) is not None
    assert db.recover(store) == (0, 1)  # twice: failed, with the reason
    job = db.get_jobs(store, ["t1"])["t1"]
    assert job.status == "failed" and "stopped while running this task 2 times" in (job.error or "")


def test_a_restarted_server_runs_the_tasks_queued_before_it_stopped(make_server, tmp_path) -> None:
    release = threading.Event()
    first = make_server(hold=lambda job: release.wait(60), store=tmp_path / "shared.sqlite")
    with httpx.Client(base_url=first.url, timeout=60) as client:
        ids = [client.post("/release_task", json={**BASE, "seed": s}).json()["task_id"] for s in (1, 2, 3)]
    stopper = threading.Thread(target=first.service.stop)
    stopper.start()
    assert first.service.queue.stopping.wait(30)
    release.set()  # the held task meets its cancel: a task the server stopped goes back to the queue, not failed
    stopper.join(60)
    states = db.get_jobs(first.workbench.store, ids)
    assert [states[i].status for i in ids] == ["queued"] * 3 and states[ids[0]].attempts == 0
    second = make_server(store=tmp_path / "shared.sqlite")
    with httpx.Client(base_url=second.url, timeout=60) as client:
        items = [_finish(client, i) for i in ids]
    assert [i["status"] for i in items] == [1, 1, 1]
    assert [i["result_items"][0]["seed"] for i in items] == [1, 2, 3]


def test_per_key_limit_lets_another_key_start_first(make_server) -> None:
    started: list[str] = []
    two_running = threading.Event()
    release = threading.Event()

    def hold(job: Any) -> None:
        started.append(job.key_id)
        if len(started) == 2:
            two_running.set()
        release.wait(60)

    server = make_server(keys=(KEY_A, KEY_B), hold=hold, workers=2, per_key_limit=1)
    a = {"Authorization": f"Bearer {KEY_A}"}
    b = {"Authorization": f"Bearer {KEY_B}"}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        a1 = client.post("/release_task", json=BASE, headers=a).json()["task_id"]
        a2 = client.post("/release_task", json=BASE, headers=a).json()["task_id"]
        b1 = client.post("/release_task", json=BASE, headers=b).json()["task_id"]
        assert two_running.wait(60)
        states = {
            i["task_id"]: i["state"]
            for i in client.post("/query_result", json={"task_id_list": [a1, a2]}, headers=a).json()["data"]
        }
        (b_item,) = client.post("/query_result", json={"task_id_list": [b1]}, headers=b).json()["data"]
        assert states == {a1: "running", a2: "queued"} and b_item["state"] == "running"
        # another key's tasks are not visible, nor cancellable
        (hidden,) = client.post("/query_result", json={"task_id_list": [a1]}, headers=b).json()["data"]
        assert hidden["state"] == "unknown" and hidden["status"] == 2
        assert client.post("/v1/cancel", json={"task_id": a2}, headers=b).status_code == 404
        release.set()
        assert all(_finish(client, i, a)["status"] == 1 for i in (a1, a2))


def test_base_and_lora_tasks_at_once_each_get_their_own_output(
    make_server, engine, random_lora_state, save_diffusers, tmp_path
) -> None:
    from diffusers import AceStepPipeline

    folder = save_diffusers(
        AceStepPipeline, random_lora_state(engine.pipeline.transformer), tmp_path / "loras" / "spa"
    )
    server = make_server(workers=2, per_key_limit=2)
    body = {**BASE, "inference_steps": 2, "audio_duration": 2, "seed": 21}

    async def main() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            replies = await asyncio.gather(
                client.post("/release_task", json=body),
                client.post("/release_task", json={**body, "lora_name": "spa", "lora_scale": 0.8}),
            )
            ids = [r.json()["task_id"] for r in replies]
            out = []
            for task_id in ids:
                for _ in range(400):
                    resp = await client.post("/query_result", json={"task_id_list": [task_id], "wait_s": 10})
                    (item,) = resp.json()["data"]
                    if item["status"] != 0:
                        out.append(item)
                        break
            return out

    base_item, lora_item = asyncio.run(main())
    got = [Path(i["result_items"][0]["path"]).read_bytes() for i in (base_item, lora_item)]
    expected = []
    for lora in (None, LoraRef(str(folder), 0.8)):
        result = engine.run(Text2Music(prompt="queue", duration_s=2.0, steps=2, seed=21, lora=lora))
        expected.append(Path(records.record(result, tmp_path / "seq", "wav")[0].path).read_bytes())
    engine.unload_lora()
    assert got == expected and got[0] != got[1]
    assert lora_item["result_items"][0]["lora"] == {"path": str(folder), "scale": 0.8}
    assert base_item["result_items"][0]["lora"] is None


@pytest.mark.slow
def test_twenty_clients_five_tasks_each_every_task_answered_once(make_server) -> None:
    server = make_server()

    async def one_client(n: int, client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
        ids = []
        for k in range(5):
            resp = await client.post("/release_task", json={**BASE, "seed": n * 10 + k})
            assert resp.status_code == 200, resp.text
            ids.append(resp.json()["task_id"])
        finished: dict[str, dict[str, Any]] = {}
        for _ in range(400):
            waiting = [i for i in ids if i not in finished]
            if not waiting:
                break
            resp = await client.post("/query_result", json={"task_id_list": waiting, "wait_s": 10})
            items = resp.json()["data"]
            assert [i["task_id"] for i in items] == waiting  # each asked id answered exactly once, in order
            finished.update({i["task_id"]: i for i in items if i["status"] != 0})
        return finished

    async def main() -> list[dict[str, dict[str, Any]]]:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
            return await asyncio.gather(*(one_client(n, client) for n in range(20)))

    per_client = asyncio.run(main())
    all_ids = [i for finished in per_client for i in finished]
    assert len(all_ids) == 100 and len(set(all_ids)) == 100
    items = [item for finished in per_client for item in finished.values()]
    assert all(item["status"] == 1 for item in items)
    seeds = sorted(item["result_items"][0]["seed"] for item in items)
    assert seeds == sorted(n * 10 + k for n in range(20) for k in range(5))
    assert server.service.queue.stats()["succeeded"] == 100


def test_a_source_gone_before_the_task_runs_fails_it_with_the_reason(make_server, src_wav) -> None:
    release = threading.Event()
    server = make_server(hold=lambda job: release.wait(60))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        with src_wav.open("rb") as fh:
            form = {
                "task_type": "repaint",
                "repainting_start": "0.5",
                "repainting_end": "1.5",
                "inference_steps": "1",
                "batch_size": "1",
                "audio_format": "wav",
            }
            task = client.post(
                "/release_task", data=form, files={"src_audio": ("s.wav", fh, "audio/wav")}
            ).json()["task_id"]
        uploaded = db.get_jobs(server.workbench.store, [task])[task].request["src"]
        Path(uploaded).unlink()
        release.set()
        item = _finish(client, task)
    assert item["status"] == 2 and item["state"] == "failed"
    assert Path(uploaded).name in item["error"] and item["progress_text"].startswith("failed: ")
