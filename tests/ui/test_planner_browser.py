"""The Generate tab's LM panel in a real browser (Debian Chromium) on the tiny engine and the tiny LM: Simple mode,
Format and Understand each fill the caption and metadata and say which fields the LM chose."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 120_000  # an upper bound only: the first call loads the LM
SENTINEL = "SENTINEL-CAPTION"
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app_url(engine, tmp_path_factory, running_app):
    with running_app(engine, tmp_path_factory.mktemp("demucs"), tabs=["workbench.ui.tab_generate"]) as (
        _d,
        url,
    ):
        yield url


@pytest.fixture(scope="module")
def page(launch_chromium, app_url):
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url, wait_until="load")
        page.wait_for_selector("#status-line:has-text('device')")
        page.get_by_text("LM planner (5 Hz LM)").click()
        page.locator("#gen-lm input").click()
        page.get_by_role("option", name="lm-tiny").click()
        page.locator("#gen-lm-tokens input").fill("12")
        yield page
        browser.close()


def _caption(page) -> str:
    return page.locator("#gen-caption textarea").input_value()


def _run(page, button: str) -> str:
    """Put a sentinel in the caption, press the button, wait for the LM's caption and a new note; returns it."""
    before = page.locator("#gen-lm-note").inner_text()
    page.locator("#gen-caption textarea").fill(SENTINEL)
    page.locator(button).click()
    page.wait_for_function(
        "([sentinel, before]) => document.querySelector('#gen-caption textarea').value !== sentinel"
        " && document.querySelector('#gen-lm-note').innerText.includes('The LM chose')"
        " && document.querySelector('#gen-lm-note').innerText !== before",
        arg=[SENTINEL, before],
    )
    return page.locator("#gen-lm-note").inner_text()


def test_simple_mode_writes_caption_and_metadata(page) -> None:
    page.locator("#gen-lm-query textarea").fill("a soft love song for a quiet evening")
    page.locator("#gen-lm-language textarea").fill("fr")
    note = _run(page, "#gen-lm-simple")
    assert "caption" in note and "BPM" in note and "language" not in note
    assert _caption(page)


def test_format_keeps_the_bpm_the_user_gave(page) -> None:
    page.locator("#gen-caption textarea").fill("latin pop")
    bpm = page.get_by_label("BPM")
    bpm.fill("97")
    note = _run(page, "#gen-lm-format")
    assert "BPM" not in note and "caption" in note
    assert bpm.input_value() == "97"


def test_understand_describes_an_uploaded_file(page, write_tone, tmp_path: Path) -> None:
    path = write_tone(tmp_path / "tone.wav", duration_s=2.0)
    page.locator("#gen-lm-audio input[type=file]").set_input_files(str(path))
    page.wait_for_selector(
        "#gen-lm-audio audio, #gen-lm-audio .waveform-container, #gen-lm-audio button[aria-label*='Clear']"
    )
    note = _run(page, "#gen-lm-understand")
    assert "caption" in note and "key" in note
