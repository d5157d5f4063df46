"""notebooks/campaign_analysis.ipynb runs end to end on a small generated campaign and shows the right answer."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from evals.preference.simulate import CampaignSimulation, simulate_votes
from evals.preference.vote_io import write_votes_file

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "campaign_analysis.ipynb"


def _text(outputs: list) -> str:
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_campaign_notebook_executes_on_a_generated_campaign(tmp_path, monkeypatch):
    spec = CampaignSimulation(
        ratings={"catalogue": 1000.0, "ace-lora": 1150.0, "ace-base": 780.0},
        genres=("spa",),
        raters=12,
        votes_per_rater=40,
        prompts_per_genre=12,  # the rule gives no verdict on fewer than 10 prompts
        campaign="nb-demo",
        seed=5,
    )
    votes_file = write_votes_file(simulate_votes(spec), tmp_path / "votes.json")
    tracks = tmp_path / "tracks.csv"
    tracks.write_text(
        "system,genre,delivery_pass\n" + "".join(f"{s},spa,1\n" for s in spec.ratings for _ in range(5))
    )
    monkeypatch.setenv("WORKBENCH_CAMPAIGN_VOTES", str(votes_file))
    monkeypatch.setenv("WORKBENCH_CAMPAIGN_BASELINE", "catalogue")
    monkeypatch.setenv("WORKBENCH_CAMPAIGN_TRACKS", str(tracks))
    monkeypatch.setenv("WORKBENCH_BOOTSTRAP_ROUNDS", "200")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # kernel "python3" is ipykernel's own spec; jupyter_client runs it with this interpreter (the venv's)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    everything = "\n".join(_text(c.outputs) for c in code)
    assert "nb-demo: " in everything and "from 12 raters" in everything
    standings = _text(code[3].outputs)
    assert standings.index("ace-lora") < standings.index("catalogue") < standings.index("ace-base")
    assert sum(1 for c in code for o in c.outputs if "image/png" in o.get("data", {})) == 2
    assert "Krippendorff alpha" in everything and "left chosen" in everything
    decisions = _text(code[-1].outputs)
    assert "spa: ace-lora vs catalogue -> PASS" in decisions
    assert "spa: ace-base vs catalogue -> FAIL" in decisions
