"""``workbench campaign create|plan|status|export|list|close|reopen|delete|code``: blind A/B listening campaigns headless."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "campaign",
        help="blind A/B listening campaigns: create, status, export",
        description="Set up and follow blind A/B listening campaigns (raters use `workbench app --mode rater`).",
    )
    csub = p.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)

    cp = csub.add_parser(
        "create",
        help="create a campaign from YAML: generate / import, loudness-match and anonymise its clips",
        description="Create a campaign from a YAML file (see configs/campaigns/example.yaml). Generated systems "
        "run through the engine; imported folders are conformed to 48 kHz. Prints generated rater codes once.",
    )
    cp.add_argument("file", help="campaign YAML file")
    cp.add_argument("--device", default=None, help="cuda, cuda:N, mps or cpu for generated systems")
    cp.add_argument("--dtype", default=None, choices=("bf16", "fp16", "fp32"), help="default: bf16 on CUDA")
    cp.add_argument("--offload", action="store_true", help="CPU-offload idle components (CUDA only)")
    cp.add_argument("--codes-out", default=None, help="also write generated rater codes to this CSV file")
    cp.set_defaults(func=run_create)

    pp = csub.add_parser(
        "plan",
        help="votes-needed table for a campaign YAML's decision rule (what create prints), without creating it",
    )
    pp.add_argument("file", help="campaign YAML file")
    pp.set_defaults(func=run_plan)

    sp = csub.add_parser("status", help="votes against target, per rater, gold trials, balance, standings")
    sp.add_argument("name", help="campaign name")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument("--no-standings", action="store_true", help="skip the Bradley-Terry standings (faster)")
    sp.set_defaults(func=run_status)

    ep = csub.add_parser("export", help="write all votes so far to CSV or Parquet")
    ep.add_argument("name", help="campaign name")
    ep.add_argument("--out", required=True, help="output file ending in .csv or .parquet")
    ep.set_defaults(func=run_export)

    lp = csub.add_parser("list", help="campaigns in the store")
    lp.set_defaults(func=run_list)

    dp = csub.add_parser(
        "delete", help="remove a campaign without votes (a failed or abandoned set-up) and its clip files"
    )
    dp.add_argument("name", help="campaign name")
    dp.set_defaults(func=run_delete)

    xp = csub.add_parser(
        "close",
        help="stop taking votes; reports then read the votes there are as the final look",
        description="Close a campaign: raters get no more trials (a vote on a trial already shown is not "
        "stored) and `workbench eval report` treats the last look as final, as --final does.",
    )
    xp.add_argument("name", help="campaign name")
    xp.set_defaults(func=run_close)

    rp = csub.add_parser("reopen", help="take votes again on a closed campaign")
    rp.add_argument("name", help="campaign name")
    rp.set_defaults(func=run_reopen)

    kp = csub.add_parser("code", help="issue a new login code for a rater (the old one stops working)")
    kp.add_argument("name", help="campaign name")
    kp.add_argument("rater", help="rater id")
    kp.set_defaults(func=run_code)


def run_close(args: argparse.Namespace) -> int:
    from workbench.campaigns import db
    from workbench.core.store import Store

    store = Store()
    db.change_status(store, args.name, to="closed", was="open")
    votes = len(db.vote_rows(store, args.name))
    print(
        f"closed campaign {args.name} with {votes} vote(s): raters get no more trials; "
        f"`workbench eval report {args.name}` reads them as the final look"
    )
    return 0


def run_reopen(args: argparse.Namespace) -> int:
    from workbench.campaigns import db
    from workbench.core.store import Store

    db.change_status(Store(), args.name, to="open", was="closed")
    print(f"reopened campaign {args.name}: raters can vote again (restart a rater server that was stopped)")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from workbench.campaigns.removal import remove_campaign
    from workbench.core.store import Store

    removed = remove_campaign(Store(), args.name)
    print(f"deleted campaign {removed.name} and {removed.files} clip file(s)")
    return 0


def run_create(args: argparse.Namespace) -> int:
    from workbench.campaigns.config import load_config
    from workbench.campaigns.stimuli import create_campaign
    from workbench.core.store import Store
    from workbench.engine.engine import Engine

    config = load_config(args.file)
    _print_plan(config)
    engines: dict[str, Engine] = {}

    def engine_for(model: str) -> Engine:
        if model not in engines:
            engines[model] = Engine(model, device=args.device, dtype=args.dtype, offload=args.offload)
        return engines[model]

    codes = create_campaign(Store(), config, engine_for)
    print(
        f"campaign {config.name} is open: serve raters with `workbench app --mode rater --campaign {config.name}` "
        f"(or `WORKBENCH_CAMPAIGN={config.name} python app.py --mode rater`)"
    )
    if codes:
        print(
            "rater login codes (also kept in the campaign folder, codes.csv; `workbench campaign code NAME RATER` issues a new one):"
        )
        for rater, code in codes.items():
            print(f"  {rater}: {code}")
        if args.codes_out:
            from pathlib import Path

            print(f"codes written to {write_codes_csv(Path(args.codes_out), codes)}")
    return 0


def write_codes_csv(path: Any, codes: dict[str, str]) -> Any:
    """The organiser's copy of the login codes (rater ids are text a spreadsheet could run as a formula)."""
    import csv

    from workbench.core.cells import safe_cell

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rater", "code"])
        writer.writerows((safe_cell(rater), code) for rater, code in codes.items())
    return path


def _print_plan(config: Any) -> None:
    from workbench.campaigns.planning import campaign_plan

    print("\n".join(campaign_plan(config).lines()))


def run_plan(args: argparse.Namespace) -> int:
    from workbench.campaigns.config import load_config

    _print_plan(load_config(args.file))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from workbench.campaigns.status import campaign_status
    from workbench.core.store import Store

    status = campaign_status(Store(), args.name, with_standings=not args.no_standings)
    if args.json:
        print(json.dumps(asdict(status), indent=1, default=str))
    else:
        print("\n".join(status.lines()))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from workbench.campaigns.export import export_votes
    from workbench.core.store import Store

    n = export_votes(Store(), args.name, args.out)
    print(f"{n} votes written to {args.out}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from workbench.campaigns import db
    from workbench.core.store import Store

    store = Store()
    names = db.list_campaigns(store)
    if not names:
        print("no campaigns yet: `workbench campaign create FILE.yaml`")
    from workbench.core.errors import WorkbenchError

    for name in names:
        try:
            record = db.get_campaign(store, name)
        except WorkbenchError as exc:
            # One campaign whose stored config no longer reads (an older or hand-edited row) must not hide the rest.
            print(f"{name:<32} (its stored config cannot be read: {exc})")
            continue
        votes = db.answered_count(store.connect(), name)
        print(
            f"{name:<32} {record.config.genre:<12} {record.status:<8} {votes}/{record.config.effective_vote_target}"
        )
    return 0


def run_code(args: argparse.Namespace) -> int:
    from workbench.campaigns import codes
    from workbench.core.store import Store

    print(f"{args.rater}: {codes.reset(Store(), args.name, args.rater)}")
    return 0
