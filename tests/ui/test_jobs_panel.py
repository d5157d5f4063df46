"""The job list in a real Chromium: queued and running jobs of every session, by tab; Cancel for one's own."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

TABLE = "#jobs-table"


def test_registry_lists_queued_running_and_cancelling_jobs() -> None:
    from workbench.ui.context import CancelRegistry

    jobs = CancelRegistry()
    first = jobs.arm("s1:gen")
    jobs.arm("s2:edit")
    assert [(e.session, e.tab, e.state, e.started_at) for e in jobs.jobs()] == [
        ("s1", "gen", "queued", None),
        ("s2", "edit", "queued", None),
    ]
    jobs.claim("s1:gen", first)
    running = jobs.jobs()[0]
    assert running.state == "running" and running.started_at >= running.queued_at
    jobs.cancel("s1:gen")
    assert jobs.jobs()[0].state == "cancelling"  # running: it stays listed until it ends
    jobs.cancel("s2:edit")  # queued: dropped at once
    assert [e.tab for e in jobs.jobs()] == ["gen"]
    jobs.release("s1:gen", first)
    assert jobs.jobs() == []


@pytest.fixture(scope="module")
def gate(step_gate):
    return step_gate()


@pytest.fixture(scope="module")
def browser_app(engine, running_app, launch_chromium, gate, tmp_path_factory):
    from workbench.audio.stems import build_tiny_demucs

    app = running_app(engine, build_tiny_demucs(tmp_path_factory.mktemp("demucs")), hook=gate)
    with app as (_demo, url), sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser, url
        browser.close()


def _page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#status-line:has-text('device')")
    page.locator("#jobs-panel button").first.click()  # open the accordion
    page.wait_for_selector(f"{TABLE}:has-text('No jobs')")
    return page


def _generate(page, caption: str, steps: int) -> None:
    page.locator("#gen-caption textarea").fill(caption)
    page.locator("#gen-duration input[type=number]").fill("2")
    page.locator("#gen-duration input[type=number]").press("Tab")
    page.locator("#gen-steps input").fill(str(steps))
    page.locator("#gen-steps input").press("Tab")
    page.locator("#gen-run").click()


def _row(page, *cells: str) -> None:
    """Wait until one row of the job list has all ``cells``."""
    row = page.locator(f"{TABLE} tr")
    for cell in cells:
        row = row.filter(has_text=cell)
    row.first.wait_for()


def test_jobs_of_both_sessions_are_listed_and_each_cancels_only_its_own(browser_app, gate) -> None:
    browser, url = browser_app
    alice, bob = _page(browser, url), _page(browser, url)
    gate.hold()
    try:
        _generate(alice, "alice long run", 200)
        alice.wait_for_selector("text=/step [1-9]\\d*\\/200/")  # running, held at step 2
        _generate(bob, "bob waits", 4)  # queued behind Alice's job (one GPU slot)
        _row(alice, "Generate", "running", "you")
        _row(alice, "Generate", "queued", "another session")
        _row(bob, "Generate", "running", "another session")
        _row(bob, "Generate", "queued", "you")
        # Bob's list offers only his own job; cancelling it drops it from the queue at once
        bob.wait_for_function("document.querySelector('#jobs-mine input').value.startsWith('Generate')")
        bob.locator("#jobs-cancel").click()
        bob.wait_for_selector("#jobs-note:has-text('Cancelling your Generate job')")
        alice.locator(f"{TABLE} tr", has_text="another session").wait_for(state="detached")
        _row(alice, "Generate", "running", "you")  # Alice's run untouched
        alice.wait_for_function("document.querySelector('#jobs-mine input').value.startsWith('Generate')")
        alice.locator("#jobs-cancel").click()
        alice.wait_for_selector("#jobs-note:has-text('Cancelling your Generate job')")
        _row(alice, "Generate", "cancelling", "you")
    finally:
        gate.release()
    alice.wait_for_selector("#gen-status:has-text('Cancelled after')")
    bob.wait_for_selector("#gen-status:has-text('Cancelled')")
    alice.wait_for_selector(f"{TABLE}:has-text('No jobs')")
    bob.wait_for_selector(f"{TABLE}:has-text('No jobs')")
    alice.locator("#jobs-cancel").click()
    alice.wait_for_selector("#jobs-note:has-text('no queued or running job')")
