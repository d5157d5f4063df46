"""A page load fills every list from what is on disk now, not from when the app was built (real Chromium).

The LoRA run, its adapters, its loss plot and the campaign are all made after the app is built; a fresh page must
list them without any refresh button."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
TIMEOUT_MS = 60_000


def _train_after_build(demo, make_folder, root: Path) -> str:
    from lora import jobs as lora_jobs
    from lora import library as lora_data

    dataset, run = f"pl-ds-{uuid.uuid4().hex[:6]}", f"pl-run-{uuid.uuid4().hex[:6]}"
    folder = make_folder(root / "clips", n=3, duration_s=1.0)
    files = [str(p) for p in sorted(folder.iterdir())]
    imported = lora_data.import_uploads(dataset, files)
    scanned, _issues = lora_data.scan(imported)
    lora_data.save(dataset, scanned, lora_data.table_rows(scanned), "zzpl", "prepend", 0.34)
    config = lora_jobs.train_config(
        demo.context.runs_dir,
        preset="tiny",
        dataset=dataset,
        name=run,
        model="tiny",
        rank=4,
        alpha=8,
        learning_rate=0.005,
        max_steps=2,
        checkpoint_every=2,
        targets=["to_q", "to_v"],
        preview=False,
    )
    jobs = demo.context.lora_jobs
    jobs.start(config)
    if not jobs.wait(240):
        raise TimeoutError("the tiny training did not finish")
    state = jobs.snapshot()
    assert state is not None and state.phase == "done", state
    return run


def test_reloaded_page_lists_lora_runs_and_campaigns(
    engine, tmp_path, running_app, launch_chromium, make_folder, new_campaign
) -> None:
    from workbench.audio.stems import build_tiny_demucs
    from workbench.core.store import Store

    tabs = ["workbench.ui.tab_ab", "workbench.ui.tab_lora", "workbench.ui.tab_metrics"]
    with running_app(engine, build_tiny_demucs(tmp_path / "demucs"), tabs=tabs) as (demo, url):
        run = _train_after_build(demo, make_folder, tmp_path)
        campaign = f"pl-camp-{uuid.uuid4().hex[:6]}"
        new_campaign(Store(), tmp_path / "camp", name=campaign)
        with sync_api.sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url, wait_until="load")
            page.get_by_role("tab", name="LoRA").click()
            page.wait_for_function(
                f"(e => e && e.value === '{run}')(document.querySelector('#lora-run input'))"
            )
            page.wait_for_selector(f"#lora-adapters:has-text('{run}')")
            page.wait_for_selector("#lora-loss img, #lora-loss svg, #lora-loss canvas", state="attached")
            page.wait_for_selector("#lora-overview:has-text('step')")
            page.locator("#lora-tracking").wait_for()  # W&B mode is chosen in the tab
            page.locator("#lora-dataset input").click()
            assert page.get_by_role("option").count() >= 1
            page.keyboard.press("Escape")

            page.get_by_role("tab", name="Blind A/B").click()
            page.locator("#ab-campaign input").click()
            page.get_by_role("option", name=campaign).wait_for()
            page.keyboard.press("Escape")

            page.get_by_role("tab", name="Metrics & reports").click()
            page.get_by_role("tab", name="Campaign leaderboard").click()
            page.locator("#metrics-campaign input").click()
            page.get_by_role("option", name=campaign).wait_for()
            browser.close()
