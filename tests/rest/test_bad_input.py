"""Bad requests get a JSON error naming the field; known upstream fields the workbench does not run are listed
in ``warnings``; /v1/audio serves audio this server wrote and nothing else."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

BASE = {
    "prompt": "x",
    "audio_duration": 2,
    "inference_steps": 1,
    "batch_size": 1,
    "audio_format": "wav",
    "seed": 1,
}


def _post(url: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}/release_task", json=body, timeout=60, **kw)


def _error(resp: httpx.Response, status: int, field: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == status and body["field"] == field and body["data"] is None
    assert body["error"] == body["detail"] and field in body["error"]
    return str(body["error"])


@pytest.fixture
def held_server(make_server):
    """A server whose tasks wait at their start until ``release`` is set (nothing is generated meanwhile)."""
    release = threading.Event()
    server = make_server(hold=lambda job: release.wait(60))
    yield server
    release.set()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"promt": "typo"}, "promt", "unknown field"),
        ({"param_obj": {"bogus": 1}}, "param_obj.bogus", "unknown field"),
        ({"bpm": "fast"}, "bpm", "number"),
        ({"bpm": 120.5}, "bpm", "whole number"),
        ({"seed": [1, 2]}, "seed", "number"),
        ({"use_random_seed": "maybe"}, "use_random_seed", "true or false"),
        ({"prompt": 12}, "prompt", "text"),
        ({"audio_duration": 5000}, "audio_duration", "between"),
        ({"audio_duration": None, "duration": 0.2}, "duration", "between"),
        ({"inference_steps": 0}, "inference_steps", "between"),
        ({"key": "H major"}, "key", "C major"),
        ({"task_type": "remix"}, "task_type", "choose one of"),
        ({"audio_format": "ogg"}, "audio_format", "wav"),
        ({"model": "xl-base"}, "model", "this server runs tiny"),
        ({"caption": "a", "prompt": "b"}, "caption", "same field"),
        ({"task_type": "repaint", "repainting_start": 0, "repainting_end": 1}, "src_audio_path", "source"),
        ({"task_type": "repaint", "src_audio_path": "/nowhere/x.wav"}, "src_audio_path", "this server wrote"),
        ({"task_type": "cover", "ctx_audio_path": "/etc/passwd"}, "ctx_audio_path", "this server wrote"),
        ({"lora_name": "missing"}, "lora_name", "LoRA folder"),
        ({"lora_path": "/etc"}, "lora_path", "workbench home"),
        ({"lora_path": "../../x", "lora_scale": 1}, "lora_path", "workbench home"),
        ({"lora_path": "tests/conftest.py"}, "lora_path", "no such file"),  # relative to the server's folder
    ],
)
def test_bad_release_fields_are_named(held_server, body, field, words) -> None:
    message = _error(_post(held_server.url, {**BASE, **body}), 400, field)
    assert words in message


def test_missing_source_under_the_runs_folder_is_named(held_server) -> None:
    gone = held_server.workbench.runs_dir / "gone.wav"
    message = _error(
        _post(held_server.url, {**BASE, "task_type": "repaint", "src_audio_path": str(gone)}),
        400,
        "src_audio_path",
    )
    assert "no such file" in message


def test_bodies_that_are_not_objects(held_server) -> None:
    resp = httpx.post(
        f"{held_server.url}/release_task", content=b"[1, 2]", headers={"content-type": "application/json"}
    )
    _error(resp, 400, "body")
    resp = httpx.post(
        f"{held_server.url}/release_task", content=b"{oops", headers={"content-type": "application/json"}
    )
    _error(resp, 400, "body")
    _error(httpx.post(f"{held_server.url}/query_result", json={"task_id_list": 5}), 400, "task_id_list")


def test_a_key_value_body_without_a_content_type_is_read_as_upstream_reads_it(held_server) -> None:
    raw = b"prompt=calm%20spa&audio_duration=2&inference_steps=1&batch_size=2&seed=5&audio_format=wav"
    resp = httpx.post(f"{held_server.url}/release_task", content=raw)
    assert resp.status_code == 200, resp.text
    assert resp.json()["seeds"] == [5, 6]  # the text values are coerced as form fields are
    _error(httpx.post(f"{held_server.url}/release_task", content=b"calm spa, please"), 400, "body")
    as_json = httpx.post(
        f"{held_server.url}/release_task", content=raw, headers={"content-type": "application/json"}
    )
    _error(as_json, 400, "body")  # a body declared JSON must be JSON


def test_a_body_over_the_limit_is_refused_before_it_is_read(held_server) -> None:
    huge = b'{"prompt": "' + b"x" * (17 * 2**20) + b'"}'
    resp = httpx.post(
        f"{held_server.url}/release_task", content=huge, headers={"content-type": "application/json"}
    )
    _error(resp, 413, "body")


def test_known_upstream_fields_are_warned_about_not_dropped(held_server) -> None:
    body = {
        **BASE,
        "timesteps": [0.9, 0.5],
        "infer_method": "ode",
        "lm_temperature": 0.85,
        "use_cot_caption": True,
        "repainting_start": 1.0,
        "thinking": False,
        "ai_token": "ignored-without-keys",
    }
    resp = _post(held_server.url, body)
    assert resp.status_code == 200, resp.text
    warnings = resp.json()["warnings"]
    assert resp.json()["data"]["warnings"] == warnings
    for name in ("timesteps", "infer_method", "lm_temperature", "use_cot_caption", "repainting_start"):
        assert any(w.startswith(f"{name}:") for w in warnings), (name, warnings)
    assert not any(w.startswith(("thinking", "ai_token")) for w in warnings)
    items = httpx.post(
        f"{held_server.url}/query_result", json={"task_id_list": [resp.json()["task_id"]]}
    ).json()["data"]
    assert items[0]["warnings"] == warnings


def test_seed_rules_and_ints_stay_ints(held_server) -> None:
    fixed = _post(held_server.url, {**BASE, "seed": 42, "batch_size": 3}).json()
    assert fixed["seed"] == 42 and fixed["seeds"] == [42, 43, 44]
    assert isinstance(fixed["queue_position"], int) and isinstance(fixed["data"]["seed"], int)
    as_text = _post(held_server.url, {**BASE, "seed": "42", "use_random_seed": False}).json()
    assert as_text["seed"] == 42
    random = _post(held_server.url, {**BASE, "seed": 42, "use_random_seed": True}).json()
    assert any("use_random_seed" in w for w in random["warnings"])
    unset = _post(held_server.url, {**BASE, "seed": -1}).json()
    assert isinstance(unset["seed"], int) and unset["seed"] >= 0
    nested = _post(held_server.url, {**BASE, "seed": None, "metas": {"seed": 7, "bpm": 90.0}}).json()
    assert nested["seed"] == 7


def test_planner_features_answer_501_naming_the_planner(held_server) -> None:
    for body in ({**BASE, "thinking": True}, {**BASE, "sample_mode": True, "sample_query": "lofi"}):
        resp = _post(held_server.url, body)
        assert resp.status_code == 501 and "LM planner" in resp.json()["error"]
        assert "workbench models pull" in resp.json()["error"] and resp.json()["field"] in body
    for path in ("/format_input", "/v1/create_sample"):
        resp = httpx.post(f"{held_server.url}{path}", json={"prompt": "x"})
        assert (
            resp.status_code == 501 and "LM planner" in resp.json()["error"] and path in resp.json()["error"]
        )


def test_queue_full_is_429_with_retry_after(make_server) -> None:
    release = threading.Event()
    started = threading.Event()

    def hold(job: Any) -> None:
        started.set()
        release.wait(60)

    server = make_server(hold=hold, max_queued=1)
    try:
        assert _post(server.url, BASE).status_code == 200
        assert started.wait(30)  # the first task is running (held), so the next one waits in the queue
        assert _post(server.url, BASE).status_code == 200
        full = _post(server.url, BASE)
        assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1
        assert "queue is full" in full.json()["error"]
    finally:
        release.set()


# --- /v1/audio ------------------------------------------------------------------------------------------------


@pytest.fixture
def served(make_server, tmp_path):
    """A server with one finished wav result, and a secret audio file outside its runs folder."""
    server = make_server()
    client = httpx.Client(base_url=server.url, timeout=120)
    task_id = client.post("/release_task", json=BASE).json()["task_id"]
    item: dict[str, Any] = {}
    for _ in range(400):
        (item,) = client.post("/query_result", json={"task_id_list": [task_id], "wait_s": 10}).json()["data"]
        if item["status"] != 0:
            break
    assert item["status"] == 1, item
    secret = tmp_path / "secret.wav"
    secret.write_bytes(Path(item["result_items"][0]["path"]).read_bytes())
    yield server, client, item, secret
    client.close()


def test_audio_is_served_from_a_path_a_url_or_a_result_string_with_ranges(served) -> None:
    server, client, item, _ = served
    path = item["result_items"][0]["path"]
    whole = Path(path).read_bytes()
    for given in (path, item["result_items"][0]["file"], item["result"]):
        resp = client.get("/v1/audio", params={"path": given})
        assert resp.status_code == 200 and resp.content == whole
        assert resp.headers["content-type"] == "audio/wav"
    part = client.get("/v1/audio", params={"path": path}, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole)}"


def test_audio_mime_follows_the_format(served) -> None:
    server, client, _, _ = served
    for fmt, mime in (("flac", "audio/flac"), ("mp3", "audio/mpeg")):
        task = client.post("/release_task", json={**BASE, "audio_format": fmt}).json()["task_id"]
        for _ in range(400):
            (item,) = client.post("/query_result", json={"task_id_list": [task], "wait_s": 10}).json()["data"]
            if item["status"] != 0:
                break
        resp = client.get(item["result_items"][0]["file"])
        assert resp.status_code == 200 and resp.headers["content-type"] == mime


def test_audio_refuses_everything_outside_the_runs_folder(served) -> None:
    server, client, item, secret = served
    runs = server.workbench.runs_dir
    (runs / "link.wav").symlink_to(secret)
    (runs / "linked-dir").symlink_to(secret.parent, target_is_directory=True)
    rel_up = os.path.relpath(secret, runs)
    attempts = [
        rel_up,  # ../secret.wav from the runs folder
        f"{runs}/../secret.wav",
        str(secret),  # absolute
        "/etc/passwd",
        str(runs / "link.wav"),  # a link inside pointing out
        f"{runs}/linked-dir/secret.wav",
        f"/v1/audio?path={rel_up}",
        item["result_items"][0]["sidecar"],  # inside, but not audio
    ]
    for given in attempts:
        resp = client.get("/v1/audio", params={"path": given})
        assert resp.status_code == 403, (given, resp.status_code)
        assert resp.json()["field"] == "path"
    # percent-encoded by hand, once and twice: decoded once by the server, never served
    for raw in ("%2E%2E%2Fsecret.wav", "..%2fsecret.wav", "%252E%252E%252Fsecret.wav"):
        resp = client.get(f"/v1/audio?path={runs}/{raw}")
        assert resp.status_code in (403, 404) and resp.headers["content-type"] == "application/json"
    assert client.get("/v1/audio", params={"path": str(runs / "nothing.wav")}).status_code == 404


def test_models_inventory_and_stats_shapes(served) -> None:
    server, client, _, _ = served
    models = client.get("/v1/models").json()
    assert models["models"] == [{"name": "tiny", "is_default": True, "is_loaded": True}]
    assert models["data"]["models"] == models["models"] and models["code"] == 200
    inventory = client.get("/v1/model_inventory").json()["data"]
    assert (
        inventory["default_model"] == "tiny" and "repaint" in inventory["models"][0]["supported_task_types"]
    )
    stats = client.get("/v1/stats").json()["data"]
    assert stats["jobs"]["succeeded"] == 1 and stats["queue_maxsize"] == 200
    assert isinstance(stats["avg_job_seconds"], float)
    docs = client.get("/openapi.json").json()["paths"]
    for route in (
        "/release_task",
        "/query_result",
        "/v1/audio",
        "/health",
        "/v1/models",
        "/v1/model_inventory",
        "/v1/stats",
        "/v1/cancel",
        "/format_input",
        "/v1/create_sample",
        "/v1/lora/load",
        "/v1/lora/unload",
        "/v1/lora/scale",
        "/v1/lora/status",
        "/v1/lora/toggle",
    ):
        assert route in docs, route
    assert "prompt" in str(docs["/release_task"])
