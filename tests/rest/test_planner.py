"""The API on the tiny LM: /format_input and /v1/create_sample in upstream's shapes, thinking / sample_mode tasks
run by the worker (the audio equals ``Workbench.generate(..., think=...)``), the client's metadata kept, an unknown
LM named with the fix, and a cancel while the LM writes."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from workbench.core.keyscale import KEYSCALES
from workbench.engine.requests import TIME_SIGNATURES, Text2Music
from workbench.planner import vocab
from workbench.planner.decoding import Sampling
from workbench.planner.plans import ThinkOptions
from workbench.services import Workbench

SONG = {
    "prompt": "calm piano",
    "audio_duration": 2,
    "inference_steps": 2,
    "batch_size": 1,
    "audio_format": "wav",
    "seed": 7,
}


@pytest.fixture(scope="module", autouse=True)
def _lm_on_one_thread(one_torch_thread: None) -> None:
    """The token loop: one torch thread (see the fixture)."""


def _done(url: str, task_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(400):
            (item,) = client.post("/query_result", json={"task_id_list": [task_id], "wait_s": 10}).json()[
                "data"
            ]
            if item["status"] != 0:
                return item
    raise AssertionError(f"task {task_id} did not finish")


def _in_range(bpm: int, key: str, time_signature: str, duration: float, language: str) -> None:
    assert vocab.BPM_RANGE[0] <= bpm <= vocab.BPM_RANGE[1]
    assert key in KEYSCALES and time_signature in TIME_SIGNATURES and language in vocab.LANGUAGES
    assert vocab.DURATION_RANGE[0] <= duration <= vocab.DURATION_RANGE[1]


def test_format_input_and_create_sample_answer_in_upstreams_shapes(make_server, planner) -> None:
    server = make_server(lm=planner)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        body = {"prompt": "lofi beat", "lyrics": "[Verse]\nla la", "param_obj": {"bpm": 90, "key": "C major"}}
        resp = client.post("/format_input", json=body)
        assert resp.status_code == 200, resp.text
        formatted = resp.json()
        assert formatted["code"] == 200 and formatted["error"] is None
        data = formatted["data"]
        upstream = {"caption", "lyrics", "bpm", "key_scale", "time_signature", "duration", "vocal_language"}
        assert upstream <= set(data)
        assert (data["bpm"], data["key_scale"]) == (90, "C major")  # the client's metas are kept
        _in_range(
            data["bpm"], data["key_scale"], data["time_signature"], data["duration"], data["vocal_language"]
        )
        assert data["caption"] and data["lm_model"] == "lm-tiny"
        assert "bpm" not in data["chosen"] and "keyscale" not in data["chosen"]

        resp = client.post("/v1/create_sample", json={"query": "rainy jazz", "instrumental": True, "seed": 3})
        assert resp.status_code == 200, resp.text
        sample = resp.json()["data"]
        upstream = {"caption", "lyrics", "bpm", "keyscale", "duration", "timesignature", "vocal_language"}
        assert upstream <= set(sample)
        _in_range(sample["bpm"], sample["keyscale"], sample["timesignature"], sample["duration"], "en")
        assert sample["lyrics"] == "[Instrumental]" and sample["instrumental"] is True
        again = client.post(
            "/v1/create_sample", json={"query": "rainy jazz", "instrumental": True, "seed": 3}
        )
        assert again.json()["data"] == sample  # the seed makes it reproducible

        unknown = client.post("/v1/create_sample", json={"query": "x", "mood": "sad"})
        assert unknown.status_code == 400 and unknown.json()["field"] == "mood"
        health = client.get("/health").json()["data"]
        assert health["llm_initialized"] is True and health["loaded_lm_model"] == "lm-tiny"


def test_a_thinking_task_renders_what_generate_with_think_renders(
    make_server, planner, engine, tmp_path
) -> None:
    server = make_server(lm=planner)
    body = {**SONG, "thinking": True, "bpm": 97, "lm_cfg_scale": 1.5, "lm_top_k": 50}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        reply = client.post("/release_task", json=body).json()
    assert reply["code"] == 200 and not any(w.startswith("lm_") for w in reply["warnings"])
    item = _done(server.url, reply["task_id"])
    assert item["state"] == "done", item
    (take,) = json.loads(item["result"])
    assert take["lm_model"] == "lm-tiny" and take["metas"]["bpm"] == 97  # the client's bpm is kept
    assert take["task_type"] == "text2music"
    metas = take["metas"]
    assert metas["keyscale"] in KEYSCALES and metas["timesignature"] in TIME_SIGNATURES
    assert metas["duration"] == pytest.approx(2.0, abs=0.05)
    sidecar = json.loads(Path(take["sidecar"]).read_text())
    assert sidecar["plan"]["plan"]["sampling"]["cfg_scale"] == 1.5
    assert sidecar["plan"]["plan"]["sampling"]["top_k"] == 50

    direct = Workbench(engine, None, runs_dir=tmp_path / "direct", temp_dir=tmp_path / "direct-tmp")
    direct.planner = planner
    request = Text2Music(prompt="calm piano", duration_s=2.0, steps=2, batch_size=1, seed=7, bpm=97)
    sampling = Sampling(cfg_scale=1.5, top_k=50)
    think = ThinkOptions(
        lm="lm-tiny", sampling=sampling, caption_tokens=server.service.planner.caption_tokens
    )
    run = direct.generate(request, audio_format="wav", think=think)
    assert run.ok and run.plan is not None
    api_audio, _ = sf.read(take["path"], dtype="float32")
    direct_audio, _ = sf.read(run.takes[0].path, dtype="float32")
    assert np.array_equal(api_audio, direct_audio)  # bit for bit
    assert sidecar["plan"]["plan"]["codes"] == run.plan.codes


def test_sample_mode_writes_the_song_and_keeps_the_clients_metadata(make_server, planner) -> None:
    server = make_server(lm=planner)
    body = {**SONG, "prompt": "", "sample_mode": True, "sample_query": "a rainy jazz song", "bpm": 88}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        reply = client.post("/release_task", json=body).json()
    item = _done(server.url, reply["task_id"])
    assert item["state"] == "done", item
    (take,) = item["result_items"]
    written = take["lm"]["written"]
    assert take["prompt"] == written["caption"] and written["caption"]
    assert take["metas"]["bpm"] == 88 and take["metas"]["duration"] == pytest.approx(2.0, abs=0.05)
    assert take["lm_model"] == "lm-tiny" and take["lm"]["flags"] == ["sample_mode"]

    body = {**SONG, "prompt": "lofi", "use_format": True, "thinking": True, "key_scale": "D minor"}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        reply = client.post("/release_task", json=body).json()
    (take,) = _done(server.url, reply["task_id"])["result_items"]
    assert take["lm"]["flags"] == ["thinking", "use_format"] and take["metas"]["keyscale"] == "D minor"
    assert take["prompt"] == take["lm"]["written"]["caption"]
    assert json.loads(Path(take["sidecar"]).read_text())["plan"]["plan"]["lm"]["name"] == "lm-tiny"


def test_chat_with_thinking_returns_the_planned_codes(make_server, planner) -> None:
    server = make_server(lm=planner)
    body = {
        "messages": [{"role": "user", "content": "calm piano"}],
        "audio_config": {"duration": 2, "format": "wav"},
        "thinking": True,
        "inference_steps": 2,
        "seed": 5,
        "temperature": 0.7,
    }
    resp = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    message = resp.json()["choices"][0]["message"]
    (row,) = server.workbench.store.list_runs(limit=5)
    sidecar = json.loads(Path(row.sidecar_path).read_text())
    assert message["audio_codes"] == sidecar["plan"]["plan"]["codes"] and message["audio_codes"]
    assert sidecar["plan"]["plan"]["sampling"]["temperature"] == 0.7  # the chat's temperature is the LM's


def test_an_unknown_lm_is_an_error_naming_the_field_and_the_pull_command(make_server, planner) -> None:
    server = make_server(lm=planner)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        resp = client.post("/release_task", json={**SONG, "thinking": True, "lm_model_path": "lm-nope"})
        assert resp.status_code == 400
        assert resp.json()["field"] == "lm_model_path" and "workbench models pull" in resp.json()["error"]
        resp = client.post("/format_input", json={"prompt": "x", "lm": "lm-nope"})
        assert resp.status_code == 400
        assert resp.json()["field"] == "lm" and "workbench models pull" in resp.json()["error"]
        bad = client.post("/release_task", json={**SONG, "thinking": True, "lm_temperature": 5})
        assert bad.status_code == 400 and bad.json()["field"] == "lm_temperature"
        source_task = {**SONG, "thinking": True, "task_type": "extend", "src_audio_path": "nope.wav"}
        assert client.post("/release_task", json=source_task).status_code == 400


def test_cancel_while_the_lm_plans_ends_cancelled(make_server, planner) -> None:
    planning = threading.Event()
    release = threading.Event()
    stages: list[str] = []

    def hold_in_the_lm(progress: Any) -> None:
        stages.append(progress.stage)
        if progress.stage.startswith("planning") and not planning.is_set():
            planning.set()
            release.wait(60)  # the LM waits here, between two token steps, until the client has cancelled

    server = make_server(lm=planner, progress_hook=hold_in_the_lm)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        task_id = client.post("/release_task", json={**SONG, "thinking": True}).json()["task_id"]
        assert planning.wait(60)
        resp = client.post("/v1/cancel", json={"task_id": task_id})
        assert resp.status_code == 200, resp.text
        release.set()
    item = _done(server.url, task_id)
    assert item["state"] == "cancelled", item
    assert not any(s == "denoising" for s in stages)  # the DiT never started
    assert server.workbench.store.list_runs(limit=5) == []


def test_an_lm_task_resumed_by_a_server_without_an_lm_fails_with_the_reason(
    make_server, planner, tmp_path
) -> None:
    store = tmp_path / "shared.sqlite"
    held = threading.Event()
    with_lm = make_server(lm=planner, store=store, hold=lambda job: held.wait(60))
    with_lm.service.stop()  # queued, never run: as after a crash
    task_id = httpx.post(f"{with_lm.url}/release_task", json={**SONG, "thinking": True}).json()["task_id"]
    held.set()
    without = make_server(store=store)
    item = _done(without.url, task_id)
    assert (
        item["state"] == "failed"
        and "no LM planner" in item["error"]
        and "workbench serve --lm" in item["error"]
    )
