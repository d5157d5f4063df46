"""The Gradio API catalogue of bad inputs, driven through gradio_client against the app on the tiny engine.

Each case asserts its own message; none may be the app's generic "Unexpected X" line. Integer seeds must reach
the run unchanged (JSON ints are never rounded through float).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio_client
import numpy as np
import pytest
import soundfile as sf

MESSAGES: list[tuple[str, str]] = []


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory, free_port) -> Iterator[Any]:
    from workbench.core.store import Store
    from workbench.ui import DEFAULT_TABS, AppSettings, build_app
    from workbench.ui.launch import ServeOptions, launch

    root = tmp_path_factory.mktemp("api")
    demo = build_app(engine, Store(root / "store.sqlite"), settings=AppSettings(), tabs=DEFAULT_TABS)
    port = free_port()
    launch(demo, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
    try:
        demo.context.model.wait(60)
        yield gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory, write_silent_flac) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api-files")
    out = {}
    out["hour"] = write_silent_flac(root / "hour.flac", 3600)
    (root / "notes.wav").write_text("not audio")
    out["text"] = root / "notes.wav"
    full = root / "full.flac"
    sf.write(full, np.random.default_rng(0).uniform(-0.3, 0.3, (48_000, 2)).astype(np.float32), 48_000)
    (root / "cut.flac").write_bytes(full.read_bytes()[:60])
    out["cut"] = root / "cut.flac"
    sf.write(root / "ch80.wav", np.zeros((10, 80), dtype=np.float32), 48_000, subtype="FLOAT")
    out["ch80"] = root / "ch80.wav"
    sine = 0.3 * np.sin(2 * np.pi * 220 * np.arange(96_000) / 48_000)
    sf.write(root / "tone.wav", np.stack([sine, sine], axis=1).astype(np.float32), 48_000)
    out["tone"] = root / "tone.wav"
    return out


GEN = {"prompt": "x", "duration_s": 1, "steps": 1}
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("seed-2-63", "/generate", {**GEN, "seed": 2**63}, "seed=9223372036854775808: must be a whole number"),
    ("seed-takes", "/generate", {**GEN, "seed": 2**63 - 1, "batch_size": 2},
     "seed=9223372036854775807: the 2 takes would use seeds up to 9223372036854775808"),
    ("seed-fraction", "/generate", {**GEN, "seed": 1.5}, "seed=1.5: must be a whole number"),
    ("seed-text", "/generate", {**GEN, "seed": "abc"}, "seed='abc': must be a whole number"),
    ("seed-negative", "/generate", {**GEN, "seed": -5}, "seed=-5: must be a whole number"),
    ("steps-huge", "/generate", {**GEN, "steps": 1e9}, "steps=1000000000: must be between 1 and 200"),
    ("batch-huge", "/generate", {**GEN, "batch_size": 1e6}, "batch_size=1000000: must be between 1 and 16"),
    ("duration-huge", "/generate", {**GEN, "duration_s": -1e308}, "duration_s=-1e+308: must be"),
    ("bpm-huge", "/generate", {**GEN, "bpm": 1e300}, "bpm="),
    ("genre", "/generate", {**GEN, "genre": "nightclub"}, "genre='nightclub': unknown genre; known genres: hotel_lobby"),
    ("keyscale", "/generate", {**GEN, "keyscale": "C major; DROP TABLE runs"}, "write it like 'C major'"),
    ("lora-traversal", "/generate", {**GEN, "lora": "../../../etc"}, "not in the LoRA folder"),
    ("format", "/generate", {**GEN, "output_format": "wav/../../x"}, "choose one of wav, flac, mp3"),
    ("prompt-10mb", "/generate", {**GEN, "prompt": "a" * 10_000_000}, "longer than 2000 characters"),
    ("lyrics-3mb", "/generate", {**GEN, "lyrics": "la " * 1_000_000, "instrumental": False}, "longer than 8000 characters"),
    ("repaint-run-id", "/repaint", {"run_id": "../../../../etc/passwd", "start_s": 0, "end_s": 1}, "no such run"),
    ("repaint-sql", "/repaint", {"run_id": "' OR '1'='1", "start_s": 0, "end_s": 1}, "no such run"),
    ("repaint-no-source", "/repaint", {"start_s": 0, "end_s": 1}, "upload an audio file"),
    ("style-strengths", "/style_transfer", {"audio": "tone", "strengths": "nan,inf"}, "each strength must be between 0 and 1"),
    ("master-fade", "/master", {"audio": "tone", "fade_out_s": -5}, "use a length in seconds >= 0"),
    ("master-hour", "/master", {"audio": "hour"}, "is 3600.0 s long; the maximum is 600 s"),
    ("master-text", "/master", {"audio": "text"}, "not a readable audio file"),
    ("master-truncated", "/master", {"audio": "cut"}, "it may be truncated"),
    ("master-80-channels", "/master", {"audio": "ch80"}, "has 80 channels; the maximum is 64"),
    ("repaint-hour", "/repaint", {"audio": "hour", "start_s": 0, "end_s": 1, "steps": 1}, "is 3600.0 s long"),
    ("extend-hour", "/extend", {"audio": "hour", "steps": 1}, "is 3600.0 s long"),
    ("extend-too-far", "/extend", {"audio": "tone", "extend_s": 599, "steps": 1}, "600"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "api", "kwargs", "message"), CASES, ids=[c[0] for c in CASES])
def test_api_case(client, files, name, api, kwargs, message) -> None:
    args = dict(kwargs)
    if "audio" in args:
        args["audio"] = gradio_client.handle_file(str(files[args["audio"]]))
    with pytest.raises(Exception) as info:  # noqa: B017 - gradio_client raises AppError with the message
        client.predict(**args, api_name=api)
    text = str(info.value)
    MESSAGES.append((name, text))
    assert message in text, text
    assert "unexpected" not in text.lower() and "Traceback" not in text


RAW = [
    ("raw-duration-nan", {"duration_s": "NaN"}, "duration_s=nan: must be a number between 1 and 600"),
    ("raw-duration-inf", {"duration_s": "Infinity"}, "duration_s=inf: must be a number between 1 and 600"),
    ("raw-guidance-nan", {"guidance_scale": "NaN"}, "guidance_scale=nan: must be a number"),
    ("raw-steps-text", {"steps": '"many"'}, "steps='many': must be a whole number"),
    ("raw-duration-list", {"duration_s": "[1, 2]"}, "duration_s=[1, 2]: must be a number"),
    ("raw-duration-object", {"duration_s": '{"a": 1}'}, "duration_s={'a': 1}: must be a number"),
]


def _raw_generate(base: str, values: dict[str, str]) -> str:
    """POST /gradio_api/call/generate with JSON text as written (NaN and Infinity, which no client sends), then
    read the event stream; returns the error text the server sent."""
    import inspect

    import httpx

    from workbench.ui import api

    names = [p for p in inspect.signature(api.generate).parameters if p != "ctx"]
    defaults = {"prompt": '"x"', "duration_s": "1", "steps": "1"}
    parts = [values.get(n) or defaults.get(n) or "null" for n in names]
    body = '{"data": [' + ", ".join(parts) + "]}"
    with httpx.Client(base_url=base, timeout=60) as http:
        event = http.post(
            "gradio_api/call/generate", content=body, headers={"content-type": "application/json"}
        )
        event_id = event.json()["event_id"]
        return http.get(f"gradio_api/call/generate/{event_id}").text


@pytest.mark.parametrize(("name", "values", "message"), RAW, ids=[r[0] for r in RAW])
def test_raw_json_case(client, name, values, message) -> None:
    text = _raw_generate(client.src, values)
    MESSAGES.append((name, text))
    assert "event: error" in text and message in text, text
    assert "unexpected" not in text.lower()


@pytest.mark.parametrize("seed", [2**53 + 1, 2**60 + 1, 2**63 - 2])
def test_integer_seeds_stay_exact(client, seed) -> None:
    _files, info = client.predict(**GEN, seed=seed, api_name="/generate")
    assert info["request"]["seed"] == seed and info["takes"][0]["seed"] == seed


def test_seed_as_raw_json_text_stays_exact(client) -> None:
    text = _raw_generate(client.src, {"seed": '"9007199254740993"'})
    assert "event: complete" in text and '"seed": 9007199254740993' in text


def _upload(base: str, size: int) -> Any:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as http:
        return http.post("gradio_api/upload", files={"files": ("big.wav", b"\0" * size, "audio/wav")})


def test_admin_app_caps_uploads_by_default(client) -> None:
    """Without a flag the admin app has the default cap: under it an upload is stored, the cap is Gradio's."""
    from workbench.ui.launch import ADMIN_UPLOAD_LIMIT_BYTES, ServeExtras, ServeOptions, upload_limit

    assert upload_limit(ServeOptions(), ServeExtras()) == ADMIN_UPLOAD_LIMIT_BYTES > 600 * 48_000 * 2 * 4
    reply = _upload(client.src, 10_000)
    assert reply.status_code == 200, reply.text
    # An app that refuses every upload (the rater app) keeps refusing whatever the operator sets.
    assert upload_limit(ServeOptions(max_upload_bytes=10**9), ServeExtras(max_file_size=0)) == 0


def test_operator_upload_cap_refuses_a_bigger_file_naming_the_cap(engine, tmp_path, free_port) -> None:
    from workbench.core.store import Store
    from workbench.ui import DEFAULT_TABS, AppSettings, build_app
    from workbench.ui.launch import ServeOptions, launch

    demo = build_app(engine, Store(tmp_path / "store.sqlite"), settings=AppSettings(), tabs=DEFAULT_TABS)
    port = free_port()
    launch(demo, ServeOptions(port=port, max_upload_bytes=100_000), prevent_thread_lock=True, quiet=True)
    try:
        base = f"http://127.0.0.1:{port}/"
        refused = _upload(base, 200_000)
        MESSAGES.append(("upload-over-cap", refused.text))
        assert refused.status_code == 413, refused.text
        assert "File size exceeded maximum allowed size of 100000 bytes" in refused.text
        assert _upload(base, 50_000).status_code == 200
    finally:
        demo.close()


def test_no_api_message_is_generic() -> None:
    assert len(MESSAGES) >= len(CASES) + len(RAW)
    assert [m for m in MESSAGES if "unexpected" in m[1].lower()] == []
