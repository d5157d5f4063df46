"""The rater's player in Chromium: a vote key at the moment the gate opens, A/B switching at the same position, a
looped section, and login codes a person can read."""

from __future__ import annotations

import re

import pytest

from tests.ui.conftest import log_in_rater
from workbench.campaigns import codes, db
from workbench.core.store import Store

pytestmark = pytest.mark.browser
BUTTON_IDS = ["ab_vote_left", "ab_vote_right", "ab_vote_tie", "ab_vote_both_bad"]


def open_page(p, launch_chromium, url):
    browser = launch_chromium(p, "--autoplay-policy=no-user-gesture-required")
    page = browser.new_page()
    log_in_rater(page, url)
    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a text field
    return browser, page


def clip(side: str) -> str:
    return f"document.querySelector('audio[data-ab-side=\"{side}\"]')"


def test_a_vote_key_as_the_gate_opens_votes_and_a_locked_key_says_why(rater_server, launch_chromium):
    from playwright.sync_api import expect, sync_playwright

    store, name, url = rater_server
    with sync_playwright() as p:
        browser, page = open_page(p, launch_chromium, url)
        page.keyboard.press("a")  # nothing played: the key is answered, not dropped
        expect(page.locator("#ab-key-note")).to_contain_text('Not sent: "A is better" unlocks', timeout=5_000)
        expect(page.locator("#ab_progress")).to_contain_text("Trial 1 of 4")
        for key, side in (("1", "A"), ("2", "B")):
            page.evaluate(
                f"{clip('A')}.pause()"
            )  # B from its start: a switch mid-play would resume at A's spot
            page.keyboard.press(key)
            expect(page.locator(f'[data-ab-count="{side}"]')).to_have_text("listened", timeout=15_000)
        # The moment the gate opens, before the page's 250 ms tick has unlocked the buttons: the old handler
        # saw a disabled button and dropped the key.
        page.evaluate(
            "ids => ids.forEach(id => { const el = document.getElementById(id); "
            "(el.tagName === 'BUTTON' ? el : el.querySelector('button')).disabled = true; })",
            BUTTON_IDS,
        )
        page.keyboard.press("a")
        expect(page.locator("#ab_progress")).to_contain_text("Trial 2 of 4", timeout=15_000)
        browser.close()
    assert [r["outcome"] for r in db.vote_rows(store, name)] == ["left"]


def test_switching_a_and_b_keeps_the_position(rater_server, launch_chromium):
    from playwright.sync_api import sync_playwright

    _, _, url = rater_server
    with sync_playwright() as p:
        browser, page = open_page(p, launch_chromium, url)
        page.keyboard.press("1")
        page.wait_for_function(f"{clip('A')}.currentTime >= 0.4", timeout=15_000)
        page.evaluate(
            f"{clip('B')}.addEventListener('playing', e => {{ window.bStart = e.target.currentTime; }}, {{once: true}})"
        )
        page.keyboard.press("2")  # switch to B while A plays
        page.wait_for_function("window.bStart !== undefined", timeout=15_000)
        a_at, b_at, a_paused = page.evaluate(f"[{clip('A')}.currentTime, window.bStart, {clip('A')}.paused]")
        assert a_paused and a_at >= 0.4
        assert abs(b_at - a_at) < 0.1, (a_at, b_at)  # B took over where A was, not from its start
        browser.close()


def test_a_chosen_section_loops_for_both_clips_until_cleared(rater_server, launch_chromium):
    from playwright.sync_api import expect, sync_playwright

    _, _, url = rater_server
    with sync_playwright() as p:
        browser, page = open_page(p, launch_chromium, url)
        label = page.locator("#ab-loop-label")
        expect(label).to_have_text("No loop")
        page.evaluate(f"{clip('A')}.currentTime = 0.2")
        page.keyboard.press("[")
        page.evaluate(f"{clip('A')}.currentTime = 0.5")
        page.locator('[data-ab-loop="end"]').click()  # the on-page button does what ] does
        expect(label).to_have_text("Loop 0.20-0.50 s")
        page.evaluate(
            "window.maxAt = {A: 0, B: 0}; for (const el of document.querySelectorAll('audio[data-ab-side]')) "
            "el.addEventListener('timeupdate', e => { const s = e.target.dataset.abSide; "
            "window.maxAt[s] = Math.max(window.maxAt[s], e.target.currentTime); });"
        )
        page.evaluate(f"{clip('A')}.currentTime = 0.2")
        page.keyboard.press("1")
        page.wait_for_function(f"parseInt({clip('A')}.dataset.abLoops || '0') >= 2", timeout=15_000)
        page.keyboard.press("2")  # switching keeps the loop: B plays the same section
        page.wait_for_function(f"parseInt({clip('B')}.dataset.abLoops || '0') >= 2", timeout=15_000)
        max_at = page.evaluate("window.maxAt")
        # the wrap runs once a frame, so the overshoot past 0.5 s grows with the machine's load; this bound only
        # tells wrapping from playing on to the clip's end at 1.0 s
        assert max_at["A"] < 0.9 and max_at["B"] < 0.9, max_at
        assert page.evaluate(f"!{clip('B')}.paused && {clip('A')}.paused")
        page.keyboard.press("\\")
        expect(label).to_have_text("No loop")
        browser.close()


def test_generated_codes_avoid_look_alike_glyphs_and_can_be_shown_again(tmp_path, campaign_dict):
    from workbench.campaigns.config import config_from_dict
    from workbench.campaigns.stimuli import create_campaign

    store = Store(tmp_path / "store.sqlite")
    data = campaign_dict(tmp_path / "imp", name="codes-camp", raters=3, quota=4)
    data["raters"] = [{"id": "ana"}, {"id": "ben"}, {"id": "cy", "code": "chosen-by-me"}]
    issued = create_campaign(store, config_from_dict(data), engine_for=lambda m: None, log=lambda m: None)
    assert set(issued) == {"ana", "ben"}
    for code in [*issued.values(), *(db.new_code() for _ in range(500))]:
        assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", code), code
        assert not set(code) & set("0O1lI")
    # the organiser's copy survives the page: the A/B tab reads it back, and a reset updates it
    assert dict((r, c) for r, c in codes.code_rows(store, "codes-camp") if r != "cy") == issued
    assert "campaign file" in dict(codes.code_rows(store, "codes-camp"))["cy"]
    assert oct(codes.codes_file("codes-camp").stat().st_mode & 0o777) == "0o600"
    fresh = codes.reset(store, "codes-camp", "ana")
    assert dict(codes.code_rows(store, "codes-camp"))["ana"] == fresh != issued["ana"]
    assert db.check_login(store, "codes-camp", "ana", fresh)
    assert not db.check_login(store, "codes-camp", "ana", issued["ana"])
