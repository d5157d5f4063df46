"""Submit -> poll -> download through the API, with both kinds of client, and the audio equals Engine.run's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from workbench import records
from workbench.engine.requests import Repaint, StyleTransfer, Text2Music


def _engine_bytes(engine: Any, request: Any, tmp: Path, fmt: str = "wav") -> list[bytes]:
    """What the engine gives for the same request, written the way every result is written."""
    result = engine.run(request)
    return [Path(t.path).read_bytes() for t in records.record(result, tmp, fmt)]


def test_text2music_flat_client_matches_engine_run_bit_for_bit(
    make_server, flat_client, engine, tmp_path
) -> None:
    server = make_server()

    async def main() -> tuple[dict[str, Any], bytes, dict[str, Any]]:
        client = flat_client(server.url)
        try:
            # exactly what that client sends (GenerationParams.model_dump(exclude_none=True)), shorter
            task_id = await client.submit(
                prompt="warm lobby jazz",
                lyrics="",
                audio_duration=2.0,
                key_scale="",
                time_signature="",
                seed=1234,
                batch_size=1,
                audio_format="wav",
                task_type="text2music",
                vocal_language="en",
                inference_steps=3,
                guidance_scale=7.0,
                thinking=False,
            )
            item = await client.result(task_id)
            audio = await client.download(item)
            health = (await client.client.get("/health")).json()
            return item, audio, health
        finally:
            await client.close()

    item, audio, health = asyncio.run(main())
    assert item["status"] == 1 and item["error"] is None
    assert item["result_items"] == json.loads(item["result"])
    (entry,) = item["result_items"]
    assert entry["seed"] == 1234 and entry["seed_value"] == "1234" and isinstance(entry["seed"], int)
    assert entry["dit_model"] == "tiny" and entry["file"].startswith("/v1/audio?path=")
    expected = _engine_bytes(
        engine,
        Text2Music(prompt="warm lobby jazz", duration_s=2.0, steps=3, guidance_scale=7.0, seed=1234),
        tmp_path,
    )
    assert audio == expected[0]
    # the run is in the store (History) under the id the item names
    row = server.workbench.store.get_run(entry["run_id"])
    assert row is not None and row.seed == 1234 and row.audio_path == entry["path"]
    assert health["status"] == "ok" and health["data"]["status"] == "ok"


def test_envelope_client_batch_gives_consecutive_seeds_and_every_file(
    make_server, envelope_client, engine, tmp_path
) -> None:
    server = make_server()

    async def main() -> tuple[dict[str, Any], list[bytes]]:
        client = envelope_client(server.url)
        try:
            task_id = await client.submit(
                caption="spa pad", duration=2, inference_steps=2, seed=77, batch_size=2, audio_format="flac"
            )
            item = await client.result(task_id)
            return item, await client.download_all(item)
        finally:
            await client.close()

    item, files = asyncio.run(main())
    items = json.loads(item["result"])
    assert [i["seed"] for i in items] == [77, 78] and item["seeds"] == [77, 78]
    expected = _engine_bytes(
        engine, Text2Music(prompt="spa pad", duration_s=2.0, steps=2, seed=77, batch_size=2), tmp_path, "flac"
    )
    assert files == expected


def test_repaint_with_an_uploaded_source(make_server, envelope_client, engine, src_wav, tmp_path) -> None:
    server = make_server()

    async def main() -> tuple[dict[str, Any], list[bytes]]:
        client = envelope_client(server.url)
        try:
            with src_wav.open("rb") as fh:
                task_id = await client.submit(
                    files={"src_audio": ("take.wav", fh, "audio/wav")},
                    task_type="repaint",
                    prompt="brighter",
                    repainting_start=1.0,
                    repainting_end=2.0,
                    inference_steps=2,
                    seed=5,
                    batch_size=1,
                    audio_format="wav",
                )
            item = await client.result(task_id)
            return item, await client.download_all(item)
        finally:
            await client.close()

    item, files = asyncio.run(main())
    assert item["status"] == 1, item["error"]
    (entry,) = item["result_items"]
    assert "equal" in entry["preservation"] or entry["preservation"]
    request = Repaint(src=str(src_wav), prompt="brighter", start_s=1.0, end_s=2.0, steps=2, seed=5)
    assert files == _engine_bytes(engine, request, tmp_path)


@pytest.mark.slow
def test_cover_of_an_earlier_result_with_an_uploaded_reference(
    make_server, envelope_client, engine, write_tone, tmp_path
) -> None:
    server = make_server()
    reference = write_tone(tmp_path / "ref.wav", duration_s=2.0, freq_hz=330.0)

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
        client = envelope_client(server.url)
        try:
            first = await client.result(
                await client.submit(
                    prompt="base", duration=2, inference_steps=2, seed=9, batch_size=1, audio_format="wav"
                )
            )
            source_url = json.loads(first["result"])[0]["file"]  # chaining: an earlier result is a source
            with reference.open("rb") as fh:
                task_id = await client.submit(
                    files={"reference_audio": ("ref.wav", fh, "audio/wav")},
                    task_type="cover",
                    src_audio_path=source_url,
                    audio_cover_strength=0.6,
                    prompt="as a string quartet",
                    inference_steps=2,
                    seed=11,
                    batch_size=1,
                    audio_format="wav",
                )
            item = await client.result(task_id)
            return first, item, await client.download_all(item)
        finally:
            await client.close()

    first, item, files = asyncio.run(main())
    assert item["status"] == 1, item["error"]
    source = first["result_items"][0]["path"]
    uploaded = json.loads((server.workbench.store.get_run(item["run_ids"][0])).recipe_json)["request"][
        "reference"
    ]
    request = StyleTransfer(
        src=source, reference=uploaded, strength=0.6, prompt="as a string quartet", steps=2, seed=11
    )
    assert files == _engine_bytes(engine, request, tmp_path)
    assert sf.info(str(reference)).duration == 2.0
