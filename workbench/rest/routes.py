"""The FastAPI app of the REST API: upstream's routes (ace-step/ACE-Step-1.5@6d467e4:acestep/api/route_setup.py)
on a ``RestService``, served standalone (``workbench serve``) or mounted on Gradio's app (``workbench app --api``).

Handlers read bodies themselves (JSON, form or multipart, upstream's aliases, ``ai_token``) and turn every error
into the JSON envelope in the handler, not in app-level exception handlers, so the routes behave the same when
they are copied onto Gradio's app. Blocking work (the store, file probes, long-polls) runs in the thread pool.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute

from workbench.core.errors import InputError, WorkbenchError
from workbench.rest import schema
from workbench.rest.chat import add_chat_route
from workbench.rest.jobs import QueueFull
from workbench.rest.responses import ApiError, envelope, error_response, ok
from workbench.rest.results import query_item
from workbench.rest.service import MAX_WAIT_S, RestService

Handler = Callable[..., Awaitable[Response]]
UPLOAD_FIELDS = {
    "src_audio": "src_audio_path",
    "ctx_audio": "src_audio_path",
    "reference_audio": "reference_audio_path",
    "ref_audio": "reference_audio_path",
}
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024  # fields only: audio comes as multipart files
MAX_QUERY_IDS = 500


def _errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(*args, **kwargs)
        except ApiError as exc:
            return error_response(exc)
        except QueueFull as exc:
            return error_response(ApiError(429, str(exc), None, {"Retry-After": str(exc.retry_after_s)}))
        except InputError as exc:
            return error_response(ApiError(400, str(exc), exc.field))
        except WorkbenchError as exc:
            return error_response(ApiError(400, str(exc)))

    return wrapped


async def read_body(request: Request, service: RestService, *, uploads: bool = False) -> dict[str, Any]:
    """A JSON object, or form fields (multipart files saved and named by path when ``uploads``)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
        body: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                target = UPLOAD_FIELDS.get(name)
                if target is None or not uploads:
                    raise InputError(
                        name, value.filename, f"unexpected file; send files as {', '.join(UPLOAD_FIELDS)}"
                    )
                data = await value.read()
                saved = await run_in_threadpool(service.files.save_upload, value.filename or "", data)
                body[target] = str(saved)
            else:
                body[name] = value
        return body
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise ApiError(
            413, f"body: larger than {MAX_JSON_BYTES // 2**20} MiB; send audio as multipart files", "body"
        )
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(
            413, f"body: larger than {MAX_JSON_BYTES // 2**20} MiB; send audio as multipart files", "body"
        )
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        pairs = None if content_type == "application/json" else _key_values(raw)
        if pairs is None:
            raise ApiError(400, f"body: not valid JSON ({exc})", "body") from None
        return pairs
    if not isinstance(parsed, dict):
        raise ApiError(400, "body: must be a JSON object of fields", "body")
    return parsed


def _key_values(raw: bytes) -> dict[str, Any] | None:
    """``a=1&b=x`` sent without a form content type, as upstream's server also reads it (ace-step/ACE-Step-1.5@6d467e4
    acestep/api/http/release_task_request_parser.py: a body that is not JSON is parsed as a query string); None
    when the body is not that either, so the JSON error is the one reported."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=500
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs) if pairs else None


def _key(service: RestService, request: Request, body: dict[str, Any] | None = None) -> str:
    token = body.pop("ai_token", None) if body is not None else None
    return service.keys.identify(
        request.headers.get("authorization"), token if isinstance(token, str) else None
    )


def _task_ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("task_id_list", body.get("task_ids"))
    if isinstance(ids, str):
        try:
            ids = json.loads(ids) if ids.strip().startswith("[") else [ids]
        except json.JSONDecodeError:
            raise InputError("task_id_list", ids, "give a list of task ids") from None
    if ids is None and isinstance(body.get("task_id"), str):
        ids = [body["task_id"]]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError("task_id_list", ids, "give a list of task ids")
    if len(ids) > MAX_QUERY_IDS:
        raise InputError("task_id_list", len(ids), f"ask for at most {MAX_QUERY_IDS} tasks at once")
    return ids


def build_api(service: RestService, *, title: str = "ACE Workbench API") -> FastAPI:
    app = FastAPI(
        title=title,
        description="ACE-Step 1.5's REST contract served by ACE Workbench; see docs/api.md.",
        version="1.0",
    )
    add_routes(app, service)
    return app


def add_routes(app: FastAPI, service: RestService) -> None:  # noqa: C901 - one short handler per route
    @app.get("/health", tags=["server"])
    @_errors
    async def health() -> Response:
        engine = service.workbench.engine
        loaded = engine is not None and engine.loaded
        return ok(
            {
                "status": "ok",
                "service": "ACE-Step API",
                "version": "1.0",
                "server": "ACE Workbench",
                "models_initialized": loaded,
                "llm_initialized": service.planner is not None,
                "loaded_model": service.model_name if loaded else None,
                "loaded_lm_model": _lm_name(service),
                "api_keys_required": service.keys.required,
            },
            status="ok",
        )

    @app.post("/release_task", tags=["tasks"], openapi_extra=_body_doc(schema.field_schema(), uploads=True))
    @_errors
    async def release_task(request: Request) -> Response:
        body = await read_body(request, service, uploads=True)
        key = _key(service, request, body)
        reply = await run_in_threadpool(service.submit, key, body)
        return ok(reply, **reply)

    @app.post("/query_result", tags=["tasks"], openapi_extra=_body_doc(_QUERY_DOC))
    @_errors
    async def query_result(request: Request) -> Response:
        body = await read_body(request, service)
        key = _key(service, request, body)
        ids = _task_ids(body)
        wait_s = schema.coerce("wait_s", body.get("wait_s", 0), "float") or 0.0
        wait_s = min(max(wait_s, 0.0), MAX_WAIT_S)
        if wait_s == 0:
            return ok(_query(service, key, ids, 0.0))  # a few indexed reads: cheaper than a thread hop
        return ok(await run_in_threadpool(_query, service, key, ids, wait_s))

    @app.post("/v1/cancel", tags=["tasks"], openapi_extra=_body_doc(_CANCEL_DOC))
    @_errors
    async def cancel(request: Request) -> Response:
        body = await read_body(request, service)
        key = _key(service, request, body)
        task_id = body.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise InputError("task_id", task_id, "give the task_id /release_task returned")
        job = await run_in_threadpool(service.queue.cancel, key, task_id)
        if job is None:
            raise ApiError(404, "task_id: no such task for this API key", "task_id")
        return ok({"task_id": task_id, "state": job.status, "error": job.error})

    @app.get("/v1/audio", tags=["files"])
    @_errors
    async def audio(request: Request, path: str = "") -> Response:
        _key(service, request)
        found, mime = await run_in_threadpool(service.files.download, path)
        return FileResponse(found, media_type=mime, filename=found.name)

    @app.get("/v1/models", tags=["server"])
    @_errors
    async def models(request: Request) -> Response:
        _key(service, request)
        name = service.model_name
        listed = [{"name": name, "is_default": True, "is_loaded": _loaded(service)}]
        data = {"models": listed, "default_model": name}
        return JSONResponse(envelope(data, models=listed, default_model=name, object="list"))

    @app.get("/v1/model_inventory", tags=["server"])
    @_errors
    async def model_inventory(request: Request) -> Response:
        _key(service, request)
        from workbench.engine.requests import TASKS

        name = service.model_name
        return ok(
            {
                "models": [
                    {
                        "name": name,
                        "is_default": True,
                        "is_loaded": _loaded(service),
                        "supported_task_types": list(TASKS),
                    }
                ],
                "default_model": name,
                "lm_models": [{"name": _lm_name(service), "is_loaded": _lm_loaded(service)}]
                if service.planner is not None
                else [],
                "loaded_lm_model": _lm_name(service),
                "llm_initialized": service.planner is not None,
            }
        )

    @app.get("/v1/stats", tags=["server"])
    @_errors
    async def stats(request: Request) -> Response:
        _key(service, request)
        data = await run_in_threadpool(service.queue.stats)
        data["queue_size"] = data["queued"]
        return ok(
            {
                "jobs": {
                    k: data[k] for k in ("total", "queued", "running", "succeeded", "failed", "cancelled")
                },
                **data,
            }
        )

    for path, what in (("/format_input", "/format_input"), ("/v1/create_sample", "/v1/create_sample")):
        app.add_api_route(path, _planner_route(service, what), methods=["POST"], tags=["planner"])

    _add_lora_routes(app, service)
    add_chat_route(app, service)


def _query(service: RestService, key: str, ids: list[str], wait_s: float) -> list[dict[str, Any]]:
    if wait_s > 0:
        service.queue.wait(ids, wait_s)
    jobs = {i: j for i, j in service.queue.jobs(ids).items() if j.key_id == key}
    positions = service.queue.positions(list(jobs))
    return [query_item(jobs.get(i), i, service.queue.progress_text(i), positions.get(i)) for i in ids]


def _lm_name(service: RestService) -> str | None:
    return service.planner.lm_name if service.planner is not None else None


def _lm_loaded(service: RestService) -> bool:
    planner = service.workbench.planner
    return planner is not None and planner.loaded_name == _lm_name(service)


def _loaded(service: RestService) -> bool:
    engine = service.workbench.engine
    return engine is not None and engine.loaded


def _planner_route(service: RestService, what: str) -> Handler:
    @_errors
    async def route(request: Request) -> Response:
        body = await read_body(request, service)
        _key(service, request, body)
        return ok(await run_in_threadpool(service.planner_call, what, body))

    route.__name__ = what.strip("/").replace("/", "_")
    return route


def _add_lora_routes(app: FastAPI, service: RestService) -> None:
    @app.post("/v1/lora/load", tags=["lora"], openapi_extra=_body_doc(_LORA_DOC))
    @_errors
    async def lora_load(request: Request) -> Response:
        body = await read_body(request, service)
        key = _key(service, request, body)
        lora = await run_in_threadpool(service.set_lora, key, body)
        return ok(
            {"message": "LoRA set for this API key's next tasks", "lora_path": lora.path, "scale": lora.scale}
        )

    @app.post("/v1/lora/unload", tags=["lora"])
    @_errors
    async def lora_unload(request: Request) -> Response:
        body = await read_body(request, service)
        key = _key(service, request, body)
        had = service.loras.unload(key)
        return ok({"message": "LoRA cleared for this API key" if had else "this API key had no LoRA"})

    changes: tuple[tuple[str, str, Callable[[str, Any], Any], Callable[[Any], dict[str, Any]]], ...] = (
        (
            "/v1/lora/toggle",
            "use_lora",
            service.loras.toggle,
            lambda v: {"message": f"LoRA {'on' if v else 'off'}", "use_lora": v},
        ),
        (
            "/v1/lora/scale",
            "scale",
            service.loras.scale,
            lambda v: {"message": "scale set for this key's next tasks", "scale": v},
        ),
    )
    for path, field, change, reply in changes:
        app.add_api_route(
            path, _lora_change_route(service, field, change, reply), methods=["POST"], tags=["lora"]
        )

    @app.get("/v1/lora/status", tags=["lora"])
    @_errors
    async def lora_status(request: Request) -> Response:
        key = _key(service, request)
        return ok(service.loras.status(key))


def _lora_change_route(
    service: RestService,
    field: str,
    change: Callable[[str, Any], Any],
    reply: Callable[[Any], dict[str, Any]],
) -> Handler:
    """A route that toggles (``use_lora``, a bool) or rescales (``scale``) the caller's key's LoRA."""
    kind, fix = (
        ("bool", "give true or false")
        if field == "use_lora"
        else ("float", "give the strength (1.0 = trained)")
    )

    @_errors
    async def route(request: Request) -> Response:
        body = await read_body(request, service)
        key = _key(service, request, body)
        value = schema.coerce(field, body.get(field), kind)
        if value is None:
            raise InputError(field, body.get(field), fix)
        if change(key, value) is None:
            raise ApiError(400, f"{field}: this API key has no LoRA; POST /v1/lora/load first", field)
        return ok(reply(value))

    route.__name__ = f"lora_{field}"
    return route


def api_routes(app: FastAPI) -> tuple[BaseRoute, ...]:
    """The app's routes (with /docs and /openapi.json), to put in front of Gradio's own."""
    return tuple(app.routes)


def _body_doc(body_schema: dict[str, Any], *, uploads: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": body_schema}}
    if uploads:
        files = {name: {"type": "string", "format": "binary"} for name in UPLOAD_FIELDS}
        content["multipart/form-data"] = {
            "schema": {"type": "object", "properties": {**body_schema["properties"], **files}}
        }
    return {"requestBody": {"content": content, "required": False}}


_QUERY_DOC = {
    "type": "object",
    "properties": {
        "task_id_list": {"type": "array", "items": {"type": "string"}},
        "wait_s": {
            "type": "number",
            "description": f"wait up to this long (max {MAX_WAIT_S:g} s) for a change",
        },
        "ai_token": {"type": "string"},
    },
}
_CANCEL_DOC = {
    "type": "object",
    "properties": {"task_id": {"type": "string"}, "ai_token": {"type": "string"}},
}
_LORA_DOC = {
    "type": "object",
    "properties": {
        "lora_path": {"type": "string"},
        "lora_name": {"type": "string"},
        "scale": {"type": "number"},
    },
}
