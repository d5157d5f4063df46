"""A REST server on the tiny engine, served by uvicorn in a thread, and clients written like the real ones.

``flat_client`` reads the reply the way brightears/ace_music's async client does (``task_id`` at the top level,
the ``result`` string passed whole to ``/v1/audio``); ``envelope_client`` the way most clients do (``data.task_id``,
``json.loads(result)[0]["file"]``). Both wait with ``/query_result``'s long-poll (``wait_s``): each round returns
when the server reports a change, and the loop is bounded, so no test sleeps.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

MAX_ROUNDS = 400  # long-poll rounds before a test gives up on a task
LM_CAPTION_TOKENS = 6  # the random tiny LM writes captions to the cap; short ones keep its tests quick


@dataclass
class Server:
    url: str
    service: Any
    workbench: Any


@pytest.fixture
def make_server(engine: Any, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``make_server(keys=(), hold=None, progress_hook=None, store=None, lm=None, **ApiSettings)``: a running API
    on the session's tiny engine with its own store and folders. ``hold(job)`` runs in the worker before each
    task, ``progress_hook`` on each engine (and LM) progress update (tests hold a task at a known point with
    them). ``lm``: a ``Planner`` holding the tiny LM, connected as the API's planner with short captions."""
    import uvicorn

    from workbench.core.store import Store
    from workbench.rest.auth import ApiKeys
    from workbench.rest.routes import build_api
    from workbench.rest.service import ApiSettings, RestService
    from workbench.services import Workbench

    running: list[tuple[Any, threading.Thread, Any]] = []

    def make(
        keys: tuple[str, ...] = (),
        hold: Callable[[Any], None] | None = None,
        progress_hook: Callable[[Any], None] | None = None,
        store: Path | None = None,
        lm: Any = None,
        **settings: Any,
    ) -> Server:
        n = len(running)
        workbench = Workbench(
            engine,
            Store(store or tmp_path / f"store{n}.sqlite"),
            runs_dir=tmp_path / f"runs{n}",
            temp_dir=tmp_path / f"tmp{n}",
            progress_hook=progress_hook,
        )
        planner = None
        if lm is not None:
            from workbench.rest.lm import LmPlanner

            workbench.planner = lm
            planner = LmPlanner(workbench, "lm-tiny", caption_tokens=LM_CAPTION_TOKENS, lyrics_tokens=16)
        service = RestService(
            workbench, ApiKeys(keys), ApiSettings(**settings), planner=planner, loras_dir=tmp_path / "loras"
        )
        service.on_task_start = hold
        service.start()
        sock = socket.socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as workbench serve does
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts: no start-up polling
        server = uvicorn.Server(uvicorn.Config(build_api(service), log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, service))
        return Server(f"http://127.0.0.1:{sock.getsockname()[1]}", service, workbench)

    yield make
    for server, thread, service in running:
        service.stop()
        server.should_exit = True
        thread.join(10)
    engine.unload_lora()


async def _wait_done(client: httpx.AsyncClient, task_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(MAX_ROUNDS):
        resp = await client.post(
            "/query_result", json={"task_id_list": [task_id], "wait_s": 10}, headers=headers
        )
        resp.raise_for_status()
        (item,) = resp.json()["data"]
        if item["status"] != 0:
            return item
    raise AssertionError(f"task {task_id} did not finish in {MAX_ROUNDS} rounds")


class FlatClient:
    """Like brightears/ace_music@69ecc4e:src/ace_client.py: top-level task_id, the result string as the path."""

    def __init__(self, url: str, key: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.headers = headers
        self.client = httpx.AsyncClient(base_url=url, timeout=120, headers=headers)

    async def submit(self, **fields: Any) -> str:
        resp = await self.client.post("/release_task", json=fields)
        resp.raise_for_status()
        return str(resp.json()["task_id"])

    async def result(self, task_id: str) -> dict[str, Any]:
        return await _wait_done(self.client, task_id, {})

    async def download(self, result: dict[str, Any]) -> bytes:
        resp = await self.client.get("/v1/audio", params={"path": result["result"]})
        resp.raise_for_status()
        return resp.content

    async def close(self) -> None:
        await self.client.aclose()


class EnvelopeClient:
    """Clients of the wrapped shape: data.task_id, then json.loads(result) and each item's file URL."""

    def __init__(self, url: str, key: str | None = None) -> None:
        self.client = httpx.AsyncClient(base_url=url, timeout=120)
        self.token = key

    async def submit(self, files: dict[str, Any] | None = None, **fields: Any) -> str:
        if self.token:
            fields["ai_token"] = self.token
        if files:
            form = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in fields.items()}
            resp = await self.client.post("/release_task", data=form, files=files)
        else:
            resp = await self.client.post("/release_task", json=fields)
        resp.raise_for_status()
        body = resp.json()
        assert body["code"] == 200 and body["error"] is None
        return str(body["data"]["task_id"])

    async def result(self, task_id: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await _wait_done(self.client, task_id, headers)

    async def download_all(self, item: dict[str, Any]) -> list[bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        out = []
        for entry in json.loads(item["result"]):
            resp = await self.client.get(entry["file"], headers=headers)
            resp.raise_for_status()
            out.append(resp.content)
        return out

    async def close(self) -> None:
        await self.client.aclose()


@pytest.fixture
def flat_client() -> Callable[..., FlatClient]:
    return FlatClient


@pytest.fixture
def envelope_client() -> Callable[..., EnvelopeClient]:
    return EnvelopeClient
