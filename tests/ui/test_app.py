"""The workbench app through gradio_client (every named endpoint), its shell, exposure rules and failure modes."""

from __future__ import annotations

import json
import types
from pathlib import Path

import httpx
import numpy as np
import pytest

from workbench.core import audio_io
from workbench.core.errors import InputError

gradio_client = pytest.importorskip("gradio_client")


# The public API, parameter by parameter: (name, default, component, Python type). Scripts depend on it.
API_SCHEMA = {
    "/extend": [
        ("audio", None, "File", "filepath"),
        ("run_id", "", "Textbox", "str"),
        ("side", "right", "Textbox", "str"),
        ("extend_s", 10, "Number", "float"),
        ("prompt", "", "Textbox", "str"),
        ("crossfade_ms", 50, "Number", "float"),
        ("seed", None, "Number", "float"),
        ("steps", None, "Number", "float"),
        ("output_format", "wav", "Textbox", "str"),
    ],
    "/generate": [
        ("prompt", "", "Textbox", "str"),
        ("lyrics", "", "Textbox", "str"),
        ("instrumental", True, "Checkbox", "bool"),
        ("duration_s", 30, "Number", "float"),
        ("bpm", None, "Number", "float"),
        ("keyscale", "auto", "Textbox", "str"),
        ("time_signature", "auto", "Textbox", "str"),
        ("steps", None, "Number", "float"),
        ("guidance_scale", None, "Number", "float"),
        ("shift", None, "Number", "float"),
        ("seed", None, "Number", "float"),
        ("batch_size", 1, "Number", "float"),
        ("genre", "", "Textbox", "str"),
        ("lora", "", "Textbox", "str"),
        ("lora_scale", 1.0, "Number", "float"),
        ("output_format", "wav", "Textbox", "str"),
    ],
    "/master": [
        ("audio", None, "File", "filepath"),
        ("run_id", "", "Textbox", "str"),
        ("target_lufs", -18.0, "Number", "float"),
        ("true_peak_dbtp", -1.0, "Number", "float"),
        ("fade_in_s", 0.0, "Number", "float"),
        ("fade_out_s", 0.0, "Number", "float"),
        ("output_format", "wav", "Textbox", "str"),
    ],
    "/repaint": [
        ("audio", None, "File", "filepath"),
        ("run_id", "", "Textbox", "str"),
        ("start_s", 0, "Number", "float"),
        ("end_s", 1, "Number", "float"),
        ("prompt", "", "Textbox", "str"),
        ("crossfade_ms", 50, "Number", "float"),
        ("seed", None, "Number", "float"),
        ("steps", None, "Number", "float"),
        ("output_format", "wav", "Textbox", "str"),
    ],
    "/stems": [
        ("audio", None, "File", "filepath"),
        ("run_id", "", "Textbox", "str"),
    ],
    "/style_transfer": [
        ("audio", None, "File", "filepath"),
        ("run_id", "", "Textbox", "str"),
        ("prompt", "", "Textbox", "str"),
        ("strengths", "0.5", "Textbox", "str"),
        ("reference", None, "File", "filepath"),
        ("seed", None, "Number", "float"),
        ("steps", None, "Number", "float"),
        ("output_format", "wav", "Textbox", "str"),
    ],
}


@pytest.fixture(scope="module")
def demucs_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.audio.stems import build_tiny_demucs

    return build_tiny_demucs(tmp_path_factory.mktemp("demucs"))


@pytest.fixture(scope="module")
def app(engine, demucs_repo, running_app):
    with running_app(engine, demucs_repo) as (demo, url):
        yield demo, url


@pytest.fixture(scope="module")
def client(app):
    return gradio_client.Client(app[1], verbose=False)


@pytest.fixture(scope="module")
def first_run(client) -> dict:
    files, info = client.predict(
        prompt="warm lounge piano",
        duration_s=2,
        steps=2,
        seed=11,
        batch_size=2,
        genre="hotel_lobby",
        api_name="/generate",
    )
    return {"files": files, "info": info}


def test_all_tabs_build_and_endpoints_are_named(app, client) -> None:
    demo, _url = app
    assert demo.tab_errors == ()
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    # Exactly these: UI-only events are private, not part of the scriptable surface.
    assert endpoints == {"/generate", "/repaint", "/extend", "/style_transfer", "/stems", "/master"}


def test_api_schema_keeps_its_names_defaults_and_types(client) -> None:
    """The hidden inputs are generated from the endpoint signatures; the schema clients see must not move."""
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    schema = {
        name: [
            (p["parameter_name"], p["parameter_default"], p["component"], p["python_type"]["type"])
            for p in endpoint["parameters"]
        ]
        for name, endpoint in api.items()
    }
    assert schema == API_SCHEMA
    assert all(p["parameter_has_default"] for e in api.values() for p in e["parameters"])


def test_generate_endpoint_records_takes(first_run, app) -> None:
    info = first_run["info"]
    assert info["status"] == "ok"
    assert [t["seed"] for t in info["takes"]] == [11, 12]
    assert len(first_run["files"]) == 2
    audio = audio_io.read_audio(first_run["files"][0])
    assert audio.sample_rate == 48_000 and audio.frames == 96_000
    store = app[0].context.store
    row = store.get_run(info["takes"][0]["run_id"])
    assert row is not None and row.genre == "hotel_lobby" and row.prompt == "warm lounge piano"
    assert info["takes"][0]["sidecar"]["request"]["steps"] == 2


def test_repaint_by_run_id_keeps_outside_identical(client, first_run, app) -> None:
    run_id = first_run["info"]["takes"][0]["run_id"]
    files, info = client.predict(run_id=run_id, start_s=0.5, end_s=1.2, steps=2, seed=3, api_name="/repaint")
    assert "bit-identical" in info["preservation"]
    source = audio_io.read_audio(app[0].context.store.get_run(run_id).audio_path).samples
    out = audio_io.read_audio(files[0]).samples
    np.testing.assert_array_equal(out[:, :20_000], source[:, :20_000])
    assert not np.array_equal(out[:, 30_000:50_000], source[:, 30_000:50_000])


def test_extend_upload_left(client, tmp_path: Path, write_tone) -> None:
    src = write_tone(tmp_path / "src.wav", duration_s=2.0)
    files, info = client.predict(
        audio=gradio_client.handle_file(str(src)),
        side="left",
        extend_s=1.0,
        steps=2,
        seed=5,
        api_name="/extend",
    )
    out = audio_io.read_audio(files[0])
    assert out.frames == 3 * 48_000
    assert "bit-identical" in info["preservation"]


def test_style_transfer_sweep_shares_the_seed(client, first_run) -> None:
    run_id = first_run["info"]["takes"][1]["run_id"]
    files, info = client.predict(
        run_id=run_id, prompt="bossa nova", strengths="0.2, 0.8", steps=2, seed=9, api_name="/style_transfer"
    )
    assert len(files) == 2
    renders = info["renders"]
    assert [r["strength"] for r in renders] == [0.2, 0.8]
    assert {r["request"]["seed"] for r in renders} == {9}
    assert [r["request"]["strength"] for r in renders] == [0.2, 0.8]


def test_stems_endpoint_returns_four_stems_and_zip(client, tmp_path: Path, write_tone) -> None:
    src = write_tone(tmp_path / "mix.wav", duration_s=2.0)
    files, info = client.predict(audio=gradio_client.handle_file(str(src)), api_name="/stems")
    names = sorted(Path(f).name for f in files)
    assert names == ["bass.wav", "drums.wav", "other.wav", "stems.zip", "vocals.wav"]
    drums = audio_io.read_audio(next(f for f in files if f.endswith("drums.wav")))
    assert drums.sample_rate == 48_000 and abs(drums.frames - 96_000) <= 2
    assert info["model"] == "tinyht"


def test_master_by_run_id_records_in_sidecar(client, first_run, app) -> None:
    run_id = first_run["info"]["takes"][0]["run_id"]
    file, info = client.predict(
        run_id=run_id, target_lufs=-20.0, true_peak_dbtp=-1.0, fade_out_s=0.5, api_name="/master"
    )
    assert info["recorded_in_sidecar"] is True
    assert info["after"]["integrated_lufs"] == pytest.approx(-20.0, abs=0.6)
    assert info["after"]["true_peak_dbtp"] <= -1.0
    sidecar = json.loads(Path(app[0].context.store.get_run(run_id).sidecar_path).read_text())
    assert sidecar["mastering"][-1]["spec"]["target_lufs"] == -20.0
    assert Path(sidecar["mastering"][-1]["path"]).is_file()


def test_errors_are_readable_and_the_app_keeps_working(client) -> None:
    with pytest.raises(Exception, match=r"run_id='nope': no such run"):
        client.predict(run_id="nope", start_s=0.5, end_s=1.0, api_name="/repaint")
    with pytest.raises(Exception, match=r"bpm=.*30 and 300"):
        client.predict(prompt="x", duration_s=2, steps=2, bpm=999, api_name="/generate")
    with pytest.raises(Exception, match=r"source=None: upload an audio file"):
        client.predict(run_id="", audio=None, strengths="0.5", api_name="/style_transfer")
    files, _info = client.predict(prompt="still alive", duration_s=1, steps=1, api_name="/generate")
    assert len(files) == 1


def test_server_paths_are_not_accepted_or_served(client, app) -> None:
    secret = Path(__file__)  # any file outside the app's folders
    with pytest.raises(Exception):  # noqa: B017 - gradio raises its own error types for this
        client.predict(audio={"path": str(secret), "meta": {"_type": "gradio.FileData"}}, api_name="/stems")
    response = httpx.get(f"{app[1]}gradio_api/file={secret}")
    assert response.status_code in (403, 404)


def test_failing_tab_does_not_break_the_others(engine) -> None:
    from workbench.core.store import Store
    from workbench.ui import build_app

    broken = types.ModuleType("broken_tab")
    broken.TAB_ID, broken.LABEL = "broken", "Broken"

    def build(ctx):
        raise RuntimeError("boom")

    broken.build = build
    demo = build_app(
        engine,
        Store(),
        tabs=["workbench.ui.tab_history", broken, "workbench.ui.no_such_tab", "workbench.ui.tab_ab_missing"],
        load_model=False,
    )
    names = [e.name for e in demo.tab_errors]
    assert names == ["broken_tab", "workbench.ui.no_such_tab", "workbench.ui.tab_ab_missing"]
    assert "boom" in demo.tab_errors[0].message


def test_model_that_cannot_load_explains_the_fix() -> None:
    from workbench.core.store import Store
    from workbench.engine.engine import Engine
    from workbench.ui import build_app

    # A hub id that is in no cache (a registry name like "turbo" could be downloaded on a developer's machine).
    model = "nobody-here/no-such-model"
    demo = build_app(Engine(model), Store(), tabs=["workbench.ui.tab_generate", "workbench.ui.tab_history"])
    ctx = demo.context
    assert ctx.model.wait(30)
    assert ctx.model.state == "failed"
    assert f"workbench models pull {model}" in ctx.model.notice()
    assert "generation is off" in ctx.model.status_line()
    with pytest.raises(Exception, match=f"workbench models pull {model}"):
        ctx.require_engine()
    assert ctx.store.list_runs() is not None  # the store (History) is unaffected


def test_share_without_auth_is_refused_and_auth_parses(tmp_path: Path) -> None:
    from workbench.ui.launch import ServeExtras, ServeOptions, check_exposure, parse_auth

    with pytest.raises(InputError, match="--auth"):
        check_exposure(ServeOptions(share=True))
    with pytest.raises(InputError, match="--auth"):
        check_exposure(ServeOptions(share=True), ServeExtras(allowed_paths=(tmp_path,)))
    check_exposure(ServeOptions(share=True, share_without_auth=True))
    check_exposure(ServeOptions(share=True, auth=[("a", "b")]))
    # an app with its own login (the rater app) is not public without --auth
    check_exposure(ServeOptions(share=True), ServeExtras(auth_fn=lambda user, password: False))
    assert parse_auth("ann:secret") == [("ann", "secret")]
    creds = tmp_path / "users.txt"
    creds.write_text("# raters\nann:one\nbob:two:three\n")
    assert parse_auth(str(creds)) == [("ann", "one"), ("bob", "two:three")]
    with pytest.raises(InputError, match="user:password"):
        parse_auth("no-colon")


def test_cancel_registry_is_per_key_with_one_job_per_key() -> None:
    from workbench.ui.context import CancelRegistry

    reg = CancelRegistry()
    a, b = reg.arm("s1:generate"), reg.arm("s2:generate")
    assert a and b and a != b
    assert reg.arm("s1:generate") is None  # a second Run while s1's job is armed is refused
    flag = reg.claim("s1:generate", a)
    assert flag is not None and reg.claim("s1:generate", a) is None  # claimed once
    assert reg.arm("s1:generate") is None  # ... and while it runs
    assert reg.cancel("s1:generate") and flag.is_set() and not reg.get("s2:generate").is_set()
    reg.release("s1:generate", a)
    assert not reg.cancel("s1:generate") and not reg.cancel("s3:generate")
    again = reg.arm("s1:generate")
    assert again and not reg.get("s1:generate").is_set()  # a fresh flag for the next job
    # Cancel while still queued frees the slot; the late job's stale ticket is refused.
    assert reg.cancel("s2:generate") and reg.claim("s2:generate", b) is None
    assert reg.arm("s2:generate") is not None


def test_app_cli_help(capsys) -> None:
    from workbench.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["app", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--model", "--host", "--port", "--share", "--auth", "--mode", "--i-know-share-is-public"):
        assert flag in out


def test_app_cli_refuses_public_share_before_loading(capsys) -> None:
    from workbench.cli.main import main

    assert main(["app", "--share", "--model", "tiny"]) == 2
    assert "--auth" in capsys.readouterr().err


def test_first_page_is_served_while_the_model_loads(tiny_model_dir, demucs_repo, free_port) -> None:
    from workbench.core.store import Store
    from workbench.engine.engine import Engine
    from workbench.ui import AppSettings, build_app
    from workbench.ui.launch import ServeOptions, launch

    engine = Engine("tiny")
    demo = build_app(
        engine,
        Store(),
        settings=AppSettings(demucs_repo=demucs_repo),
        tabs=["workbench.ui.tab_generate", "workbench.ui.tab_history"],
        load_model=False,
    )
    ctx = demo.context
    port = free_port()
    with engine._lock:  # hold the engine so the background load cannot finish yet
        launch(demo, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
        try:
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert page.status_code == 200
            assert ctx.model.state == "loading"
            assert "Loading model" in ctx.model.status_line()
            assert "is loading" in ctx.model.notice()
        except BaseException:
            demo.close()
            raise
    try:
        assert ctx.model.wait(60) and ctx.model.state == "ready"
        assert "device cpu" in ctx.model.status_line() and ctx.model.notice() == ""
    finally:
        demo.close()


def test_app_py_entry_refuses_public_share(capsys) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("app_entry", Path(__file__).resolve().parents[2] / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--share", "--model", "tiny"]) == 2
    assert "--i-know-share-is-public" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0


def test_prune_temp_removes_only_old_entries(tmp_path: Path) -> None:
    import os
    import time

    from workbench.ui.shell import prune_temp

    old_dir, old_file, new_file = tmp_path / "stems-old", tmp_path / "old.png", tmp_path / "new.png"
    old_dir.mkdir()
    (old_dir / "drums.wav").write_bytes(b"x")
    old_file.write_bytes(b"x")
    new_file.write_bytes(b"x")
    past = time.time() - 8 * 86_400
    for p in (old_dir, old_file):
        os.utime(p, (past, past))
    assert prune_temp(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["new.png"]


NETWORK_PROBE = """
import os, socket, sys, threading, time
for name in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(name, None)  # the app itself must switch these off
looked_up = []
real = socket.getaddrinfo
def spy(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        looked_up.append(host)
    return real(host, *args, **kwargs)
socket.getaddrinfo = spy
# Analytics, version checks and telemetry run in background threads: record every thread's target as it starts,
# so the check sees them whether or not they have reached the network yet (no waiting on them).
started = []
real_start = threading.Thread.start
def record(self):
    target = getattr(self, "_target", None)
    started.append(f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', self.name)}")
    return real_start(self)
threading.Thread.start = record
sys.argv = ["app.py", "--model", "tiny", "--port", sys.argv[1]]
import runpy
threading.Thread(target=lambda: runpy.run_path(APP, run_name="__main__"), daemon=True).start()
import urllib.request
answered = False
for _ in range(600):  # a readiness poll with a deadline: what it waits for is the app's first answer
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[4]}/", timeout=1); answered = True; break
    except OSError:
        time.sleep(0.1)
# One write per line, each starting on a fresh line: the app's own start-up messages come from other threads.
sys.stdout.write(f"\\nANSWERED {answered}\\nLOOKUPS {sorted(set(looked_up))}\\nTHREADS {sorted(set(started))}\\n")
sys.stdout.flush()
os._exit(0)
"""
PHONES_HOME = ("analytics", "version", "telemetry", "update_check")


def test_no_outbound_lookups_at_start(tiny_model_dir, free_port) -> None:
    import subprocess
    import sys

    app_py = Path(__file__).resolve().parents[2] / "app.py"
    code = NETWORK_PROBE.replace("APP", repr(str(app_py)))
    out = subprocess.run(
        [sys.executable, "-c", code, str(free_port())], capture_output=True, text=True, timeout=300
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("LOOKUPS")), None)
    assert line is not None, out.stderr[-2000:]
    assert "ANSWERED True" in out.stdout.splitlines(), out.stderr[
        -2000:
    ]  # an app that never started proves nothing
    assert line == "LOOKUPS []"
    threads = next(ln for ln in out.stdout.splitlines() if ln.startswith("THREADS"))
    assert not [word for word in PHONES_HOME if word in threads.lower()], threads
