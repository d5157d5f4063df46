"""``workbench eval analyze`` and ``workbench eval fad``: help texts, tables, JSON output, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.core.audio_io import SAMPLE_RATE as RATE
from workbench.core.audio_io import Audio, write_audio


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["eval", "--help"], "analyze"),
        (["eval", "analyze", "--help"], "--genre"),
        (["eval", "fad", "--help"], "--backend"),
    ],
)
def test_help(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert expected in capsys.readouterr().out


def test_analyze_table_json_and_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], click_track, sine, stereo
) -> None:
    clicks = click_track(96, 6.0, 0.2)
    write_audio(tmp_path / "clicks.wav", stereo(clicks))
    write_audio(tmp_path / "sub" / "tone.flac", stereo(sine(997, 4.0, 0.1)))
    out = tmp_path / "out" / "analysis.json"
    code = main(["eval", "analyze", str(tmp_path), "--genre", "hotel_lobby", "--json", str(out), "--check"])
    text = capsys.readouterr().out
    assert code == 1  # neither track is at -18 LUFS, so --check reports failure
    assert "clicks.wav" in text and "tone.flac" in text and "FAIL" in text
    assert "LUFS outside -18 ± 1.5 LUFS" in text
    rows = json.loads(out.read_text())
    assert [Path(r["path"]).name for r in rows] == ["clicks.wav", "tone.flac"]
    assert rows[0]["tempo_bpm"] == pytest.approx(96, abs=1.5)
    assert rows[1]["integrated_loudness_lufs"] == pytest.approx(-20.0, abs=0.05)
    assert rows[1]["delivery"]["passed"] is False

    code = main(["eval", "analyze", str(tmp_path / "clicks.wav"), "--bpm", "48", "--duration", "6"])
    text = capsys.readouterr().out
    assert code == 0 and "recipe ok" in text


def test_analyze_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], sine, stereo) -> None:
    write_audio(tmp_path / "a.wav", stereo(sine(440, 1.0)))
    assert main(["eval", "analyze", str(tmp_path / "a.wav"), "--genre", "disco"]) == 2
    assert "error: genre='disco': unknown genre; known genres: hotel_lobby" in capsys.readouterr().err
    assert main(["eval", "analyze", str(tmp_path / "missing")]) == 2
    assert "not found; give a folder of audio files" in capsys.readouterr().err
    assert main(["eval", "analyze", str(tmp_path / "a.wav"), "--key", "H major"]) == 2
    assert "recipe.keyscale='H major'" in capsys.readouterr().err


def test_fad_between_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sine, stereo, white_noise
) -> None:
    for i in range(4):
        write_audio(tmp_path / "a" / f"{i}.wav", stereo(sine(300 + 50 * i, 2.0, 0.3)))
    for i in range(5):
        write_audio(tmp_path / "b" / f"{i}.wav", Audio(white_noise(2.0, 0.05, seed=i), RATE))
    out = tmp_path / "fad.json"
    code = main(["eval", "fad", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "FAD (logmel) = " in text and "n = 4 clips per set (subsampled from 4 and 5)" in text
    result = json.loads(out.read_text())
    assert result["n_clips"] == 4 and result["fad"] > 0 and np.isfinite(result["noise_floor"])

    assert main(["eval", "fad", str(tmp_path / "a"), str(tmp_path / "b"), "--equal-n", "refuse"]) == 2
    assert "FAD is biased by sample size" in capsys.readouterr().err
    assert main(["eval", "fad", str(tmp_path / "a"), str(tmp_path / "a"), "--model", "x"]) == 2
    assert "only the clap backend takes a model" in capsys.readouterr().err
    assert main(["eval", "fad", str(tmp_path / "a"), str(tmp_path / "a"), "--backend", "vggish"]) == 2
    assert "backend='vggish': choose one of clap, logmel" in capsys.readouterr().err
