"""``POST /v1/chat/completions`` in the OpenAI style ACE-Step's ComfyUI nodes send
(ace-step/ACE-Step-ComfyUI@5de16c9:nodes.py; the server side is ace-step/ACE-Step-1.5@6d467e4:
openrouter/openrouter_models.py).

The last user message's text is the caption; an ``input_audio`` part (base64) becomes the source, and the task
switches to ``cover`` when one is given, as those nodes do. ``audio_config`` carries format, duration, bpm, key,
time signature, language and instrumental. The task goes through the same queue, keys and limits as
``/release_task`` (upstream's mounted copy of this route checks no key); the reply carries each take as a base64
data URL, and ``stream: true`` sends it as server-sent events with progress comments while the task runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from workbench.core.errors import InputError, WorkbenchError
from workbench.rest.files import MIME_TYPES
from workbench.rest.jobs import QueueFull
from workbench.rest.responses import ApiError
from workbench.rest.service import RestService

MAX_AUDIO_BYTES = 100 * 1024 * 1024
MAX_WAIT_S = 3600.0  # the longest a (non-streaming) reply waits for its task
# Chat fields and the /release_task field each one is.
AUDIO_CONFIG = {
    "format": "audio_format",
    "duration": "audio_duration",
    "bpm": "bpm",
    "key_scale": "key_scale",
    "time_signature": "time_signature",
    "vocal_language": "vocal_language",
    "instrumental": "instrumental",
}
TOP_LEVEL_LM = {"temperature": "lm_temperature", "top_p": "lm_top_p", "top_k": "lm_top_k"}
CHAT_ONLY = ("model", "messages", "modalities", "stream", "audio_config", "n", "user")


def _text_and_audio(messages: Any) -> tuple[str, tuple[bytes, str] | None]:
    if not isinstance(messages, list) or not messages:
        raise InputError(
            "messages", messages, "give a list of messages; the last user message is the caption"
        )
    users = [m for m in messages if isinstance(m, dict) and m.get("role", "user") == "user"]
    if not users:
        raise InputError("messages", messages, "needs at least one message with role 'user'")
    content = users[-1].get("content", "")
    if isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise InputError("messages[].content", content, "must be text or a list of parts")
    texts, audio = [], None
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "input_audio":
            audio = _decode_audio(part.get("input_audio") or {})
        else:
            raise InputError("messages[].content[].type", kind, "use 'text' or 'input_audio' parts")
    return "\n".join(t for t in texts if t), audio


def _decode_audio(value: dict[str, Any]) -> tuple[bytes, str]:
    data = value.get("data", "")
    fmt = str(value.get("format", "wav")).lower()
    if isinstance(data, str) and data.startswith("data:"):
        data = data.partition(",")[2]
    if not isinstance(data, str) or not data:
        raise InputError("input_audio.data", None, "give the audio as base64")
    if len(data) > MAX_AUDIO_BYTES * 4 // 3:
        raise InputError(
            "input_audio.data", f"<{len(data)} chars>", f"audio over {MAX_AUDIO_BYTES // 2**20} MiB"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("input_audio.data", data[:20], "is not valid base64") from None
    if fmt not in MIME_TYPES:
        raise InputError("input_audio.format", fmt, f"choose one of {', '.join(MIME_TYPES)}")
    return raw, fmt


def release_body(service: RestService, body: dict[str, Any]) -> dict[str, Any]:
    """The /release_task body a chat request stands for (audio saved as an upload)."""
    text, audio = _text_and_audio(body.get("messages"))
    out: dict[str, Any] = {k: v for k, v in body.items() if k not in CHAT_ONLY and k not in TOP_LEVEL_LM}
    for chat_name, field in TOP_LEVEL_LM.items():
        if chat_name in body:
            out[field] = body[chat_name]
    config = body.get("audio_config") or {}
    if not isinstance(config, dict):
        raise InputError("audio_config", config, "must be an object (format, duration, bpm, ...)")
    for key, value in config.items():
        if key not in AUDIO_CONFIG:
            raise InputError(f"audio_config.{key}", value, f"unknown; use {', '.join(AUDIO_CONFIG)}")
        out[AUDIO_CONFIG[key]] = value
    out.setdefault("prompt", text)
    out.setdefault("batch_size", 1)
    out.setdefault("audio_format", "wav")
    if isinstance(out.get("seed"), str) and not out["seed"].strip():
        out.pop("seed")
    if audio is not None:
        saved = service.files.save_upload(f"input.{audio[1]}", audio[0])
        out["src_audio_path"] = str(saved)
        if out.get("task_type", "text2music") == "text2music":
            out["task_type"] = "cover"  # as the ComfyUI nodes switch it when audio is attached
    return out


def _wait(service: RestService, task_id: str, deadline: float) -> Iterator[str]:
    """Progress texts while the task runs; returns when it is terminal or the deadline passes."""
    last = ""
    while time.monotonic() < deadline:
        job = service.queue.jobs([task_id]).get(task_id)
        if job is None or job.terminal:
            return
        text = service.queue.progress_text(task_id) or job.status
        if text != last:
            last = text
            yield text
        service.queue.wait([task_id], min(10.0, deadline - time.monotonic()))


def _message(service: RestService, task_id: str) -> dict[str, Any]:
    job = service.queue.jobs([task_id])[task_id]
    if job.status != "done":
        raise ApiError(500 if job.status == "failed" else 409, f"task {job.status}: {job.error}", None)
    audio = []
    for item in job.result or []:
        path = item["path"]
        mime = MIME_TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")
        with open(path, "rb") as fh:
            encoded = base64.b64encode(fh.read()).decode()
        audio.append({"type": "audio_url", "audio_url": {"url": f"data:{mime};base64,{encoded}"}})
    items = job.result or []
    seeds = ", ".join(str(i["seed"]) for i in items)
    content = f"Generated {len(items)} take(s) with {service.model_name} (seed {seeds})."
    codes = ((items[0].get("lm") or {}).get("audio_codes") or "") if items else ""
    return {"role": "assistant", "content": content, "audio": audio, "audio_codes": codes}


def _completion(task_id: str, model: str, message: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{task_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "warnings": warnings,
    }


def _openai_error(
    status: int, message: str, param: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    kind = (
        "authentication_error"
        if status == 401
        else "invalid_request_error"
        if status < 500
        else "server_error"
    )
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}, "detail": message}
    return JSONResponse(body, status_code=status, headers=headers or {})


def add_chat_route(app: FastAPI, service: RestService) -> None:
    @app.post("/v1/chat/completions", tags=["chat"])
    async def chat_completions(request: Request) -> Response:
        try:
            raw = await request.body()
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ApiError(400, f"body: not valid JSON ({exc})", "body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "body: must be a JSON object", "body")
            key = service.keys.identify(request.headers.get("authorization"))
            release = await run_in_threadpool(release_body, service, body)
            reply = await run_in_threadpool(service.submit, key, release)
        except ApiError as exc:
            return _openai_error(exc.status, exc.message, exc.field, exc.headers)
        except QueueFull as exc:
            return _openai_error(429, str(exc), None, {"Retry-After": str(exc.retry_after_s)})
        except InputError as exc:
            return _openai_error(400, str(exc), exc.field)
        except WorkbenchError as exc:
            return _openai_error(400, str(exc), None)
        task_id, model = reply["task_id"], str(body.get("model") or service.model_name)
        deadline = time.monotonic() + MAX_WAIT_S
        if body.get("stream"):
            return StreamingResponse(
                _stream(service, task_id, model, reply["warnings"], deadline), media_type="text/event-stream"
            )
        await run_in_threadpool(lambda: list(_wait(service, task_id, deadline)))
        try:
            message = await run_in_threadpool(_message, service, task_id)
        except ApiError as exc:
            return _openai_error(exc.status, exc.message, exc.field)
        return JSONResponse(_completion(task_id, model, message, reply["warnings"]))


def _chunk(task_id: str, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    data = {
        "id": f"chatcmpl-{task_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n"


def _stream(
    service: RestService, task_id: str, model: str, warnings: list[str], deadline: float
) -> Iterator[str]:
    """Server-sent events: the role, progress comments while the task runs, then the content and audio."""
    yield _chunk(task_id, model, {"role": "assistant", "content": ""})
    for text in _wait(service, task_id, deadline):
        yield f": {text}\n\n"  # an SSE comment: clients ignore it, proxies see a live connection
    try:
        message = _message(service, task_id)
    except ApiError as exc:
        yield f"data: {json.dumps({'error': {'message': exc.message, 'code': exc.status}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    yield _chunk(task_id, model, {"content": message["content"]})
    yield _chunk(task_id, model, {"audio": message["audio"], "audio_codes": ""})
    yield _chunk(task_id, model, {}, "stop")
    if warnings:
        yield f": warnings {json.dumps(warnings)}\n\n"
    yield "data: [DONE]\n\n"
