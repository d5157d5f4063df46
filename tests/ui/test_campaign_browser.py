"""A real rater session in Chromium: login, listening gate, keyboard voting, reload-resume, finish screen."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.ui.conftest import RATER_MIN_LISTEN_S, log_in_rater
from workbench.campaigns import db

pytestmark = pytest.mark.browser


def test_full_rater_session_with_listening_gate_and_resume(rater_server, launch_chromium):
    from playwright.sync_api import expect, sync_playwright

    store, name, url = rater_server
    requests: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p, "--autoplay-policy=no-user-gesture-required")
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        progress = log_in_rater(page, url)
        vote_a = page.locator("#ab_vote_left")
        expect(vote_a).to_be_disabled()  # the gate: nothing played yet

        def listen_both() -> None:
            page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a text field
            for key, side in (("1", "A"), ("2", "B")):
                # B from its own start: pressing 2 while A plays would switch at A's position (its own test)
                page.evaluate("document.querySelectorAll('audio[data-ab-side]').forEach(el => el.pause())")
                page.keyboard.press(key)  # keyboard shortcut: play this clip (pauses the other)
                expect(page.locator(f'[data-ab-count="{side}"]')).to_have_text("listened", timeout=15_000)

        listen_both()
        expect(vote_a).to_be_enabled()
        page.keyboard.press("a")  # shortcut: A is better
        expect(progress).to_contain_text("Trial 2 of 4", timeout=15_000)
        expect(vote_a).to_be_disabled()  # a new pair locks the buttons again
        sources = page.locator("audio[data-ab-side]").evaluate_all(
            "els => els.map(e => e.getAttribute('src'))"
        )

        page.reload()  # resume: same trial, same pair
        expect(progress).to_contain_text("Trial 2 of 4", timeout=30_000)
        assert (
            page.locator("audio[data-ab-side]").evaluate_all("els => els.map(e => e.getAttribute('src'))")
            == sources
        )

        for button, label in (("#ab_vote_right", "Trial 3 of 4"), ("#ab_vote_tie", "Trial 4 of 4")):
            listen_both()
            page.locator(button).click()
            expect(progress).to_contain_text(label, timeout=15_000)
        listen_both()
        page.locator("#ab_fit_a").get_by_role("radio", name="4").check()
        page.locator("#ab_vote_both_bad").click()
        expect(page.get_by_text("There are no more trials for you")).to_be_visible(timeout=15_000)
        expect(progress).to_contain_text("Finished: 4 of 4 trials")
        page.reload()
        expect(page.get_by_text("There are no more trials for you")).to_be_visible(timeout=30_000)
        browser.close()

    rows = db.vote_rows(store, name)
    assert [r["outcome"] for r in rows] == ["left", "right", "tie", "both_bad"]
    assert all(
        r["listened_left_s"] >= RATER_MIN_LISTEN_S and r["listened_right_s"] >= RATER_MIN_LISTEN_S
        for r in rows
    )
    assert rows[-1]["fit_left"] == 4 and rows[-1]["fit_right"] is None
    assert {urlparse(u).hostname for u in requests} == {"127.0.0.1"}  # nothing fetched from elsewhere
    paths = {urlparse(u).path for u in requests}
    assert (
        "/gradio_api/run/predict" in paths and "/gradio_api/queue/join" not in paths
    )  # one direct call per vote


def test_a_rater_sees_that_the_campaign_closed(rater_server, launch_chromium):
    from playwright.sync_api import expect, sync_playwright

    store, name, url = rater_server
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        progress = log_in_rater(page, url)
        db.change_status(store, name, to="closed", was="open")  # `workbench campaign close`
        page.reload()
        expect(progress).to_contain_text("This campaign has closed", timeout=30_000)
        expect(page.get_by_text("There are no more trials for you")).to_be_visible()
        expect(page.locator("#ab_vote_left")).to_be_hidden()
        browser.close()
