"""The admin Blind A/B tab: create from YAML text, status with standings, export; absent in rater mode."""

from __future__ import annotations

import yaml

from workbench.campaigns.service import RaterService
from workbench.core.store import Store


def make_ctx(engine, store, tmp_path):
    from workbench.ui.context import AppSettings, ModelHandle, TabContext

    return TabContext(
        engine=engine,
        model=ModelHandle(engine),
        store=store,
        settings=AppSettings(),
        temp_dir=tmp_path / "ui-cache",
    )


def test_tab_creates_reports_and_exports(engine, tmp_path, campaign_dict):
    import pytest

    from workbench.core.errors import InputError
    from workbench.ui import tab_ab

    store = Store(tmp_path / "s.sqlite")
    ctx = make_ctx(engine, store, tmp_path)
    data = campaign_dict(tmp_path / "imp", name="tab-camp", raters=2)
    data["raters"] = ["ana", "ben"]
    message, codes = tab_ab.create_from_yaml(ctx, yaml.safe_dump(data), "")
    assert "tab-camp" in message and [r for r, _ in codes] == ["ana", "ben"]
    service = RaterService(store, "tab-camp")
    for rater in ("ana", "ben"):
        assert service.login(rater, dict(codes)[rater])
        view = service.current(rater)
        while not view.finished:
            view = service.vote(rater, view.pair_id, "left" if "a" in view.pair_id[:4] else "right")
    text, rows = tab_ab.status_view(ctx, "tab-camp")
    assert "votes 20 / 20" in text and {r[0] for r in rows} == {"alphasys", "betasys", "gammasys"}
    path = tab_ab.export_file(ctx, "tab-camp", "Parquet")
    assert path.endswith("tab-camp-votes.parquet")
    text, _ = tab_ab.set_open(ctx, "tab-camp", False)
    assert text.startswith("**Closed tab-camp") and "closed" in text.split("\n\n")[1]
    with pytest.raises(InputError, match="campaign='tab-camp': is already closed"):
        tab_ab.set_open(ctx, "tab-camp", False)
    assert tab_ab.set_open(ctx, "tab-camp", True)[0].startswith("**Reopened tab-camp")
    data["name"], data["systems"][0] = "tab-gen", {"name": "gen", "model": "turbo"}
    data["prompts"] = [{"id": f"p{i}", "caption": "calm"} for i in range(4)]
    with pytest.raises(InputError, match="systems.model='turbo': this app runs 'tiny'"):
        tab_ab.create_from_yaml(ctx, yaml.safe_dump(data), "")


def test_tab_builds_in_full_mode_and_is_absent_in_rater_mode(engine, tmp_path):
    from workbench.ui import build_app, tab_ab

    store = Store(tmp_path / "s.sqlite")
    full = build_app(engine, store, tabs=["workbench.ui.tab_ab"], load_model=False)
    labels = [getattr(b, "label", None) for b in full.blocks.blocks.values()]
    assert "Blind A/B" in labels and "Problems" not in labels
    assert tab_ab.MODES == ("full",)
    rater_mode = build_app(engine, store, mode="rater", tabs=["workbench.ui.tab_ab"], load_model=False)
    assert "Blind A/B" not in [getattr(b, "label", None) for b in rater_mode.blocks.blocks.values()]


def test_codes_panel_shows_generated_codes_again_and_issues_new_ones(engine, tmp_path, campaign_dict):
    import gradio as gr
    import pytest

    from workbench.core.errors import InputError
    from workbench.ui import ab_codes, tab_ab

    ctx = make_ctx(engine, Store(tmp_path / "s.sqlite"), tmp_path)
    raters = [{"id": "ana"}, {"id": "ben"}]
    text = yaml.safe_dump({**campaign_dict(tmp_path / "imp", name="tab-codes"), "raters": raters})
    _, issued = tab_ab.create_from_yaml(ctx, text, "")
    store = ctx.store
    assert ab_codes.show_codes(ctx, "tab-codes") == issued  # the page that showed them may be long gone
    message, rows = ab_codes.issue_code(ctx, "tab-codes", " ben ")
    fresh = dict(rows)["ben"]
    assert fresh != dict(issued)["ben"] and f"`{fresh}`" in message and "logged out" in message
    service = RaterService(store, "tab-codes")
    assert service.login("ben", fresh) and not service.login("ben", dict(issued)["ben"])
    with pytest.raises(InputError, match="not a rater"):
        ab_codes.issue_code(ctx, "tab-codes", "zoe")
    with pytest.raises(InputError, match="pick a campaign"):
        ab_codes.show_codes(ctx, "")
    with gr.Blocks():  # the panel is part of the tab
        tab_ab.build(ctx)
