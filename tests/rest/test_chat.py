"""/v1/chat/completions as ACE-Step's ComfyUI nodes call it (ace-step/ACE-Step-ComfyUI@5de16c9:nodes.py):
Bearer key, text or text + input_audio, audio_config, audio back as base64 data URLs, optionally streamed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx

KEY = "comfy-key-0123456789"


def _comfy_body(content: Any, **extra: Any) -> dict[str, Any]:
    body = {
        "model": "acemusic/acestep-v15-turbo",
        "messages": [{"role": "user", "content": content}],
        "modalities": ["audio"],
        "stream": False,
        "thinking": False,
        "temperature": 0.85,
        "top_p": 0.9,
        "guidance_scale": 7.0,
        "inference_steps": 2,
        "audio_config": {"format": "wav", "vocal_language": "en", "instrumental": True, "duration": 2},
        "seed": "31",
    }
    return {**body, **extra}


def _audio_bytes(url: str) -> bytes:
    head, _, data = url.partition(",")
    assert head == "data:audio/wav;base64"
    return base64.b64decode(data)


def test_text_request_returns_the_take_as_a_data_url(make_server) -> None:
    server = make_server(keys=(KEY,))
    resp = httpx.post(
        f"{server.url}/v1/chat/completions",
        json=_comfy_body("calm spa pad"),
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    reply = resp.json()
    message = reply["choices"][0]["message"]
    assert "seed 31" in message["content"] and message["audio_codes"] == ""
    (audio,) = message["audio"]
    run_id = reply["id"].removeprefix("chatcmpl-")
    (item,) = httpx.post(
        f"{server.url}/query_result",
        json={"task_id_list": [run_id]},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()["data"]
    assert _audio_bytes(audio["audio_url"]["url"]) == Path(item["result_items"][0]["path"]).read_bytes()
    assert any(w.startswith("lm_temperature") for w in reply["warnings"])


def test_input_audio_makes_a_cover_and_streaming_sends_events(make_server, src_wav) -> None:
    server = make_server(keys=(KEY,))
    encoded = base64.b64encode(src_wav.read_bytes()).decode()
    content = [
        {"type": "text", "text": "as a brass band"},
        {"type": "input_audio", "input_audio": {"data": encoded, "format": "wav"}},
    ]
    events: list[str] = []
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json=_comfy_body(content, stream=True, audio_cover_strength=0.5),
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=120,
    ) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        events = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    audio = [c["choices"][0]["delta"]["audio"] for c in chunks if "audio" in c["choices"][0]["delta"]]
    assert len(audio) == 1 and _audio_bytes(audio[0][0]["audio_url"]["url"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    (job,) = server.workbench.store.list_runs(limit=1)
    assert job.task == "cover"


def test_chat_needs_the_key_and_names_bad_fields(make_server) -> None:
    server = make_server(keys=(KEY,))
    url = f"{server.url}/v1/chat/completions"
    no_key = httpx.post(url, json=_comfy_body("x"))
    assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"
    headers = {"Authorization": f"Bearer {KEY}"}
    bad = httpx.post(url, json=_comfy_body("x", audio_config={"speed": 2}), headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "audio_config.speed"
    bad_audio = [{"type": "input_audio", "input_audio": {"data": "!!notbase64", "format": "wav"}}]
    resp = httpx.post(url, json=_comfy_body(bad_audio), headers=headers)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "input_audio.data"
    resp = httpx.post(url, json=_comfy_body("x", thinking=True), headers=headers)
    assert resp.status_code == 501 and "LM planner" in resp.json()["error"]["message"]
