"""Per-genre decisions, the campaign report files, vote loading and the `workbench eval report` command."""

from __future__ import annotations

import argparse
import csv
import json
import random

import pytest

from evals.preference.campaign_analysis import analyze_campaign
from evals.preference.decision import decide
from evals.preference.decision_rule import FAIL, NEED_MORE_VOTES, PASS, DecisionRule, rule_from_dict
from evals.preference.preference import Vote
from evals.preference.simulate import CampaignSimulation, simulate_votes
from evals.preference.track_results import DeliverySummary, TrackResult, delivery_summary, read_track_results
from evals.preference.vote_io import read_votes_file, write_votes_file
from evals.report.report import write_report
from workbench.campaigns.db import campaign_clips, load_votes
from workbench.core.errors import ConfigError, InputError
from workbench.core.tracking import Tracker, read_mirror


def head_to_head(wins: int, losses: int, ties: int = 0, raters: int = 12, genre: str = "spa") -> list[Vote]:
    """Exact counts for candidate 'cand' against 'base' in a seeded order, over crossed raters and 12 prompts."""
    outcomes = ["cand"] * wins + ["base"] * losses + ["tie"] * ties
    random.Random(0).shuffle(outcomes)
    votes = []
    for i, o in enumerate(outcomes):
        left, right = ("cand", "base") if i % 2 == 0 else ("base", "cand")
        outcome = "tie" if o == "tie" else ("left" if o == left else "right")
        votes.append(
            Vote(
                "c",
                f"r{i % raters}",
                genre,
                f"p{(i // raters) % 12}",
                left,
                right,
                outcome,
                pair_id=f"v{i}",
                created_at=f"{i:06d}",
            )
        )
    return votes


ALL_PASS = DeliverySummary(tracks=20, passed=20)


def test_pass_when_clearly_not_worse_and_delivery_ok():
    d = decide(head_to_head(150, 90, 20), candidate="cand", baseline="base", genre="spa", delivery=ALL_PASS)
    assert d.verdict == PASS
    assert d.head_to_head.win_rate == pytest.approx(160 / 260)
    assert d.head_to_head.ci_low >= 0.45
    assert any("lower bound >= 45%" in r for r in d.reasons)


def test_fail_when_clearly_worse():
    d = decide(head_to_head(60, 160), candidate="cand", baseline="base", genre="spa", delivery=ALL_PASS)
    assert d.verdict == FAIL
    assert d.head_to_head.ci_high < 0.45
    assert "upper bound < 45%" in d.reasons[0]


def test_fail_on_delivery_even_with_good_votes():
    d = decide(
        head_to_head(150, 90),
        candidate="cand",
        baseline="base",
        genre="spa",
        delivery=DeliverySummary(20, 15, ["true peak -0.2 dBTP > -1.0 (5x)"]),
    )
    assert d.verdict == FAIL
    assert any("delivery pass rate 75% (15/20) < 95%" in r and "true peak" in r for r in d.reasons)


def test_need_more_votes_when_few_or_undecided():
    few = decide(head_to_head(15, 3), candidate="cand", baseline="base", genre="spa", delivery=ALL_PASS)
    assert few.verdict == NEED_MORE_VOTES and few.more_votes == 12
    assert "only 18 head-to-head votes" in few.reasons[0]
    close = decide(head_to_head(78, 72), candidate="cand", baseline="base", genre="spa", delivery=ALL_PASS)
    assert close.verdict == NEED_MORE_VOTES
    assert close.more_votes is not None and close.more_votes > 50
    assert "straddles 45%" in close.reasons[0]


def test_missing_delivery_blocks_a_pass_unless_the_rule_drops_it():
    votes = head_to_head(150, 90)
    blocked = decide(votes, candidate="cand", baseline="base", genre="spa")
    assert blocked.verdict == NEED_MORE_VOTES
    assert any("no delivery results for cand in spa" in r for r in blocked.reasons)
    free = decide(
        votes, candidate="cand", baseline="base", genre="spa", rule=DecisionRule(min_delivery_pass_rate=None)
    )
    assert free.verdict == PASS


def test_fixed_interval_is_tighter_than_the_anytime_one():
    votes = head_to_head(120, 100)
    anytime = decide(
        votes, candidate="cand", baseline="base", genre="spa", delivery=ALL_PASS,
        rule=DecisionRule(interval="anytime"),
    ).head_to_head  # fmt: skip
    fixed = decide(
        votes,
        candidate="cand",
        baseline="base",
        genre="spa",
        delivery=ALL_PASS,
        rule=DecisionRule(interval="fixed"),
    ).head_to_head
    assert fixed.ci_low > anytime.ci_low and fixed.ci_high < anytime.ci_high
    assert fixed.ci_low == pytest.approx(
        0.479, abs=0.03
    )  # near Wilson [0.479, 0.611]: these votes barely cluster


def test_rule_from_dict_rejects_unknown_keys_and_bad_values():
    rule = rule_from_dict({"min_win_rate": 0.5, "exclusion": {"lapse_rate": 0.2}})
    assert rule.min_win_rate == 0.5 and rule.exclusion.lapse_rate == 0.2
    with pytest.raises(ConfigError, match="unknown key"):
        rule_from_dict({"min_winrate": 0.5})
    with pytest.raises(ConfigError, match="rule.min_win_rate=1.5"):
        rule_from_dict({"min_win_rate": 1.5})


SPEC = CampaignSimulation(
    ratings={"ace-base": 940.0, "catalogue": 1000.0, "ace-lora": 1080.0},
    genres=("spa", "retail"),
    raters=14,
    votes_per_rater=50,
    prompts_per_genre=12,
    rater_sd=15,
    gold_rate=0.1,
    repeat_rate=0.1,
    careless={"r000": "left"},
    fit_rate=0.5,
    campaign="lobby-test",
    seed=11,
)


def _tracks() -> list[TrackResult]:
    out = []
    for system in SPEC.ratings:
        for genre in SPEC.genres:
            for i in range(10):
                ok = not (system == "ace-base" and i < 3)
                out.append(
                    TrackResult(
                        system,
                        genre,
                        ok,
                        -18.0 + 0.1 * i,
                        -1.5,
                        90.0 + i,
                        () if ok else ("loudness -12 LUFS",),
                    )
                )
    return out


def test_report_files_and_sections(tmp_path):
    votes = simulate_votes(SPEC)
    analysis = analyze_campaign(
        votes, baseline="catalogue", tracks=_tracks(), rule=DecisionRule(bootstrap_rounds=200)
    )
    tracker = Tracker(tmp_path / "tracking", mode="off", job_type="campaign-report")
    files = write_report(analysis, tmp_path / "report", votes=votes, tracker=tracker)
    tracker.finish()
    md = files.markdown.read_text()
    for section in (
        "# Campaign report: lobby-test",
        "## Decisions",
        "## Standings",
        "## Win-rate matrix",
        "## Rater agreement",
        "## Position bias",
        "## Raters",
        "## Votes needed",
        "## Delivery and signal distributions",
        "### Assumptions and caveats",
    ):
        assert section in md
    assert "### Fit for the venue" in md and "### Per rater" in md and "'both bad', per genre" in md
    assert "r000" in md and "chose the left clip" in md  # the always-left rater is excluded, with the reason
    assert "without screening" in md and "Rater ICC" in md and "decisive" in md
    page = files.html.read_text()
    assert page.count("data:image/png;base64,") == len(files.plots) and "src='plots/" not in page
    assert {"standings", "win_matrix", "loudness", "tempo"} <= set(files.plots)
    assert all(p.stat().st_size > 5000 for p in files.plots.values())
    with files.csv["decisions"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["genre"], r["candidate"]) for r in rows} == {
        (g, c) for g in ("spa", "retail") for c in ("ace-base", "ace-lora")
    }
    verdicts = {(r["genre"], r["candidate"]): r["verdict"] for r in rows}
    assert verdicts[("spa", "ace-base")] == FAIL == verdicts[("retail", "ace-base")]  # 70 % delivery
    assert all(v in (PASS, FAIL, NEED_MORE_VOTES) for v in verdicts.values())
    doc = json.loads(files.json.read_text())
    assert "r000" in doc["excluded_raters"] and len(doc["standings"]) == 9
    fit = {(f["genre"], f["system"]): f["mean"] for f in doc["fit_ratings"]}
    assert fit[("spa", "ace-lora")] > fit[("spa", "ace-base")]  # fit ratings follow the simulated quality
    assert len(read_votes_file(files.csv["votes"])) == len(votes)
    events = read_mirror(tmp_path / "tracking")
    logged = {(e["event"], e.get("key") or e.get("name")) for e in events}
    assert ("table", "report/decisions") in logged and ("image", "report/standings") in logged
    assert ("artifact", "report-lobby-test") in logged


def test_report_without_baseline_still_scores(tmp_path):
    analysis = analyze_campaign(simulate_votes(SPEC), rule=DecisionRule(bootstrap_rounds=50))
    assert analysis.decisions == [] and "no baseline" in analysis.notes[0]
    md = write_report(analysis, tmp_path).markdown.read_text()
    assert "## Standings" in md and "## Delivery" not in md
    with pytest.raises(InputError, match="baseline='nope'"):
        analyze_campaign(simulate_votes(SPEC), baseline="nope")


def test_votes_round_trip_through_csv_and_json(tmp_path):
    votes = simulate_votes(SPEC)[:60]
    for name in ("v.csv", "v.json"):
        assert read_votes_file(write_votes_file(votes, tmp_path / name)) == votes
    (tmp_path / "bad.csv").write_text(
        "campaign,rater,genre,prompt_id,system_left,system_right,outcome\nc,r,spa,p,A,B,maybe\n"
    )
    with pytest.raises(InputError, match=r"votes\[0\].outcome='maybe'"):
        read_votes_file(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("campaign,rater,outcome\nc,r,left\n")
    with pytest.raises(InputError, match="missing column"):
        read_votes_file(tmp_path / "short.csv")


def test_track_results_file(tmp_path):
    path = tmp_path / "tracks.csv"
    path.write_text(
        "system,genre,delivery_pass,loudness_lufs,tempo_bpm,reasons\nA,spa,fail,-12.5,,too loud; clipped\nA,spa,1,-18,92,\n"
    )
    tracks = read_track_results(path)
    assert (
        tracks[0].delivery_pass is False
        and tracks[0].reasons == ("too loud", "clipped")
        and tracks[0].tempo_bpm is None
    )
    assert tracks[1].delivery_pass is True and tracks[1].loudness_lufs == -18.0
    loud = [
        TrackResult("B", "spa", False, reasons=(f"loudness -{x} LUFS outside -22 ± 2 LUFS",))
        for x in (10, 11)
    ]
    summary = delivery_summary([*tracks, *loud, TrackResult("B", "spa", True)], "B", "spa")
    assert (summary.tracks, summary.passed) == (3, 1)
    assert summary.failures == ["loudness 2x, e.g. loudness -10 LUFS outside -22 ± 2 LUFS"]
    assert delivery_summary(tracks, "B", "retail") is None


def _store_votes(store, votes: list[Vote]) -> None:
    """Rows as the campaign service writes them (schema of migration 0002_campaigns), by plain SQL."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO campaigns (name, genre, status, config_json, created_at) VALUES (?, 'spa', 'open', '{}', ?)",
            (votes[0].campaign, "2026-11-21T09:00:00Z"),
        )
        for i, v in enumerate(votes):
            conn.execute(
                "INSERT INTO served_pairs (pair_id, campaign, rater, seq, prompt_id, clip_left, clip_right, system_left, "
                "system_right, is_gold, gold_expected, repeat_of, token_left, token_right, served_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (v.pair_id, v.campaign, v.rater, i, v.prompt_id, f"cl{i}", f"cr{i}", v.system_left, v.system_right,
                 int(v.is_gold), v.gold_expected, v.repeat_of, f"tl{i}", f"tr{i}", v.created_at),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO votes (pair_id, campaign, rater, genre, prompt_id, system_left, system_right, clip_left, "
                "clip_right, outcome, is_gold, gold_expected, repeat_of, fit_left, fit_right, comment, served_at, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'',?,?)",
                (v.pair_id, v.campaign, v.rater, v.genre, v.prompt_id, v.system_left, v.system_right, f"cl{i}",
                 f"cr{i}", v.outcome, int(v.is_gold), v.gold_expected, v.repeat_of, v.fit_left, v.fit_right,
                 v.created_at, v.created_at),
            )  # fmt: skip


def test_load_votes_reads_the_campaign_store(tmp_path):
    import dataclasses

    import pandas as pd

    from workbench.core.store import Store

    store = Store(tmp_path / "store.sqlite")
    spec = dataclasses.replace(SPEC, genres=("spa",), raters=4, votes_per_rater=15, campaign="lobby-store")
    votes = [
        dataclasses.replace(v, fit_left=(i % 5) + 1 if i % 3 else None)
        for i, v in enumerate(simulate_votes(spec))
    ]
    assert any(v.is_gold for v in votes) and any(v.repeat_of for v in votes)
    _store_votes(store, votes)
    assert load_votes(store, "lobby-store") == votes
    with pytest.raises(InputError, match="no votes stored for this campaign.*lobby-store"):
        load_votes(store, "no-such-campaign")
    # a Parquet export with nullable integer columns (as `workbench campaign export` writes) reads back the same
    rows = [dict(r) for r in store.connect().execute("SELECT * FROM votes ORDER BY id")]
    frame = pd.DataFrame(rows)
    frame["is_gold"] = frame["is_gold"].astype(bool)
    frame["fit_left"] = frame["fit_left"].astype("Int64")
    frame["fit_right"] = frame["fit_right"].astype("Int64")
    frame.to_parquet(tmp_path / "votes.parquet", index=False)
    assert read_votes_file(tmp_path / "votes.parquet") == votes
    # the campaign's own clips (degraded gold copies left out) feed --analyze-clips
    with store.transaction() as conn:
        for i, (system, kind) in enumerate(
            (("catalogue", "clip"), ("ace-lora", "clip"), ("ace-lora", "degraded"))
        ):
            conn.execute(
                "INSERT INTO campaign_clips (id, campaign, system, prompt_id, take, kind, source_path, served_path, "
                "loudness_lufs, true_peak_dbtp, duration_s, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    f"c{i}",
                    "lobby-store",
                    system,
                    "p1",
                    0,
                    kind,
                    f"/src/{i}.wav",
                    f"/srv/{i}.wav",
                    -22,
                    -2,
                    10,
                    "t",
                ),
            )
    assert campaign_clips(store, "lobby-store") == [
        ("/src/1.wav", "ace-lora", "spa"),
        ("/src/0.wav", "catalogue", "spa"),
    ]


def _report_parser() -> argparse.ArgumentParser:
    from workbench.cli.eval_report import add_report_parser

    parser = argparse.ArgumentParser(prog="workbench eval")
    add_report_parser(parser.add_subparsers(dest="command"))
    return parser


def test_report_help(capsys):
    with pytest.raises(SystemExit) as exc:
        _report_parser().parse_args(["report", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "CAMPAIGN" in out and "--votes" in out and "--baseline" in out and "--out" in out


def test_workbench_eval_report_help_through_main(capsys):
    from workbench.cli import main as cli

    if "workbench.cli.eval" not in cli.SUBCOMMAND_MODULES:
        pytest.skip("workbench/cli/eval.py is not registered yet")
    with pytest.raises(SystemExit) as exc:
        cli.main(["eval", "report", "--help"])
    assert exc.value.code == 0 and "--votes" in capsys.readouterr().out


def test_report_command_from_a_votes_file(tmp_path, capsys):
    votes_file = write_votes_file(simulate_votes(SPEC), tmp_path / "votes.csv")
    tracks = tmp_path / "tracks.json"
    tracks.write_text(
        json.dumps(
            [
                {
                    "system": t.system,
                    "genre": t.genre,
                    "delivery_pass": t.delivery_pass,
                    "loudness_lufs": t.loudness_lufs,
                    "tempo_bpm": t.tempo_bpm,
                }
                for t in _tracks()
            ]
        )
    )
    args = _report_parser().parse_args(
        [
            "report",
            "lobby-test",
            "--votes",
            str(votes_file),
            "--out",
            str(tmp_path / "out"),
            "--baseline",
            "catalogue",
            "--candidate",
            "ace-lora",
            "--tracks",
            str(tracks),
            "--bootstrap-rounds",
            "100",
            "--interval",
            "fixed",
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "spa" in out and "ace-lora" in out and "report:" in out and "ace-base " not in out
    assert (tmp_path / "out" / "report.html").is_file()
    bad = _report_parser().parse_args(["report", "other", "--votes", str(votes_file)])
    with pytest.raises(InputError, match="it holds: lobby-test"):
        bad.func(bad)
    bad = _report_parser().parse_args(
        ["report", "lobby-test", "--votes", str(votes_file), "--min-delivery-pass-rate", "lots"]
    )
    with pytest.raises(InputError, match="--min-delivery-pass-rate='lots'"):
        bad.func(bad)


def test_report_command_analyses_clips_for_delivery(tmp_path, capsys):
    import numpy as np

    from workbench.core.audio_io import Audio, write_audio

    rng = np.random.default_rng(0)
    loud = Audio(np.clip(rng.normal(0.0, 0.5, (2, 48_000 * 2)), -1, 1).astype(np.float32), 48_000)
    for i in range(2):
        write_audio(tmp_path / f"lora{i}.wav", loud)
    (tmp_path / "clips.csv").write_text("path,system,genre\nlora0.wav,ace-lora,spa\nlora1.wav,ace-lora,spa\n")
    votes_file = write_votes_file(simulate_votes(SPEC), tmp_path / "votes.csv")
    args = _report_parser().parse_args(
        ["report", "lobby-test", "--votes", str(votes_file), "--out", str(tmp_path / "out"), "--baseline", "catalogue",
         "--candidate", "ace-lora", "--clips", str(tmp_path / "clips.csv"), "--bootstrap-rounds", "50"]
    )  # fmt: skip
    assert args.func(args) == 0
    assert "analyzing 2 clips" in capsys.readouterr().out
    with (tmp_path / "out" / "decisions.csv").open() as fh:
        rows = {(r["genre"], r["candidate"]): r for r in csv.DictReader(fh)}
    spa = rows[("spa", "ace-lora")]
    assert (
        spa["verdict"] == FAIL and spa["delivery_tracks"] == "2" and float(spa["delivery_pass_rate"]) == 0.0
    )
    assert "loudness" in spa["reasons"] and "outside -22 ± 2 LUFS" in spa["reasons"]
    assert rows[("retail", "ace-lora")]["delivery_tracks"] == "0"  # no retail clips: delivery stays open
    (tmp_path / "bad.csv").write_text("path,system\nlora0.wav,ace-lora\n")
    bad = _report_parser().parse_args(
        ["report", "lobby-test", "--votes", str(votes_file), "--clips", str(tmp_path / "bad.csv")]
    )
    with pytest.raises(InputError, match="missing genre"):
        bad.func(bad)


def test_report_command_joins_campaigns_one_per_genre(tmp_path, capsys):
    import dataclasses

    spa = simulate_votes(dataclasses.replace(SPEC, genres=("spa",), campaign="spa-nov"))
    retail = simulate_votes(dataclasses.replace(SPEC, genres=("retail",), campaign="retail-nov", seed=12))
    votes_file = write_votes_file(spa + retail, tmp_path / "votes.csv")
    args = _report_parser().parse_args(
        ["report", "spa-nov", "retail-nov", "--votes", str(votes_file), "--out", str(tmp_path / "out"),
         "--baseline", "catalogue", "--min-delivery-pass-rate", "none", "--bootstrap-rounds", "50"]
    )  # fmt: skip
    assert args.func(args) == 0
    with (tmp_path / "out" / "decisions.csv").open() as fh:
        genres = {r["genre"] for r in csv.DictReader(fh)}
    assert genres == {"spa", "retail"}
    assert "# Campaign report: spa-nov + retail-nov" in (tmp_path / "out" / "report.md").read_text()
    single = _report_parser().parse_args(
        [
            "report",
            "spa-nov",
            "--votes",
            str(votes_file),
            "--out",
            str(tmp_path / "one"),
            "--bootstrap-rounds",
            "50",
        ]
    )
    assert single.func(single) == 0
    md = (tmp_path / "one" / "report.md").read_text()
    assert "### spa:" in md and "### overall" not in md  # one genre: no duplicate "overall" section
