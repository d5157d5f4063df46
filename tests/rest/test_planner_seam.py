"""The seam the LM planner plugs into: with a ``planner`` set, thinking/format/sample go through it."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from workbench.rest import db


class RecordingPlanner:
    """Writes a caption the way a planner would and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def format_input(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("format", body))
        return {"caption": body["prompt"].upper(), "lyrics": body.get("lyrics", ""), "bpm": 90}

    def create_sample(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("sample", body))
        return {"caption": f"a song about {body['query']}"}

    def plan_request(
        self, request: dict[str, Any], flags: tuple[str, ...], sample_query: str
    ) -> dict[str, Any]:
        self.calls.append(("plan", (flags, sample_query)))
        return {**request, "prompt": f"planned: {request['prompt'] or sample_query}", "bpm": 96}


def test_a_connected_planner_plans_formats_and_samples(make_server) -> None:
    release = threading.Event()
    server = make_server(hold=lambda job: release.wait(60))
    planner = RecordingPlanner()
    server.service.planner = planner
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            body = {
                "prompt": "",
                "sample_mode": True,
                "sample_query": "rain",
                "audio_duration": 1,
                "batch_size": 1,
            }
            reply = client.post("/release_task", json=body).json()
            job = db.get_jobs(server.workbench.store, [reply["task_id"]])[reply["task_id"]]
            assert job.request["prompt"] == "planned: rain" and job.request["bpm"] == 96
            assert ("plan", (("sample_mode",), "rain")) in planner.calls
            formatted = client.post("/format_input", json={"prompt": "lofi", "lyrics": "la"}).json()
            assert formatted["data"] == {"caption": "LOFI", "lyrics": "la", "bpm": 90}
            sample = client.post("/v1/create_sample", json={"query": "the sea"}).json()
            assert sample["data"]["caption"] == "a song about the sea"
            assert client.get("/health").json()["data"]["llm_initialized"] is True
    finally:
        release.set()
