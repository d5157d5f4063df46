"""Real-browser tests of the workbench (Debian Chromium through Playwright) on the tiny engine.

Screenshots go to test-artifacts/ui/. The default run covers generate (progress, then audio), cancel and two
concurrent sessions; the tour of the other tabs is marked slow (`pytest -m "browser and slow"`). A progress
hook (``step_gate``) holds a run at its second step while a test acts on it, so what the test sees never
depends on how fast the tiny model steps.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
TIMEOUT_MS = 60_000

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def gate(step_gate):
    return step_gate()


@pytest.fixture(scope="module")
def app_url(engine, gate, tmp_path_factory, running_app):
    from workbench.audio.stems import build_tiny_demucs

    repo = build_tiny_demucs(tmp_path_factory.mktemp("demucs"))
    with running_app(engine, repo, hook=gate) as (_demo, url):
        yield url


@pytest.fixture(scope="module")
def browser(launch_chromium):
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def _page(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            external.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None
        ),
    )
    page.goto(url, wait_until="load")
    page.wait_for_selector("#status-line:has-text('device')")  # the model is loaded
    page._external = external  # type: ignore[attr-defined]
    return page


# Screenshots that docs/ shows: artifact name -> docs/img file.
DOC_IMAGES = {
    "generate": "ui-generate",
    "edit-repaint": "ui-edit-repaint",
    "style-transfer": "ui-style-transfer",
    "stems": "ui-stems",
    "mastering": "ui-mastering",
    "history": "ui-history",
}


def _shot(page, name: str) -> None:
    import os
    import shutil

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    # Tests never rewrite tracked files unless asked: WORKBENCH_UPDATE_DOC_IMAGES=1 refreshes docs/img.
    if os.environ.get("WORKBENCH_UPDATE_DOC_IMAGES") == "1" and name in DOC_IMAGES:
        docs_img = Path(__file__).resolve().parents[2] / "docs" / "img"
        shutil.copyfile(ARTIFACTS / f"{name}.png", docs_img / f"{DOC_IMAGES[name]}.png")


def _wait_audio(page, elem_id: str) -> None:
    """Gradio 6 renders output audio as a waveform; the download link appears once a file is set."""
    page.wait_for_selector(
        f"#{elem_id} a[data-testid='download-link'], #{elem_id} a[download]", state="attached"
    )


def _fill_number(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")


def _generate(page, *, seed: int, steps: int, caption: str = "calm hotel lobby piano") -> None:
    page.locator("#gen-caption textarea").fill(caption)
    page.locator("#gen-duration input[type=number]").fill("2")
    page.locator("#gen-duration input[type=number]").press("Tab")
    page.locator("#gen-random-seed input").uncheck()
    _fill_number(page, "gen-seed", seed)
    _fill_number(page, "gen-steps", steps)
    page.locator("#gen-run").click()


def test_generate_shows_progress_then_audio(browser, app_url, gate) -> None:
    page = _page(browser, app_url)
    gate.hold()
    try:
        page.get_by_role("tab", name="Generate").click()
        page.locator("#gen-genre input").click()
        page.get_by_role("option", name="Spa").click()
        page.wait_for_function("document.querySelector('#gen-caption textarea').value.includes('ambient')")
        _generate(page, seed=1234, steps=12)
        page.wait_for_selector("text=/step \\d+\\/12/")
        _shot(page, "generate-progress")
    finally:
        gate.release()
    _wait_audio(page, "gen-audio-0")
    page.wait_for_selector("#gen-title-0:has-text('seed 1234')")
    summary = page.locator("#gen-summary-0").inner_text()
    assert "LUFS" in summary and "dBTP" in summary and "(asked" in summary
    assert page.locator("#gen-status").inner_text().startswith("Done:")
    _shot(page, "generate")
    assert page._external == []  # no request leaves the machine


def test_cancel_stops_the_run(browser, app_url, gate) -> None:
    page = _page(browser, app_url)
    gate.hold()
    try:
        _generate(page, seed=77, steps=60)
        page.wait_for_selector("text=/step [1-9]\\d*\\/60/")
        page.locator("#gen-cancel").click()
        page.wait_for_selector("#gen-status:has-text('Cancelling')")  # the server has the cancel
    finally:
        gate.release()
    page.wait_for_selector("#gen-status:has-text('Cancelled after')")
    text = page.locator("#gen-status").inner_text()
    done = int(re.search(r"after (\d+) of 60", text).group(1))
    assert done < 60
    _shot(page, "generate-cancelled")


def test_two_sessions_do_not_mix_and_cancel_is_per_user(browser, app_url, gate) -> None:
    alice, bob = _page(browser, app_url), _page(browser, app_url)
    gate.hold()
    try:
        _generate(alice, seed=111, steps=200, caption="alice long run")  # held at step 2 until released
        alice.wait_for_selector("text=/step [1-9]\\d*\\/200/")
        _generate(bob, seed=222, steps=4, caption="bob short run")  # queued behind Alice (one GPU slot)
        alice.locator("#gen-cancel").click()
        alice.wait_for_selector("#gen-status:has-text('Cancelling')")  # the server has Alice's cancel
    finally:
        gate.release()
    alice.wait_for_selector("#gen-status:has-text('Cancelled after')")
    _wait_audio(bob, "gen-audio-0")  # Bob's job was not cancelled
    bob.wait_for_selector("#gen-title-0:has-text('seed 222')")
    assert "seed 111" not in bob.locator("#gen-title-0").inner_text()
    _generate(alice, seed=333, steps=2, caption="alice again")
    alice.wait_for_selector("#gen-title-0:has-text('seed 333')")
    assert "seed 222" not in alice.locator("#gen-title-0").inner_text()
    assert "seed 333" not in bob.locator("#gen-title-0").inner_text()


@pytest.mark.slow  # about a minute each on the shared 2-core machine; run with -m slow
def test_edit_repaint_and_extend(browser, app_url) -> None:
    page = _page(browser, app_url)
    _generate(page, seed=5, steps=2)
    _wait_audio(page, "gen-audio-0")
    page.locator("#gen-to-edit-0").click()
    page.wait_for_function("(e => e && e.value.length > 0)(document.querySelector('#edit-run-id textarea'))")
    _fill_number(page, "edit-start", 0.5)
    _fill_number(page, "edit-end", 1.2)
    page.locator("#edit-prompt textarea").fill("soft strings swell")
    page.locator("#edit-run").click()
    page.wait_for_selector("#edit-summary-0:has-text('bit-identical')")
    _wait_audio(page, "edit-audio-0")
    _shot(page, "edit-repaint")
    page.locator("#edit-operation label", has_text="extend").click()
    page.locator("#edit-side label", has_text="left").click()
    _fill_number(page, "edit-extend-s", 1)
    page.locator("#edit-run").click()
    page.wait_for_selector("#edit-title-0:has-text('After extend')")
    page.wait_for_selector("#edit-summary-0:has-text('bit-identical')")
    assert "3.0 s" in page.locator("#edit-summary-0").inner_text()
    _shot(page, "edit-extend")


@pytest.mark.slow  # about a minute each on the shared 2-core machine; run with -m slow
def test_style_transfer_sweep(browser, app_url, tmp_path: Path, write_tone) -> None:
    page = _page(browser, app_url)
    page.get_by_role("tab", name="Style transfer").click()
    page.locator("#style-source input[type=file]").set_input_files(str(write_tone(tmp_path / "s.wav", 2.0)))
    page.locator("#style-prompt textarea").fill("bossa nova, nylon guitar")
    page.locator("#style-strengths textarea, #style-strengths input").first.fill("0.2, 0.8")
    page.locator("#style-sweep").click()
    page.wait_for_selector("#style-title-1:has-text('Strength 0.8')")
    assert "Strength 0.2" in page.locator("#style-title-0").inner_text()
    seeds = {
        re.search(r"seed (\d+)", page.locator(f"#style-title-{i}").inner_text()).group(1) for i in (0, 1)
    }
    assert len(seeds) == 1  # the sweep shares one seed
    # the compare player steps through the source and both renders with B, then wraps to the source
    compare = "document.querySelector('#style-compare [data-ab-compare]')"
    page.wait_for_function(f"{compare}.dataset.ready === '3' && {compare}.dataset.active === 'Source'")
    for label in ("Render 1", "Render 2", "Source"):
        page.locator("body").press("b")
        page.wait_for_function(f"{compare}.dataset.active === '{label}'")
    _shot(page, "style-transfer")


@pytest.mark.slow  # about a minute each on the shared 2-core machine; run with -m slow
def test_stems_and_mastering(browser, app_url, tmp_path: Path, write_tone) -> None:
    page = _page(browser, app_url)
    page.get_by_role("tab", name="Stems").click()
    page.locator("#stems-source input[type=file]").set_input_files(str(write_tone(tmp_path / "m.wav", 2.0)))
    page.locator("#stems-run").click()
    page.wait_for_selector("#stems-status:has-text('4 stems')")
    for name in ("drums", "bass", "other", "vocals"):
        _wait_audio(page, f"stems-{name}")
    _shot(page, "stems")
    page.get_by_role("tab", name="Mastering").click()
    page.locator("#master-source input[type=file]").set_input_files(
        str(write_tone(tmp_path / "q.wav", 3.0, level=0.02))
    )
    _fill_number(page, "master-target", -16)
    page.locator("#master-run").click()
    page.wait_for_selector("#master-numbers table")
    table = page.locator("#master-numbers").inner_text()
    assert "-16.0" in table and "True peak" in table
    _wait_audio(page, "master-after")
    _shot(page, "mastering")


@pytest.mark.slow  # about a minute each on the shared 2-core machine; run with -m slow
def test_history_reload_settings(browser, app_url) -> None:
    page = _page(browser, app_url)
    _generate(page, seed=4242, steps=3, caption="history reload check")
    page.wait_for_selector("#gen-title-0:has-text('seed 4242')")
    page.get_by_role("tab", name="History").click()
    page.locator("#hist-text input, #hist-text textarea").first.fill("history reload")
    page.locator("#hist-search").click()
    page.wait_for_function("document.querySelector('#hist-table').innerText.includes('history reload check')")
    run_id = re.search(r"run (\S+)", page.locator("#gen-title-0").inner_text()).group(1)
    page.locator("#hist-run-id textarea").fill(run_id)
    page.locator("#hist-open").click()
    _wait_audio(page, "hist-audio")
    _shot(page, "history")
    page.locator("#hist-reload").click()
    page.wait_for_function(
        "(e => e && e.value === 'history reload check')(document.querySelector('#gen-caption textarea'))"
    )
    assert page.locator("#gen-seed input").input_value() == "4242"
    assert page.locator("#gen-steps input").input_value() == "3"
    # Delete asks first, then removes files and record together.
    from workbench.core.store import Store

    audio_path = Path(Store().get_run(run_id).audio_path)
    assert audio_path.is_file()
    page.get_by_role("tab", name="History").click()
    page.locator("#hist-delete").click()
    page.locator("#hist-keep").click()
    assert Store().get_run(run_id) is not None
    page.locator("#hist-delete").click()
    page.locator("#hist-confirm").click()
    page.wait_for_selector("#hist-status:has-text('Deleted')")
    assert Store().get_run(run_id) is None and not audio_path.exists()
    assert "history reload check" not in page.locator("#hist-table").inner_text()


def _value(page, selector: str) -> str:
    return page.locator(selector).first.input_value()


def test_history_reload_restores_the_take_not_the_preset(browser, app_url) -> None:
    """Preset + hand edits + take 2 of 2: a fresh page's History reload gives back exactly that take's recipe."""
    page = _page(browser, app_url)
    page.locator("#gen-genre input").click()
    page.get_by_role("option", name="Spa").click()
    page.wait_for_function("document.querySelector('#gen-caption textarea').value.includes('ambient')")
    caption = "my own edited spa caption, marimba"
    page.locator("#gen-caption textarea").fill(caption)
    _fill_number(page, "gen-bpm", 123)
    page.locator("#gen-batch input[type=number]").fill("2")
    page.locator("#gen-batch input[type=number]").press("Tab")
    _generate(page, seed=42, steps=2, caption=caption)
    page.wait_for_selector("#gen-title-1:has-text('seed 43')")
    run_id = re.search(r"run (\S+)", page.locator("#gen-title-1").inner_text()).group(1)

    fresh = _page(browser, app_url)  # a new session: the Genre dropdown starts empty, as after a reload
    fresh.get_by_role("tab", name="History").click()
    fresh.locator("#hist-run-id textarea").fill(run_id)
    fresh.locator("#hist-open").click()
    _wait_audio(fresh, "hist-audio")
    fresh.locator("#hist-reload").click()
    fresh.wait_for_selector("#gen-status:has-text('not re-applied')")
    assert _value(fresh, "#gen-caption textarea") == caption
    assert _value(fresh, "#gen-duration input[type=number]") == "2"
    assert _value(fresh, "#gen-bpm input") == "123"
    assert _value(fresh, "#gen-seed input") == "43"  # take 2's own seed, not the batch's 42
    assert _value(fresh, "#gen-batch input[type=number]") == "1"
    assert _value(fresh, "#gen-genre input") == "Spa"  # shown, not applied
    assert not fresh.locator("#gen-random-seed input").is_checked()
    _shot(fresh, "history-reload")


def test_double_click_then_cancel_stores_nothing(browser, app_url, gate) -> None:
    from workbench.core.store import Store

    caption = "double click then cancel"
    page = _page(browser, app_url)
    gate.hold()
    try:
        _generate(page, seed=9, steps=40, caption=caption)
        page.locator(
            "#gen-run"
        ).click()  # the second click of a double click, while the first job waits or runs
        if not gate.reached.wait(60):  # the first job runs, held at its second step (server side)
            raise TimeoutError("the run never reached its second step")
        page.locator("#gen-run").click()  # and once more while it runs: answered, not re-armed
        page.wait_for_selector("#gen-status:has-text('Already running')")
        page.locator("#gen-cancel").click()
        page.wait_for_selector("#gen-status:has-text('Cancelling')")
    finally:
        gate.release()
    page.wait_for_selector("#gen-status:has-text('Cancelled after')")
    assert "nothing was saved" in page.locator("#gen-status").inner_text()
    assert Store().list_runs(text=caption) == []  # the status is true: nothing was stored
    assert not page.locator("#gen-take-0").is_visible()
    page.locator("#gen-cancel").click()
    page.wait_for_selector("#gen-status:has-text('Nothing to cancel')")
    _shot(page, "generate-double-click-cancelled")


@pytest.mark.parametrize(
    ("duration", "caption", "expected"),
    [
        ("0", "calm piano", "must be between 1 and 600 seconds"),
        ("9999", "calm piano", "must be between 1 and 600 seconds"),
        ("5", "   ", "describe the music"),
    ],
)
def test_bad_generate_inputs_are_refused_not_clamped(browser, app_url, duration, caption, expected) -> None:
    from workbench.core.store import Store

    page = _page(browser, app_url)
    before = len(Store().list_runs())
    page.locator("#gen-caption textarea").fill(caption)
    page.locator("#gen-duration input").fill(duration)
    page.locator("#gen-duration input").press("Tab")
    page.locator("#gen-run").click()
    page.wait_for_selector(f"#gen-status:has-text('{expected}')")
    assert "Error: " in page.locator("#gen-status").inner_text()  # stays after the toast fades
    assert page.locator("#gen-duration input").input_value() == duration  # what was typed stays, unclamped
    assert len(Store().list_runs()) == before


def test_a_fake_wav_is_refused_at_upload_by_its_name(browser, app_url, tmp_path: Path) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not audio\n" * 50)
    page = _page(browser, app_url)
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-source input[type=file]").set_input_files(str(fake))
    toast = page.locator("[data-testid='toast-body']", has_text="fake.wav")
    toast.wait_for()
    text = toast.inner_text()
    assert "not a readable audio file" in text
    assert "/" not in text.replace("fake.wav", "")  # no server folder in the message
    page.wait_for_selector("#edit-source input[type=file]", state="attached")  # the box is empty again
    _shot(page, "edit-fake-upload")


def test_progress_shows_a_decode_stage_that_moves(browser, app_url, gate) -> None:
    page = _page(browser, app_url)
    gate.hold(at="decoded")  # the engine's decode-end report waits, so the page's decode stage stays live
    try:
        _generate(page, seed=31, steps=2, caption="decode stage check")
        stage = page.locator("text=/decoding audio/").first
        stage.wait_for()
        first = stage.inner_text()
        # the ticker redraws it from its own thread: wait for a different text, however long that takes
        page.wait_for_function(
            "t => [...document.querySelectorAll('*')].some(e => e.childElementCount === 0 &&"
            " e.textContent.includes('decoding audio') && e.textContent !== t)",
            arg=first,
        )
        assert "Queued" not in page.locator("#gen-status").inner_text()  # "Running…" replaced it
        _shot(page, "generate-decoding")
    finally:
        gate.release()
    page.wait_for_selector("#gen-title-0:has-text('seed 31')")
    assert page.locator("#gen-status").inner_text().startswith("Done:")


def test_keyboard_runs_and_cancels(browser, app_url, gate) -> None:
    from workbench.core.store import Store

    caption = "keyboard shortcut run"
    page = _page(browser, app_url)
    page.wait_for_selector("#shortcut-hint:has-text('Ctrl+Enter')")
    page.locator("#gen-caption textarea").fill(caption)
    _fill_number(page, "gen-steps", 30)
    gate.hold()
    try:
        page.locator("#gen-caption textarea").press("Control+Enter")
        if not gate.reached.wait(60):  # the run started from the keyboard and is held at its second step
            raise TimeoutError("Ctrl+Enter did not start a run")
        page.keyboard.press("Escape")
        page.wait_for_selector("#gen-status:has-text('Cancelling')")
    finally:
        gate.release()
    page.wait_for_selector("#gen-status:has-text('Cancelled after')")
    assert Store().list_runs(text=caption) == []
    assert page.locator("#gen-caption textarea").input_value() == caption  # no newline typed by the shortcut
