"""Rater service: resume, exactly-once votes, the server-side listening gate, quota, export, W&B stream."""

from __future__ import annotations

import random
import threading

import pytest

from workbench.campaigns import db
from workbench.campaigns.export import export_votes
from workbench.campaigns.service import RaterService
from workbench.core.errors import InputError
from workbench.core.store import Store


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def campaign_root(tmp_path_factory):
    return tmp_path_factory.mktemp("service")


@pytest.fixture
def store(campaign_root, request):
    return Store(campaign_root / f"{request.node.name}.sqlite")


def test_resume_serves_the_same_open_pair_also_after_a_restart(store, campaign_root, new_campaign):
    new_campaign(store, campaign_root / "imp1", name="svc-resume")
    service = RaterService(store, "svc-resume")
    first = service.current("rater00")
    assert service.current("rater00") == first
    assert RaterService(Store(store.path), "svc-resume").current("rater00").pair_id == first.pair_id
    assert service.current("rater01").pair_id != first.pair_id


def test_exactly_once_under_concurrent_retries_and_double_clicks(store, campaign_root, new_campaign):
    new_campaign(store, campaign_root / "imp2", name="svc-once", raters=4, quota=12)
    service = RaterService(store, "svc-once")
    acknowledged: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def rater(rater_id: str) -> None:
        rng = random.Random(rater_id)
        view = service.current(rater_id)
        try:
            while not view.finished:
                replies: list = []
                outcome = rng.choice(["left", "right", "tie", "both_bad"])
                pair_id = view.pair_id

                def click(pair_id=pair_id, outcome=outcome, replies=replies):
                    replies.append(service.vote(rater_id, pair_id, outcome))

                clicks = [threading.Thread(target=click) for _ in range(3)]  # a triple click / retry storm
                for t in clicks:
                    t.start()
                for t in clicks:
                    t.join()
                assert len({r.pair_id for r in replies}) == 1  # every copy gets the same next pair back
                acknowledged.setdefault(rater_id, []).append(view.pair_id)
                view = replies[0]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(f"rater{i:02d}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = db.vote_rows(store, "svc-once")
    assert len(rows) == 4 * 12 == len({r["pair_id"] for r in rows})
    assert {r["pair_id"] for r in rows} == {p for ids in acknowledged.values() for p in ids}
    # a late retry of an old vote changes nothing and returns the finish screen
    late = service.vote("rater00", acknowledged["rater00"][0], "right")
    assert late.finished and len(db.vote_rows(store, "svc-once")) == 48


def test_listening_gate_is_enforced_by_the_server(store, campaign_root, new_campaign):
    new_campaign(store, campaign_root / "imp3", name="svc-gate", min_listen_s=5.0)
    clock = FakeClock()
    service = RaterService(store, "svc-gate", clock=clock)
    view = service.current("rater00")
    token_a, token_b = view.url_left.rsplit("/", 1)[1], view.url_right.rsplit("/", 1)[1]

    def vote(**kw):
        return service.vote("rater00", view.pair_id, "left", **kw)

    refused = vote(listened_left_s=6, listened_right_s=6)  # claims to have listened, never fetched the audio
    assert refused.pair_id == view.pair_id and "listen to clip A" in refused.message
    assert service.open_clip(token_a, "rater00") is not None
    clock.now += 5.0
    assert service.open_clip(token_b, "rater00") is not None
    clock.now += 1.0  # B has been playing for 1 s only
    assert "clip B" in vote(listened_left_s=5, listened_right_s=5).message
    clock.now += 4.5
    assert "clip B" in vote(listened_left_s=5, listened_right_s=2).message  # the browser says B played 2 s
    accepted = vote(listened_left_s=5.1, listened_right_s=5.0, fit_left=4, fit_right="2", comment=" nice ")
    assert accepted.pair_id != view.pair_id and accepted.message == "Vote recorded."
    (row,) = db.vote_rows(store, "svc-gate")
    assert (row["fit_left"], row["fit_right"], row["comment"], row["listened_left_s"]) == (4, 2, "nice", 5.1)
    assert service.open_clip("not-a-token", "rater00") is None


def test_votes_for_foreign_or_unknown_pairs_and_bad_fields_are_rejected(store, campaign_root, new_campaign):
    new_campaign(store, campaign_root / "imp4", name="svc-reject")
    service = RaterService(store, "svc-reject")
    mine = service.current("rater00")
    with pytest.raises(InputError, match="not a pair served to you"):
        service.vote("rater01", mine.pair_id, "left")
    with pytest.raises(InputError, match="not a pair served to you"):
        service.vote("rater00", "0" * 32, "left")
    with pytest.raises(InputError, match="outcome='up': use one of left, right, tie, both_bad"):
        service.vote("rater00", mine.pair_id, "up")
    with pytest.raises(InputError, match="fit_left=9"):
        service.vote("rater00", mine.pair_id, "left", fit_left=9)
    assert db.vote_rows(store, "svc-reject") == []


def test_vote_target_stops_serving(store, campaign_root, new_campaign):
    new_campaign(store, campaign_root / "imp5", name="svc-target", raters=3, quota=10, vote_target=12)
    service = RaterService(store, "svc-target")
    for rater in ("rater00", "rater01", "rater02"):
        view = service.current(rater)
        while not view.finished:
            view = service.vote(rater, view.pair_id, "tie")
    assert len(db.vote_rows(store, "svc-target")) == 12


def test_export_and_the_evals_loader_read_the_same_votes(store, campaign_root, tmp_path, new_campaign):
    from evals.preference.vote_io import read_votes_file
    from workbench.campaigns.db import load_votes

    new_campaign(store, campaign_root / "imp6", name="svc-export", raters=2, quota=10)
    service = RaterService(store, "svc-export")
    for rater in ("rater00", "rater01"):
        view = service.current(rater)
        while not view.finished:
            view = service.vote(
                rater, view.pair_id, random.choice(["left", "right", "tie", "both_bad"]), fit_left=3
            )
    stored = load_votes(store, "svc-export")
    assert (
        len(stored) == 20
        and sum(v.is_gold for v in stored) == 2
        and sum(bool(v.repeat_of) for v in stored) == 2
    )
    assert all(v.gold_expected in ("left", "right") for v in stored if v.is_gold)
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"votes{suffix}"
        assert export_votes(store, "svc-export", out) == 20
        assert read_votes_file(out) == stored
    with pytest.raises(InputError, match=r"end the file name in \.csv or \.parquet"):
        export_votes(store, "svc-export", tmp_path / "votes.xlsx")


def test_vote_stream_logs_counts_and_running_standings_to_the_mirror(
    store, campaign_root, tmp_path, new_campaign
):
    from workbench.campaigns.stream import VoteStream
    from workbench.core.tracking import read_mirror

    new_campaign(store, campaign_root / "imp7", name="svc-stream", raters=2, quota=10)
    stream = VoteStream(
        store, "svc-stream", tmp_path / "track", mode="off", standings_every=5, min_interval_s=0.0
    )
    service = RaterService(store, "svc-stream", stream=stream.submit)
    for rater in ("rater00", "rater01"):
        view = service.current(rater)
        while not view.finished:
            view = service.vote(rater, view.pair_id, "left" if random.random() < 0.7 else "right")
    stream.close()
    records = read_mirror(tmp_path / "track")
    text = repr(records)
    assert "'votes': 20" in text and "standings" in text and "rating/alphasys" in text


def test_status_flags_a_rater_who_prefers_the_degraded_copies(store, campaign_root, new_campaign):
    from workbench.campaigns.status import campaign_status

    new_campaign(
        store, campaign_root / "imp8", name="svc-flag", raters=2, quota=16, gold_rate=0.5, repeat_rate=0.0
    )
    service = RaterService(store, "svc-flag")
    for rater in ("rater00", "rater01"):
        view = service.current(rater)
        while not view.finished:
            choice = db.get_served(store.connect(), view.pair_id).choice
            outcome = "left"
            if choice.is_gold:  # rater00 picks the damaged clip every time, rater01 the intact one
                outcome = (
                    choice.gold_expected
                    if rater == "rater01"
                    else {"left": "right", "right": "left"}[choice.gold_expected]
                )
            view = service.vote(rater, view.pair_id, outcome)
    status = campaign_status(store, "svc-flag", with_standings=False)
    assert status.gold_trials == 16 and status.gold_passed == 8
    # evals.preference.rater_quality judges from 8 gold trials on (ExclusionRule.min_gold_trials)
    assert list(status.flagged) == ["rater00"] and "missed 8/8 gold trials" in status.flagged["rater00"][0]
    assert any(line.startswith("rater rater00 flagged: missed 8/8") for line in status.lines())


def test_a_closed_campaign_serves_no_trial_and_stores_no_late_vote(store, campaign_root, new_campaign):
    new_campaign(store, campaign_root / "imp-close", name="svc-close", raters=2, quota=10)
    service = RaterService(store, "svc-close")
    view = service.vote("rater00", service.current("rater00").pair_id, "left")
    assert not view.finished
    shown = service.current("rater01")  # a trial on screen when the organiser closes the campaign
    db.change_status(store, "svc-close", to="closed", was="open")
    late = service.vote("rater01", shown.pair_id, "right")
    assert late.finished and late.closed and late.done == 0
    from workbench.ui.rater import progress_text

    assert progress_text(late).startswith("**This campaign has closed: no more trials are needed.")
    assert len(db.vote_rows(store, "svc-close")) == 1  # the vote after the close was not stored
    assert service.current("rater00").closed  # and nobody gets a new trial
    with pytest.raises(InputError, match="is closed; `workbench campaign reopen svc-close`"):
        RaterService(store, "svc-close")
    db.change_status(store, "svc-close", to="open", was="closed")
    resumed = service.current("rater01")
    assert not resumed.finished and resumed.pair_id == shown.pair_id  # the open trial comes back
    assert not service.vote("rater01", resumed.pair_id, "right").closed
    assert len(db.vote_rows(store, "svc-close")) == 2
