"""History and the Generate card show one recipe for a run, also after the Mastering tab has mastered it."""

from __future__ import annotations

import json
from typing import Any

from workbench.engine.requests import Text2Music
from workbench.ui import tab_history, tab_master
from workbench.ui.results import card_values

RECIPE_SLOT = 6  # card_values' outputs: group, title, audio, waveform, spectrogram, summary, recipe, ...


def _master_in_the_tab(ctx: Any, run_id: str, target_lufs: float) -> None:
    values = {
        "run_id": run_id,
        "audio": None,
        "target_lufs": target_lufs,
        "true_peak_dbtp": -1.0,
        "fade_in_s": 0.0,
        "fade_out_s": 0.0,
        "ceiling_mode": "limit",
        "audio_format": "wav",
    }
    status = tab_master.master(ctx, values)[0]
    if "recorded in the take's sidecar" not in status:
        raise AssertionError(status)


def test_history_and_the_generate_card_agree_after_mastering(ctx: Any) -> None:
    run = ctx.workbench.generate(Text2Music(prompt="calm pads", duration_s=2.0, steps=2, seed=11))
    take = run.takes[0]

    def views() -> tuple[dict[str, Any], dict[str, Any]]:
        history = json.loads(tab_history.open_run(ctx, take.run_id)[2])
        card = json.loads(card_values(ctx, run.result, take)[RECIPE_SLOT])
        return history, card

    history, card = views()
    assert history == card and "mastering" not in card
    _master_in_the_tab(ctx, take.run_id, -20.0)
    _master_in_the_tab(ctx, take.run_id, -16.0)
    history, card = views()
    assert [m["after"]["integrated_lufs"] for m in card["mastering"]] == [
        m["after"]["integrated_lufs"] for m in history["mastering"]
    ]
    assert len(card["mastering"]) == 2 and history == card
