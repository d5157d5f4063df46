"""The Metrics & reports tab: per-track analysis of uploads and recorded runs with delivery verdicts per genre,
Fréchet distance between two folders, and a campaign leaderboard with its report from votes in the store."""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from evals import api
from evals.preference.preference import Vote
from evals.preference.simulate import CampaignSimulation, simulate_votes
from workbench.campaigns import db
from workbench.core import paths
from workbench.core.errors import InputError
from workbench.core.store import Store
from workbench.engine.requests import Text2Music
from workbench.ui import metrics_leaderboard as lb
from workbench.ui import tab_metrics as tm


def lobby_track(path: Path, write_beat_clip: Any) -> Path:
    """8 s with a click every beat at 96 BPM, at -18 LUFS: inside the hotel-lobby spec, outside spa and retail."""
    import pyloudnorm as pyln

    write_beat_clip(path, bpm=96, duration_s=8.0)
    x, rate = sf.read(str(path))
    gain_db = -18.0 - pyln.Meter(rate).integrated_loudness(x)
    sf.write(str(path), (x * 10 ** (gain_db / 20)).astype(np.float32), rate)
    return path


def test_metrics_tab_builds_in_the_app(engine: Any, tmp_path: Path) -> None:
    from workbench.ui import build_app

    demo = build_app(
        engine, Store(tmp_path / "s.sqlite"), tabs=["workbench.ui.tab_metrics"], load_model=False
    )
    assert demo.tab_errors == ()


def test_analyze_uploads_and_runs_gives_metrics_and_delivery_per_genre(
    ctx: Any, tmp_path: Path, write_tone, write_beat_clip
) -> None:
    result = ctx.workbench.generate(
        Text2Music(prompt="calm pads", duration_s=2.0, steps=2, seed=3, genre="spa")
    )
    run_id = result.takes[0].run_id
    assert run_id in [value for _label, value in tm.run_choices(ctx.store)]
    uploads = [str(lobby_track(tmp_path / "lobby.wav", write_beat_clip))]
    clipped = tone_clipped(tmp_path / "clipped.wav", write_tone)
    items = tm.upload_inputs([*uploads, str(clipped)]) + tm.run_inputs(ctx.store, [run_id])
    seen: list[tuple[int, int]] = []
    tracks = api.analyze_tracks(
        items, ["hotel_lobby", "spa"], progress=lambda done, total, _name: seen.append((done, total))
    )
    assert seen[-1] == (3, 3)
    frame = tm.track_table(tracks, ["hotel_lobby", "spa"])
    assert list(frame.columns[:6]) == [
        "track",
        "source",
        "group",
        "genre",
        "delivery hotel_lobby",
        "delivery spa",
    ]
    assert {"loudness_lufs", "true_peak_dbtp", "lra_lu", "tempo_bpm", "key", "silence_ratio"} <= set(
        frame.columns
    )
    rows = {r["track"]: r for r in frame.to_dict("records")}
    lobby = rows["lobby.wav"]
    assert lobby["delivery hotel_lobby"] == "PASS"
    assert lobby["delivery spa"].startswith("FAIL: loudness -18.0 LUFS outside -22 ± 2 LUFS (+1)")
    assert lobby["loudness_lufs"] == pytest.approx(-18.0, abs=0.1) and lobby["tempo_bpm"] == pytest.approx(
        96, abs=1
    )
    clipped_row = rows["clipped.wav"]
    assert clipped_row["clipped_samples"] > 0 and clipped_row["delivery hotel_lobby"].startswith("FAIL: ")
    run_row = next(r for r in rows.values() if r["source"] == f"run {run_id}")
    assert run_row["group"] == "tiny" and run_row["genre"] == "spa"
    text = tm.delivery_summary(tracks, ["hotel_lobby", "spa"])
    assert "**hotel_lobby**: 1/3 pass" in text and "**spa**: 0/3 pass" in text
    pngs = tm.distribution_pngs(tracks)
    assert pngs["loudness"] is not None and pngs["loudness"].startswith(b"\x89PNG")
    with pytest.raises(InputError, match="genre='lounge': unknown genre; known genres: hotel_lobby"):
        api.analyze_tracks(items[:1], ["lounge"])
    with pytest.raises(InputError, match="upload audio files or pick recorded runs"):
        api.analyze_tracks([], ["spa"])
    with pytest.raises(InputError, match="run='nope': no such run"):
        tm.run_inputs(ctx.store, ["nope"])


def tone_clipped(path: Path, write_tone: Any) -> Path:
    write_tone(path, duration_s=4.0, level=1.5)  # written as float, read back over full scale: clipped runs
    x, rate = sf.read(str(path))
    sf.write(str(path), np.clip(x, -1.0, 1.0).astype(np.float32), rate, subtype="PCM_16")
    return path


def compare(folder_a: Path, folder_b: Path, equal_n: str = "subsample") -> tuple[str, Any]:
    """What the Sets sub-tab shows for two folders, and the result behind it."""
    result = api.compare_sets(folder_a, folder_b, "logmel", equal_n=equal_n)
    return tm.fad_text(result), result


def test_sets_fad_reports_n_and_refuses_folders_outside_home(tmp_path: Path, write_tone) -> None:
    home = paths.home()
    base = home / f"sets-{uuid.uuid4().hex[:6]}"
    for i in range(4):
        write_tone(base / "a" / f"a{i}.wav", duration_s=2.0, freq_hz=200 + 30 * i)
        write_tone(base / "b" / f"b{i}.wav", duration_s=2.0, freq_hz=900 + 30 * i, level=0.1)
    write_tone(base / "b" / "b4.wav", duration_s=2.0, freq_hz=1200)
    folder_a = tm.set_folder(f"{base.name}/a", "set A", home)
    folder_b = tm.set_folder(str(base / "b"), "set B", home)
    text, result = compare(folder_a, folder_b)
    assert result.n_clips == 4 and result.subsampled_from == (4, 5)
    assert f"= {result.fad:.4f}** at **n = 4** clips per set" in text and "subsampled" in text
    assert result.fad > 0
    same, same_result = compare(folder_a, folder_a)
    assert same_result.fad == pytest.approx(0.0, abs=1e-6) and "not distinguishable" in same
    with pytest.raises(InputError, match="set size"):
        compare(folder_a, folder_b, "refuse")
    with pytest.raises(InputError, match="must be inside WORKBENCH_HOME"):
        tm.set_folder(str(tmp_path), "set A", home)
    with pytest.raises(InputError, match="set B='../..': must be inside WORKBENCH_HOME"):
        tm.set_folder("../..", "set B", home)


def store_votes(store: Store, votes: list[Vote], genre: str) -> None:
    """Votes as the campaign service stores them (migration 0002_campaigns), by plain SQL."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO campaigns (name, genre, status, config_json, created_at) VALUES (?, ?, 'open', '{}', ?)",
            (votes[0].campaign, genre, "2026-11-21T09:00:00Z"),
        )
        for i, v in enumerate(votes):
            conn.execute(
                "INSERT INTO served_pairs (pair_id, campaign, rater, seq, prompt_id, clip_left, clip_right, "
                "system_left, system_right, is_gold, gold_expected, repeat_of, token_left, token_right, served_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (v.pair_id, v.campaign, v.rater, i, v.prompt_id, f"cl{i}", f"cr{i}", v.system_left,
                 v.system_right, int(v.is_gold), v.gold_expected, v.repeat_of, f"{v.campaign}-tl{i}",
                 f"{v.campaign}-tr{i}", v.created_at),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO votes (pair_id, campaign, rater, genre, prompt_id, system_left, system_right, "
                "clip_left, clip_right, outcome, is_gold, gold_expected, repeat_of, served_at, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (v.pair_id, v.campaign, v.rater, v.genre, v.prompt_id, v.system_left, v.system_right, f"cl{i}",
                 f"cr{i}", v.outcome, int(v.is_gold), v.gold_expected, v.repeat_of, v.created_at, v.created_at),
            )  # fmt: skip


SPEC = CampaignSimulation(
    ratings={"catalogue": 1000.0, "ace_lora": 1060.0, "ace_base": 700.0},
    genres=("spa",),
    raters=10,  # the decision rule gives no verdict below 10 raters and 10 prompts
    votes_per_rater=40,
    prompts_per_genre=12,
    tie_rate=0.1,
    seed=5,
)


def test_campaign_leaderboard_and_report(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite")
    name = f"lobby-{uuid.uuid4().hex[:6]}"
    store_votes(store, simulate_votes(dataclasses.replace(SPEC, campaign=name)), "spa")
    assert name in db.list_campaigns(store)
    assert lb.campaign_systems(store, name) == ["ace_base", "ace_lora", "catalogue"]
    board = lb.leaderboard(store, name, "catalogue", bootstrap_rounds=200)
    standings = lb.standings_table(board.analysis)
    spa = standings[standings["scope"] == "spa"].sort_values("rating", ascending=False)
    assert list(spa["system"]) == ["ace_lora", "catalogue", "ace_base"]  # the simulated order
    assert (spa["ci_low"] <= spa["rating"]).all() and (spa["rating"] <= spa["ci_high"]).all()
    assert spa["votes"].sum() == 2 * 400  # each preference vote counts for both of its systems
    decisions = lb.decisions_table(board.analysis)
    assert set(decisions["candidate"]) == {"ace_lora", "ace_base"}
    assert set(decisions["verdict"]) <= {"PASS", "FAIL", "NEED MORE VOTES"}
    assert decisions.set_index("candidate").loc["ace_base", "verdict"] == "FAIL"
    assert "400 preference votes from 10 of 10 raters" in lb.summary(board.analysis)
    assert lb.standings_png(board.analysis).startswith(b"\x89PNG")
    files = lb.write_report_files(board, tmp_path / "report" / name)
    assert Path(files[0]).name == "report.html" and "ace_lora" in Path(files[0]).read_text()
    import zipfile

    names = zipfile.ZipFile(files[1]).namelist()
    assert {"report.md", "report.html", "decisions.csv", "standings.csv"} <= set(names)
    no_baseline = lb.leaderboard(store, name, None, bootstrap_rounds=100)
    assert lb.decisions_table(no_baseline.analysis).empty and "no baseline named" in lb.summary(
        no_baseline.analysis
    )
    with pytest.raises(InputError, match="pick a campaign"):
        lb.leaderboard(store, "", None)
    with pytest.raises(InputError, match="no votes stored for this campaign"):
        lb.leaderboard(store, "nothing-here", None)


def _own_ids(votes: list[Vote], prefix: str) -> list[Vote]:
    """Pair ids are unique across the store; simulated campaigns all count from p000001."""
    return [
        dataclasses.replace(
            v, pair_id=f"{prefix}-{v.pair_id}", repeat_of=v.repeat_of and f"{prefix}-{v.repeat_of}"
        )
        for v in votes
    ]


def test_leaderboard_of_several_campaigns_with_candidates_and_a_rule_file_matches_the_cli(
    tmp_path: Path,
) -> None:
    from workbench.cli.main import main

    store = Store()  # the store `workbench eval report` reads
    tag = uuid.uuid4().hex[:6]
    names = [f"multi-spa-{tag}", f"multi-lobby-{tag}"]
    for name, genre, seed in ((names[0], "spa", 5), (names[1], "hotel_lobby", 6)):
        votes = simulate_votes(dataclasses.replace(SPEC, campaign=name, genres=(genre,), seed=seed))
        store_votes(store, _own_ids(votes, name), genre)
    rule = tmp_path / "rule.yaml"
    rule.write_text("min_win_rate: 0.4\nbootstrap_rounds: 5000\n")
    board = lb.leaderboard(
        store, names, "catalogue", candidates=["ace_lora"], rule_file=str(rule), bootstrap_rounds=200
    )
    a = board.analysis
    assert a.campaign == " + ".join(names) and a.rule.min_win_rate == 0.4 and a.rule.bootstrap_rounds == 200
    assert sorted((d.genre, d.candidate) for d in a.decisions) == [
        ("hotel_lobby", "ace_lora"),
        ("spa", "ace_lora"),
    ]
    assert lb.campaign_systems(store, names) == ["ace_base", "ace_lora", "catalogue"]
    lb.write_report_files(board, tmp_path / "tab")
    cli = [
        "eval",
        "report",
        *names,
        "--baseline",
        "catalogue",
        "--candidate",
        "ace_lora",
        "--rule",
        str(rule),
    ]
    assert main([*cli, "--bootstrap-rounds", "200", "--out", str(tmp_path / "cli")]) == 0
    for table in ("decisions.csv", "standings.csv"):
        assert (tmp_path / "cli" / table).read_text() == (tmp_path / "tab" / table).read_text()
    with pytest.raises(InputError, match="rule='nope.yaml': file not found"):
        lb.leaderboard(store, names, "catalogue", rule_file="nope.yaml")


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _shot(page: Any, name: str) -> None:
    import shutil

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    # Tests never rewrite tracked files unless asked: WORKBENCH_UPDATE_DOC_IMAGES=1 refreshes docs/img.
    if os.environ.get("WORKBENCH_UPDATE_DOC_IMAGES") == "1":
        shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS_IMG / f"{name}.png")


def _pick(page: Any, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


@pytest.mark.browser
def test_lora_and_metrics_tabs_in_chromium(
    engine: Any, tmp_path: Path, write_tone, write_clip, running_app, write_beat_clip, launch_chromium
) -> None:
    """Build a dataset and train 3 steps from the LoRA tab; analyze an upload in the Metrics tab; screenshots."""
    sync_api = pytest.importorskip("playwright.sync_api")

    clips = [str(write_clip(tmp_path / "in" / f"clip{i}.wav", 200.0 + 90 * i, 1.5, seed=i)) for i in range(3)]
    lobby = lobby_track(tmp_path / "lobby.wav", write_beat_clip)
    dataset, run = f"br-{uuid.uuid4().hex[:6]}", f"br-run-{uuid.uuid4().hex[:6]}"
    campaign = f"br-camp-{uuid.uuid4().hex[:6]}"
    store_votes(
        Store(), simulate_votes(dataclasses.replace(SPEC, campaign=campaign)), "spa"
    )  # the app's store
    sets = paths.home() / f"br-sets-{uuid.uuid4().hex[:6]}"
    for i in range(4):
        write_tone(sets / "a" / f"a{i}.wav", duration_s=2.0, freq_hz=200 + 30 * i)
        write_tone(sets / "b" / f"b{i}.wav", duration_s=2.0, freq_hz=900 + 30 * i)
    tabs = ["workbench.ui.tab_generate", "workbench.ui.tab_lora", "workbench.ui.tab_metrics"]
    with running_app(engine, tmp_path, tabs=tabs) as (demo, url), sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url, wait_until="load")
        page.get_by_role("tab", name="LoRA").click()
        page.locator("#lora-ds-name textarea, #lora-ds-name input").first.fill(dataset)
        page.locator("#lora-uploads input[type=file]").set_input_files(clips)
        page.locator("#lora-scan").click()
        page.wait_for_selector("#lora-ds-table:has-text('clip2.wav')")
        page.locator("#lora-trigger textarea, #lora-trigger input").first.fill("zzbrowser")
        page.locator("#lora-save").click()
        page.wait_for_function(
            "document.querySelector('#lora-ds-report textarea').value.startsWith('Saved to')"
        )
        _pick(page, "lora-preset", "tiny")
        page.wait_for_function(
            "document.querySelector('#lora-model textarea, #lora-model input').value === 'tiny'"
        )
        page.locator("#lora-run-name textarea, #lora-run-name input").first.fill(run)
        for elem_id, value in (("lora-steps", 3), ("lora-every", 3)):
            page.locator(f"#{elem_id} input").fill(str(value))
            page.locator(f"#{elem_id} input").press("Tab")
        page.locator("#lora-start").click()
        page.wait_for_selector("#lora-status:has-text('done')", timeout=300_000)
        page.wait_for_selector("#lora-checkpoints:has-text('3')")
        page.wait_for_selector("#lora-preview-0 audio, #lora-preview-0 a[download]", state="attached")
        assert demo.context.lora_jobs.snapshot().step == 3
        _shot(page, "tab_lora")
        # Pick the best adapter and use it in Generate: its form gets the adapter and a trained caption.
        page.locator("#lora-adapters [role=gridcell]", has_text="best").first.click()
        page.wait_for_selector("#lora-adapter-msg:has-text('Picked')")
        page.locator("#lora-use").click()
        page.wait_for_function(
            "document.querySelector('#gen-caption textarea').value.startsWith('zzbrowser')"
        )
        assert page.get_by_label("…or LoRA path").input_value().endswith(f"{run}/best")

        page.get_by_role("tab", name="Metrics & reports").click()
        page.locator("#metrics-uploads input[type=file]").set_input_files([str(lobby), *clips[:2]])
        page.locator("#metrics-analyze").click()
        page.wait_for_selector("#metrics-table:has-text('lobby.wav')")
        page.wait_for_selector("#metrics-summary:has-text('hotel_lobby')")
        page.wait_for_selector("#metrics-table:has-text('clip1.wav')")
        assert "hotel_lobby: 1/3 pass" in page.locator("#metrics-summary").inner_text()
        assert "PASS" in page.locator("#metrics-table").inner_text()
        _shot(page, "tab_metrics")

        page.get_by_role("tab", name="Sets (FAD)").click()
        page.locator("#metrics-set-a textarea, #metrics-set-a input").first.fill(f"{sets.name}/a")
        page.locator("#metrics-set-b textarea, #metrics-set-b input").first.fill(f"{sets.name}/b")
        page.locator("#metrics-compare").click()
        page.wait_for_selector("#metrics-set-result:has-text('n = 4')")

        page.get_by_role("tab", name="Campaign leaderboard").click()
        page.locator("#metrics-campaigns-refresh").click()
        _pick(page, "metrics-campaign", campaign)
        _pick(page, "metrics-baseline", "catalogue")
        page.locator("#metrics-board").click()
        page.wait_for_selector("#metrics-decisions:has-text('ace_base')")
        assert "FAIL" in page.locator("#metrics-decisions").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "tab_metrics_leaderboard.png"), full_page=True)
        page.wait_for_selector("#metrics-report td[aria-label='report.html']")
        browser.close()
