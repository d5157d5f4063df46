"""API keys: every route but /health needs one when keys are configured; LoRA choices are per key; the API
refuses to listen beyond this machine without keys."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from workbench.core.errors import InputError
from workbench.rest.auth import ApiKeys, check_listen, key_id, load_keys

KEY_A, KEY_B = "alpha-key-0123456789", "bravo-key-0123456789"
BODY = {"prompt": "x", "audio_duration": 1, "inference_steps": 1, "batch_size": 1, "audio_format": "wav"}
ROUTES = [
    ("POST", "/release_task"),
    ("POST", "/query_result"),
    ("POST", "/v1/cancel"),
    ("GET", "/v1/audio?path=x.wav"),
    ("GET", "/v1/models"),
    ("GET", "/v1/model_inventory"),
    ("GET", "/v1/stats"),
    ("POST", "/format_input"),
    ("POST", "/v1/create_sample"),
    ("POST", "/v1/lora/load"),
    ("POST", "/v1/lora/unload"),
    ("POST", "/v1/lora/scale"),
    ("POST", "/v1/lora/toggle"),
    ("GET", "/v1/lora/status"),
]


@pytest.fixture
def keyed(make_server):
    release = threading.Event()
    server = make_server(keys=(KEY_A, KEY_B), hold=lambda job: release.wait(60))
    yield server
    release.set()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_but_health_needs_a_valid_key(keyed, method, path) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-key-at-all"}, {"Authorization": "Bearer"}):
        resp = httpx.request(method, keyed.url + path, json={"task_id_list": []}, headers=headers)
        assert resp.status_code == 401, (path, headers, resp.text)
        assert resp.json()["field"] == "authorization" and resp.headers["www-authenticate"] == "Bearer"
    assert httpx.get(keyed.url + "/health").status_code == 200


def test_bearer_bare_key_and_ai_token_are_accepted(keyed) -> None:
    for headers, body in (
        ({"Authorization": f"Bearer {KEY_A}"}, BODY),
        ({"Authorization": KEY_A}, BODY),
        ({}, {**BODY, "ai_token": KEY_B}),
    ):
        resp = httpx.post(f"{keyed.url}/release_task", json=body, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["warnings"] == []  # ai_token is the key, not an unknown field
    wrong_token = httpx.post(f"{keyed.url}/release_task", json={**BODY, "ai_token": "wrong-token-0123456789"})
    assert wrong_token.status_code == 401


def test_lora_state_belongs_to_the_key_that_set_it(
    keyed, engine, random_lora_state, save_diffusers, tmp_path
) -> None:
    from diffusers import AceStepPipeline

    save_diffusers(
        AceStepPipeline, random_lora_state(engine.pipeline.transformer), tmp_path / "loras" / "lobby"
    )
    a = {"Authorization": f"Bearer {KEY_A}"}
    b = {"Authorization": f"Bearer {KEY_B}"}
    with httpx.Client(base_url=keyed.url, timeout=60) as client:
        loaded = client.post("/v1/lora/load", json={"lora_name": "lobby", "scale": 0.5}, headers=a)
        assert loaded.status_code == 200, loaded.text
        assert client.get("/v1/lora/status", headers=a).json()["data"]["lora_loaded"] is True
        assert client.get("/v1/lora/status", headers=b).json()["data"]["lora_loaded"] is False
        assert client.post("/v1/lora/scale", json={"scale": 0.7}, headers=a).json()["data"]["scale"] == 0.7
        assert client.post("/v1/lora/scale", json={"scale": 0.7}, headers=b).status_code == 400
        # the key's LoRA is copied into its tasks when they are queued; the other key's tasks carry none
        task_a = client.post("/release_task", json=BODY, headers=a).json()["task_id"]
        task_b = client.post("/release_task", json=BODY, headers=b).json()["task_id"]
        store = keyed.workbench.store
        from workbench.rest import db

        jobs = db.get_jobs(store, [task_a, task_b])
        assert jobs[task_a].request["lora"] == {"path": str(tmp_path / "loras" / "lobby"), "scale": 0.7}
        assert jobs[task_b].request["lora"] is None
        assert jobs[task_a].key_id == key_id(KEY_A) != jobs[task_b].key_id
        client.post("/v1/lora/toggle", json={"use_lora": False}, headers=a)
        task_off = client.post("/release_task", json=BODY, headers=a).json()["task_id"]
        assert db.get_jobs(store, [task_off])[task_off].request["lora"] is None
        assert client.post("/v1/lora/unload", headers=a).status_code == 200
        assert client.get("/v1/lora/status", headers=a).json()["data"]["lora_loaded"] is False
        bad = client.post("/v1/lora/load", json={"lora_path": "/etc/ssl"}, headers=a)
        assert bad.status_code == 400 and bad.json()["field"] == "lora_path"


def test_keys_from_env_and_file_and_listening_rules(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# team keys\n{KEY_A}\n\n{KEY_B}\n")
    keys = load_keys(keys_file, env="")
    assert keys.keys == (KEY_A, KEY_B)
    assert load_keys(None, env=f"{KEY_A}, {KEY_B}").keys == (KEY_A, KEY_B)
    with pytest.raises(InputError, match="at least 16"):
        load_keys(None, env="short")
    with pytest.raises(InputError, match="no such file"):
        load_keys(tmp_path / "missing.txt", env="")
    with pytest.raises(InputError, match="needs API keys"):
        check_listen("0.0.0.0", ApiKeys())
    check_listen("0.0.0.0", keys)
    check_listen("127.0.0.1", ApiKeys())
