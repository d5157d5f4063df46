"""The Edit tab's interactive waveform in a real Chromium: drag sets the region, typing moves it, click seeks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

SOURCE_S = 3.0
WAVE = "#edit-wave [data-wave]"


@pytest.fixture(scope="module")
def page(app_page, tmp_path_factory):
    from tests.conftest import _write_tone
    from workbench.audio.stems import build_tiny_demucs

    folder = tmp_path_factory.mktemp("wave")
    src = _write_tone(folder / "src.wav", SOURCE_S)
    with app_page(build_tiny_demucs(folder / "demucs"), "--autoplay-policy=no-user-gesture-required") as page:
        page.get_by_role("tab", name="Edit").click()
        page.locator("#edit-source input[type=file]").set_input_files(str(src))
        # the component has fetched and decoded what the Audio box serves
        page.wait_for_function(f"parseFloat(document.querySelector('{WAVE}').dataset.duration) > 0")
        yield page


def _wave(page, key: str) -> str:
    return page.evaluate(f"document.querySelector('{WAVE}').dataset.{key}")


def _time_at(box: dict, x: float) -> float:
    return (x - box["x"]) / box["width"] * SOURCE_S


def test_the_waveform_knows_the_source_duration(page) -> None:
    assert float(_wave(page, "duration")) == pytest.approx(SOURCE_S, abs=0.02)


def test_dragging_sets_start_and_end_and_the_run_uses_them(page) -> None:
    from workbench.core.store import Store

    canvas = page.locator("#edit-wave canvas")
    box = canvas.bounding_box()
    x0, x1 = box["x"] + 0.2 * box["width"], box["x"] + 0.7 * box["width"]
    y = box["y"] + box["height"] / 2
    page.mouse.move(x1, y)  # dragged right to left: the region is still start < end
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=4)
    page.mouse.move(x0, y, steps=4)
    page.mouse.up()
    want_start, want_end = _time_at(box, x0), _time_at(box, x1)
    page.wait_for_function(
        f"(e => e && Math.abs(parseFloat(e.value) - {want_end}) < 0.05)(document.querySelector('#edit-end input'))"
    )
    start = float(page.locator("#edit-start input").input_value())
    end = float(page.locator("#edit-end input").input_value())
    tolerance = 2 * SOURCE_S / box["width"] + 0.01  # two pixels and the 0.01 s rounding
    assert start == pytest.approx(want_start, abs=tolerance)
    assert end == pytest.approx(want_end, abs=tolerance)
    assert float(_wave(page, "start")) == pytest.approx(start) and float(_wave(page, "end")) == pytest.approx(
        end
    )

    # the server got the dragged values, not the fields' old ones: the stored request's window is the drag
    page.locator("#edit-prompt textarea").fill("soft strings swell")
    page.locator("#edit-run").click()
    page.wait_for_selector("#edit-title-0:has-text('After repaint')")
    run_id = re.search(r"run (\S+)", page.locator("#edit-title-0").inner_text()).group(1)
    request = Store().get_run(run_id).recipe["request"]
    assert request["start_s"] == pytest.approx(start) and request["end_s"] == pytest.approx(end)
    # the compare player under the result has the source and the repaint, and B switches between them
    compare = "document.querySelector('#edit-compare [data-ab-compare]')"
    page.wait_for_function(f"{compare}.dataset.ready === '2' && {compare}.dataset.active === 'Before'")
    page.locator("body").press("b")
    page.wait_for_function(f"{compare}.dataset.active === 'After'")


def test_typing_in_the_fields_moves_the_shaded_region(page) -> None:
    for elem_id, value in (("edit-start", 0.4), ("edit-end", 1.6)):
        box = page.locator(f"#{elem_id} input")
        box.fill(str(value))
        box.press("Tab")
    page.wait_for_function(f"document.querySelector('{WAVE}').dataset.end === '1.60'")
    assert _wave(page, "start") == "0.40"
    page.locator("#edit-operation label", has_text="extend").click()  # extend acts outside the source
    page.wait_for_function(f"document.querySelector('{WAVE}').dataset.end === ''")
    page.locator("#edit-operation label", has_text="repaint").click()
    page.wait_for_function(f"document.querySelector('{WAVE}').dataset.end === '1.60'")


def test_a_click_moves_the_playhead_and_play_advances_it(page) -> None:
    canvas = page.locator("#edit-wave canvas")
    box = canvas.bounding_box()
    canvas.click(position={"x": 0.5 * box["width"], "y": box["height"] / 2})
    page.wait_for_function(
        f"Math.abs(parseFloat(document.querySelector('{WAVE}').dataset.playhead) - {SOURCE_S / 2}) < 0.05"
    )
    assert _wave(page, "end") == "1.60"  # a click is not a drag: the region stays
    page.locator("#edit-wave .wb-wave-play").click()
    page.wait_for_function(
        f"parseFloat(document.querySelector('{WAVE}').dataset.playhead) > {SOURCE_S / 2 + 0.2}"
    )
    page.locator("#edit-wave .wb-wave-play").click()
    # `audio.paused` turns true at once but the button is relabelled by the 'pause' event,
    # which the browser dispatches later: wait on both, never assert between them.
    page.wait_for_function(
        f"document.querySelector('{WAVE} audio').paused"
        " && document.querySelector('#edit-wave .wb-wave-play').textContent === 'Play'"
    )


def test_the_component_reads_only_local_urls(page) -> None:
    assert _wave(page, "duration")
    src = page.evaluate(f"document.querySelector('{WAVE} audio').src")
    assert src.startswith("http://127.0.0.1") and Path(src).suffix == ".wav"
