"""The CLI catalogue of bad inputs: every case runs ``workbench ...`` in-process and asserts its own message.

No case may end in the CLI's generic "unexpected X" line or a traceback; ``test_no_output_is_generic`` scans what
every case printed. Files are built by the ``fx`` fixture; generation uses the session's tiny engine.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from workbench.cli.main import main

OUTPUTS: list[tuple[str, str]] = []  # (case id, what it printed), scanned at the end


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]  # "{fx}" is replaced by the fixtures folder
    message: str  # a substring of what the command prints
    code: int = 2


def _adapter(folder: Path, state: dict, alpha: object, meta: str | None = None) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    save_file(
        {f"transformer.{k}": v.contiguous() for k, v in state.items()},
        str(folder / "pytorch_lora_weights.safetensors"),
        metadata={"format": "pt", **({"lora_adapter_metadata": meta} if meta else {})},
    )
    if alpha is not None:
        (folder / "adapter_config.json").write_text(
            json.dumps({"r": 4, "lora_alpha": alpha}), encoding="utf-8"
        )


@pytest.fixture(scope="module")
def fx(tmp_path_factory, engine, random_lora_state, write_tone, write_silent_flac, yaml_bomb) -> Path:
    root = tmp_path_factory.mktemp("fx")
    write_tone(root / "tone.wav", duration_s=2.0)
    (root / "notes.wav").write_text("not audio")
    (root / "empty.wav").write_bytes(b"")
    (root / "dir.wav").mkdir()
    full = root / "full.flac"
    sf.write(full, np.random.default_rng(0).uniform(-0.3, 0.3, (48_000, 2)).astype(np.float32), 48_000)
    (root / "cut.flac").write_bytes(full.read_bytes()[:60])
    write_silent_flac(root / "hour.flac", 3600)
    sf.write(root / "ch80.wav", np.zeros((10, 80), dtype=np.float32), 48_000, subtype="FLOAT")
    (root / "lyrics-latin1.txt").write_bytes("Café crème".encode("latin-1"))
    (root / "afile").write_text("x")
    state = random_lora_state(engine.pipeline.transformer)
    _adapter(root / "lora-nan-alpha", state, None, json.dumps({"transformer.lora_alpha": math.nan}))
    _adapter(root / "lora-huge-alpha", state, 1e30)
    _adapter(root / "lora-negative", state, -64)
    _adapter(root / "lora-text-alpha", state, "abc")
    bad = dict(state)
    key = next(k for k in bad if k.endswith("lora_B.weight"))
    bad[key] = bad[key].clone().fill_(math.nan)
    _adapter(root / "lora-nan-weights", bad, 8.0)
    _adapter(root / "lora-broken-config", state, None)
    (root / "lora-broken-config" / "adapter_config.json").write_text("{oops", encoding="utf-8")
    (root / "lora-bin-only").mkdir()
    (root / "lora-bin-only" / "adapter_model.bin").write_bytes(b"\x80\x04 pickled")
    _plans(root, yaml_bomb)
    _campaigns(root, yaml_bomb)
    _sidecars(root)
    return root


# --- plan files -------------------------------------------------------------------------------------------------


def _plans(root: Path, bomb: str) -> None:
    p = root / "plans"
    p.mkdir()
    (p / "latin1.csv").write_bytes("prompt,seed\nCafé,1\n".encode("latin-1"))
    (p / "latin1.yaml").write_bytes("entries:\n  - prompt: Café\n    seeds: 1\n".encode("latin-1"))
    (p / "bomb.yaml").write_text(bomb + "\nentries:\n  - prompt: x\n    seeds: 0\n    bogus: *i\n")
    (p / "seeds1e9.yaml").write_text("entries:\n  - prompt: x\n    seeds: {start: 0, count: 1000000000}\n")
    (p / "typo-default.yaml").write_text("defaults: {stpes: 4}\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "lora-extra.yaml").write_text(
        "entries:\n  - prompt: x\n    seeds: 0\n    lora: {path: x, scale: 1, bogus: 2}\n"
    )
    (p / "dup-header.csv").write_text("prompt,seed,prompt\nfirst,1,second\n")
    (p / "empty.csv").write_text("")
    (p / "number.json").write_text("42")
    (p / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (p / "bad.json").write_text('{"entries": [')
    (p / "bad.yaml").write_text("entries: [\n")
    (p / "unknown-key.yaml").write_text("entriez: []\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "no-seeds.yaml").write_text("entries:\n  - prompt: x\n")
    (p / "seed-text.yaml").write_text("entries:\n  - prompt: x\n    seeds: lots\n")
    (p / "seed-backwards.yaml").write_text("entries:\n  - prompt: x\n    seeds: '9-3'\n")
    (p / "genre.yaml").write_text("entries:\n  - genre: no-such-genre\n    seeds: 0\n")
    (p / "language.yaml").write_text("entries:\n  - prompt: x\n    seeds: 0\n    vocal_language: klingon\n")
    (p / "field.yaml").write_text("entries:\n  - prompt: x\n    seeds: 0\n    colour: red\n")
    (p / "batch-size.yaml").write_text("entries:\n  - prompt: x\n    seeds: 0\n    batch_size: 4\n")
    (p / "steps.yaml").write_text("entries:\n  - prompt: x\n    seeds: 0\n    steps: 0\n")
    (p / "grid.yaml").write_text("grid: {colour: [red]}\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "grid-clash.yaml").write_text(
        "grid: {steps: [1, 2]}\nentries:\n  - prompt: x\n    seeds: 0\n    steps: 3\n"
    )
    (p / "big-grid.yaml").write_text(
        "grid: {steps: [" + ", ".join(str(i) for i in range(1, 101)) + "]}\n"
        "entries:\n  - prompt: [" + ", ".join(f"p{i}" for i in range(200)) + "]\n    seeds: '0-99999'\n"
    )
    (p / "entry-text.yaml").write_text("entries:\n  - just text\n")
    (p / "no-prompt.yaml").write_text("entries:\n  - seeds: 0\n")
    (p / "defaults-list.yaml").write_text("defaults: [1]\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "python-tag.yaml").write_text("entries: !!python/object/apply:os.system ['true']\n")
    (p / "plan.txt").write_text("x")
    (p / "surplus.csv").write_text("prompt,seed\nx,1,extra\n")
    (p / "artist.yaml").write_text("export: {artist: 123}\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "qc-reject.yaml").write_text("qc: {reject: nonsense}\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "qc-key.yaml").write_text("qc: {rejct: [clipping]}\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "export-format.yaml").write_text("export: {format: aiff}\nentries:\n  - prompt: x\n    seeds: 0\n")
    (p / "wrong-model.yaml").write_text("entries:\n  - prompt: x\n    seeds: 0\n    model: nonsense\n")
    (root / "batch-broken").mkdir()
    (root / "batch-broken" / "jobs.json").write_text('{"jobs": [')
    (root / "batch-wrong").mkdir()
    (root / "batch-wrong" / "jobs.json").write_text("[1, 2]")


def _campaigns(root: Path, bomb: str) -> None:
    c = root / "camp"
    c.mkdir()
    base = "genre: spa\nprompts: [{id: p0}]\nraters: [r0]\nvotes_per_rater: 1\ngold_rate: 0\nrepeat_rate: 0\n"
    systems = "systems:\n  - {name: a, import_dir: imp, mapping_csv: map.csv}\n  - {name: b, import_dir: imp, mapping_csv: map.csv}\n"
    (c / "imp").mkdir()
    sine = 0.3 * np.sin(2 * np.pi * 220 * np.arange(96_000) / 48_000)
    sf.write(c / "imp" / "t.wav", np.stack([sine, sine], axis=1).astype(np.float32), 48_000)
    (c / "bomb.yaml").write_text(bomb + "\nname: bomb\ninstructions: *i\n")
    (c / "latin1.yaml").write_bytes(("name: café\n" + base).encode("latin-1"))
    (c / "unknown.yaml").write_text("name: u\nvotes_per_ratr: 3\n" + base + systems)
    (c / "list.yaml").write_text("- name: x\n")
    (c / "instructions-list.yaml").write_text("name: il\ninstructions: [a, b]\n" + base + systems)
    (c / "one-system.yaml").write_text(
        "name: one\n" + base + "systems:\n  - {name: a, import_dir: imp, mapping_csv: map.csv}\n"
    )
    (c / "bad-name.yaml").write_text("name: 'bad name!'\n" + base + systems)
    (c / "bad-genre.yaml").write_text("name: g\ngenre: nope\nprompts: [{id: p0}]\nraters: [r0]\n" + systems)
    for name, csv_text in {
        "dup": "prompt_id,file,file\np0,t.wav,t.wav\n",
        "take": "prompt_id,file,take\np0,t.wav,abc\n",
        "noheader": "a,b\n1,2\n",
        "missing": "prompt_id,file\np0,nope.wav\n",
    }.items():
        folder = c / f"imp-{name}"
        folder.mkdir()
        sf.write(folder / "t.wav", np.zeros((48_000, 2), dtype=np.float32) + 0.1, 48_000)
        (folder / "map.csv").write_text(csv_text)
        (c / f"map-{name}.yaml").write_text(
            f"name: m{name}\n" + base + systems.replace("import_dir: imp", f"import_dir: imp-{name}")
        )
    (c / "imp" / "map.csv").write_text("prompt_id,file\np0,t.wav\n")
    (c / "no-dir.yaml").write_text(
        "name: nd\n" + base + systems.replace("import_dir: imp", "import_dir: nowhere")
    )


def _sidecars(root: Path) -> None:
    s = root / "sidecars"
    s.mkdir()
    good = {"request": {"task": "text2music", "prompt": "x", "duration_s": 1.0, "steps": 1}, "take_index": 0,
            "model": {"name": "tiny"}, "audio": {"path": ""}}  # fmt: skip
    (s / "broken.json").write_text("{")
    (s / "foreign.json").write_text(json.dumps({"hello": 1}))
    for name, change in {
        "lora-extra": {"lora": {"path": "x", "scale": 1, "bogus": 2}},
        "lyrics-int": {"lyrics": 5},
        "seed-text": {"seed": "abc"},
        "task": {"task": "remix"},
    }.items():
        data = json.loads(json.dumps(good))
        data["request"].update(change)
        (s / f"{name}.json").write_text(json.dumps(data))


GEN = ["generate", "--model", "tiny", "--steps", "1", "--no-store"]

CASES = [
    # generate: values
    Case("duration-nan", [*GEN, "--duration", "nan"], "duration_s=nan: must be a number between 1 and 600"),
    Case("duration-inf", [*GEN, "--duration", "inf"], "duration_s=inf: must be a number between 1 and 600"),
    Case("duration-short", [*GEN, "--duration", "0.2"], "duration_s=0.2: must be between 1 and 600 seconds"),
    Case("duration-long", [*GEN, "--duration", "900"], "duration_s=900.0: must be between 1 and 600 seconds"),
    Case("duration-text", [*GEN, "--duration", "abc"], "argument --duration: invalid float value: 'abc'"),
    Case("seed-overflow-takes", [*GEN, "--seed", "9223372036854775807", "--batch", "2"],
         "the 2 takes would use seeds up to 9223372036854775808, past the largest 9223372036854775807"),
    Case("seed-2-63", [*GEN, "--seed", "9223372036854775808"], "seed=9223372036854775808: must be a whole number"),
    Case("seed-negative", [*GEN, "--seed", "-5"], "seed=-5: must be a whole number between 0"),
    Case("seed-text", [*GEN, "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    Case("steps-zero", [*GEN, "--steps", "0"], "steps=0: must be between 1 and 200"),
    Case("genre-unknown", [*GEN, "--genre", "nightclub"], "genre='nightclub': unknown genre; known genres: hotel_lobby, qsr, retail, spa"),
    Case("language-unknown", [*GEN, "--language", "klingon"], "vocal_language='klingon': not a language code the model knows; use one of ar, az, bg"),
    Case("language-upper", [*GEN, "--language", "EN"], "vocal_language='EN': not a language code the model knows; use one of"),
    Case("app-upload-zero", ["app", "--max-upload-mb", "0"], "max_upload_mb=0.0: must be between 0.001 and 1e+06 MB"),
    Case("app-upload-nan", ["app", "--max-upload-mb", "nan"], "max_upload_mb=nan: must be a number"),
    Case("out-nul", [*GEN, "--duration", "1", "--out", "a\x00b"], "a file path contains a NUL character"),
    Case("analyze-json-nul", ["eval", "analyze", "{fx}/tone.wav", "--json", "r\x00.json"], "a file path contains a NUL character"),
    Case("batch-99", [*GEN, "--batch", "99"], "batch_size=99: must be between 1 and 16"),
    Case("batch-zero", [*GEN, "--batch", "0"], "batch_size=0: must be between 1 and 16"),
    Case("guidance-nan", [*GEN, "--guidance", "nan"], "guidance_scale=nan: must be a number"),
    Case("shift-zero", [*GEN, "--shift", "0"], "shift=0.0: must be between 0.1 and 10"),
    Case("bpm-high", [*GEN, "--bpm", "999"], "bpm=999: must be between 30 and 300"),
    Case("key", [*GEN, "--key", "H major"], "keyscale='H major': write it like 'C major'"),
    Case("key-injection", [*GEN, "--key", "C major; DROP TABLE runs"], "write it like 'C major'"),
    Case("prompt-long", [*GEN, "--prompt", "a" * 3000], "longer than 2000 characters"),
    Case("lyrics-missing-file", [*GEN, "--lyrics", "@{fx}/nope.txt"], "--lyrics @file='{fx}/nope.txt': file not found"),
    Case("lyrics-latin1", [*GEN, "--lyrics", "@{fx}/lyrics-latin1.txt"], "is not UTF-8 (byte 0xe9 at offset 3)"),
    Case("lyrics-binary", [*GEN, "--lyrics", "@{fx}/hour.flac"], "is not UTF-8"),
    Case("task-unknown", [*GEN, "--task", "remix"], "argument --task: invalid choice: 'remix'"),
    Case("format-unknown", [*GEN, "--format", "aiff"], "argument --format: invalid choice: 'aiff'"),
    Case("side-up", [*GEN, "--task", "extend", "--src", "{fx}/tone.wav", "--side", "up"], "invalid choice: 'up'"),
    # generate: source audio
    Case("src-missing", [*GEN, "--task", "repaint", "--src", "{fx}/nope.wav", "--end", "1"], "file not found; check the path"),
    Case("src-empty-arg", [*GEN, "--task", "repaint", "--end", "1"], "task 'repaint' needs a source audio file"),
    Case("src-text", [*GEN, "--task", "repaint", "--src", "{fx}/notes.wav", "--end", "1"], "not a readable audio file"),
    Case("src-empty", [*GEN, "--task", "cover", "--src", "{fx}/empty.wav"], "the file is empty (0 bytes)"),
    Case("src-folder", [*GEN, "--task", "cover", "--src", "{fx}/dir.wav"], "is a folder; give an audio file"),
    Case("src-truncated", [*GEN, "--task", "cover", "--src", "{fx}/cut.flac"], "it may be truncated"),
    Case("src-hour", [*GEN, "--task", "repaint", "--src", "{fx}/hour.flac", "--end", "1"], "is 3600.0 s long; the maximum is 600 s"),
    Case("src-80-channels", [*GEN, "--task", "cover", "--src", "{fx}/ch80.wav"], "has 80 channels; the maximum is 64"),
    Case("repaint-start-nan", [*GEN, "--task", "repaint", "--src", "{fx}/tone.wav", "--start", "nan", "--end", "1"], "start_s=nan: must be a number"),
    Case("repaint-empty-window", [*GEN, "--task", "repaint", "--src", "{fx}/tone.wav", "--start", "1", "--end", "1"], "end_s=1.0: must be greater than start_s"),
    Case("repaint-beyond", [*GEN, "--task", "repaint", "--src", "{fx}/tone.wav", "--start", "1", "--end", "5"], "the window ends beyond the source (2.00 s)"),
    Case("lego-track", [*GEN, "--task", "lego", "--src", "{fx}/tone.wav", "--track", "kazoo"], "track='kazoo': choose one of"),
    Case("cover-strength", [*GEN, "--task", "cover", "--src", "{fx}/tone.wav", "--strength", "1.5"], "strength=1.5: must be between 0 and 1"),
    Case("extend-too-far", [*GEN, "--task", "extend", "--src", "{fx}/tone.wav", "--extend-by", "599"], "600"),
    Case("codes-bad", [*GEN, "--task", "audio_codes", "--codes", "1 2 3"], "give <|audio_code_N|> tokens"),
    # generate: LoRA adapters
    Case("lora-missing", [*GEN, "--lora", "{fx}/no-lora"], "no such file or folder"),
    Case("lora-bin-only", [*GEN, "--lora", "{fx}/lora-bin-only"], "no adapter weights found"),
    Case("lora-nan-alpha", [*GEN, "--lora", "{fx}/lora-nan-alpha"], "lora_alpha=nan is not a finite number"),
    Case("lora-huge-alpha", [*GEN, "--lora", "{fx}/lora-huge-alpha"], "scales every update by 2.5e+29; the limit is 1000"),
    Case("lora-negative-alpha", [*GEN, "--lora", "{fx}/lora-negative"], "is negative, which silently inverts the adapter"),
    Case("lora-text-alpha", [*GEN, "--lora", "{fx}/lora-text-alpha"], "lora_alpha='abc': must be a number"),
    Case("lora-nan-weights", [*GEN, "--lora", "{fx}/lora-nan-weights"], "NaN or infinite value(s); the adapter is corrupt"),
    Case("lora-broken-config", [*GEN, "--lora", "{fx}/lora-broken-config"], "adapter_config.json: is not valid JSON"),
    Case("lora-scale", [*GEN, "--lora", "{fx}/lora-negative", "--lora-scale", "9"], "lora.scale=9.0: use a number between -2 and 4"),
    Case("lora-pt-file", [*GEN, "--lora", "{fx}/afile"], "expected a .safetensors file or a folder"),
    # generate: where results go
    Case("out-under-a-file", [*GEN, "--duration", "1", "--out", "{fx}/afile/out"], "output folder='{fx}/afile/out': cannot write there"),
    # replay
    Case("replay-broken-json", ["replay", "{fx}/sidecars/broken.json"], "sidecar='{fx}/sidecars/broken.json': is not valid JSON"),
    Case("replay-foreign", ["replay", "{fx}/sidecars/foreign.json"], "is not a workbench sidecar"),
    Case("replay-missing", ["replay", "{fx}/sidecars/nope.json"], "file not found"),
    Case("replay-lora-extra-key", ["replay", "{fx}/sidecars/lora-extra.json"], "lora.bogus=2: unknown key"),
    Case("replay-lyrics-int", ["replay", "{fx}/sidecars/lyrics-int.json"], "lyrics=5: must be text"),
    Case("replay-seed-text", ["replay", "{fx}/sidecars/seed-text.json"], "seed='abc': must be a whole number"),
    Case("replay-task", ["replay", "{fx}/sidecars/task.json"], "task='remix': choose one of"),
    # batch plans
    Case("plan-latin1-csv", ["batch", "validate", "{fx}/plans/latin1.csv"], "is not UTF-8 (byte 0xe9 at offset 15); it looks like Windows-1252 / Latin-1"),
    Case("plan-latin1-yaml", ["batch", "validate", "{fx}/plans/latin1.yaml"], "it looks like Windows-1252 / Latin-1"),
    Case("plan-bomb", ["batch", "validate", "{fx}/plans/bomb.yaml"], "expands to more than 1,000,000 values"),
    Case("plan-seeds-1e9", ["batch", "validate", "{fx}/plans/seeds1e9.yaml"], "count 1000000000 is more than 100000 seeds"),
    Case("plan-typo-default", ["batch", "validate", "{fx}/plans/typo-default.yaml"], "defaults.stpes=4: unknown field"),
    Case("plan-lora-extra", ["batch", "validate", "{fx}/plans/lora-extra.yaml"], "lora.bogus=2: unknown key; allowed: path, scale"),
    Case("plan-dup-header", ["batch", "validate", "{fx}/plans/dup-header.csv"], "plan header='prompt': column 3 repeats an earlier column name"),
    Case("plan-empty-csv", ["batch", "validate", "{fx}/plans/empty.csv"], "the CSV is empty"),
    Case("plan-json-number", ["batch", "validate", "{fx}/plans/number.json"], "must be a mapping with 'entries:'"),
    Case("plan-json-deep", ["batch", "validate", "{fx}/plans/deep.json"], "nests deeper than 64 levels"),
    Case("plan-bad-json", ["batch", "validate", "{fx}/plans/bad.json"], "is not valid JSON"),
    Case("plan-bad-yaml", ["batch", "validate", "{fx}/plans/bad.yaml"], "is not valid YAML"),
    Case("plan-unknown-key", ["batch", "validate", "{fx}/plans/unknown-key.yaml"], "entriez=[]: unknown plan key"),
    Case("plan-no-seeds", ["batch", "validate", "{fx}/plans/no-seeds.yaml"], "every row needs seeds"),
    Case("plan-seed-text", ["batch", "validate", "{fx}/plans/seed-text.yaml"], "'lots' is not a whole number"),
    Case("plan-seed-backwards", ["batch", "validate", "{fx}/plans/seed-backwards.yaml"], "range 9-3 runs backwards"),
    Case("plan-genre", ["batch", "validate", "{fx}/plans/genre.yaml"], "genre='no-such-genre': unknown genre"),
    Case("plan-language", ["batch", "validate", "{fx}/plans/language.yaml"], "vocal_language='klingon': not a language code the model knows; use one of ar, az,"),
    Case("plan-field", ["batch", "validate", "{fx}/plans/field.yaml"], "colour='red': unknown field"),
    Case("plan-batch-size", ["batch", "validate", "{fx}/plans/batch-size.yaml"], "batching is automatic; set run.max_group"),
    Case("plan-steps", ["batch", "validate", "{fx}/plans/steps.yaml"], "steps=0: must be between 1 and 200"),
    Case("plan-grid-field", ["batch", "validate", "{fx}/plans/grid.yaml"], "grid.colour=['red']: not a request field"),
    Case("plan-grid-clash", ["batch", "validate", "{fx}/plans/grid-clash.yaml"], "is set in the row and in the plan's grid"),
    Case("plan-big-grid", ["batch", "validate", "{fx}/plans/big-grid.yaml"], "the row expands to 2,000,000,000 jobs"),
    Case("plan-entry-text", ["batch", "validate", "{fx}/plans/entry-text.yaml"], "each entry must be a mapping"),
    Case("plan-no-prompt", ["batch", "validate", "{fx}/plans/no-prompt.yaml"], "give a prompt or a genre"),
    Case("plan-defaults-list", ["batch", "validate", "{fx}/plans/defaults-list.yaml"], "give defaults as field: value"),
    Case("plan-python-tag", ["batch", "validate", "{fx}/plans/python-tag.yaml"], "could not determine a constructor"),
    Case("plan-suffix", ["batch", "validate", "{fx}/plans/plan.txt"], "unknown plan format '.txt'"),
    Case("plan-missing", ["batch", "validate", "{fx}/plans/nope.yaml"], "file not found"),
    Case("plan-surplus-cells", ["batch", "validate", "{fx}/plans/surplus.csv"], "cells=['extra']: more cells than the 2 columns"),
    Case("plan-model", ["batch", "validate", "{fx}/plans/wrong-model.yaml"], "model='nonsense'"),
    Case("plan-export-artist", ["batch", "validate", "{fx}/plans/artist.yaml"], "export.artist=123: must be text"),
    Case("plan-qc-reject", ["batch", "validate", "{fx}/plans/qc-reject.yaml"], "qc.reject='nonsense': unknown check"),
    Case("plan-qc-key", ["batch", "validate", "{fx}/plans/qc-key.yaml"], "qc.rejct=['clipping']: unknown"),
    Case("plan-export-format", ["batch", "validate", "{fx}/plans/export-format.yaml"], "export.format='aiff': choose one of"),
    Case("batch-status-truncated", ["batch", "status", "{fx}/batch-broken"], "batch jobs file='{fx}/batch-broken/jobs.json': is not valid JSON"),
    Case("batch-status-foreign", ["batch", "status", "{fx}/batch-wrong"], "is not a workbench jobs file"),
    Case("batch-status-empty", ["batch", "status", "{fx}/plans"], "no jobs.json here"),
    # campaigns
    Case("campaign-bomb", ["campaign", "create", "{fx}/camp/bomb.yaml"], "expands to more than 1,000,000 values"),
    Case("campaign-latin1", ["campaign", "create", "{fx}/camp/latin1.yaml"], "campaign file='{fx}/camp/latin1.yaml': is not UTF-8"),
    Case("campaign-unknown-key", ["campaign", "create", "{fx}/camp/unknown.yaml"], "campaign.votes_per_ratr=3: unknown key"),
    Case("campaign-list", ["campaign", "create", "{fx}/camp/list.yaml"], "must be a mapping of key: value"),
    Case("campaign-instructions-list", ["campaign", "create", "{fx}/camp/instructions-list.yaml"], "campaign.instructions=['a', 'b']: must be text"),
    Case("campaign-one-system", ["campaign", "create", "{fx}/camp/one-system.yaml"], "systems"),
    Case("campaign-name", ["campaign", "create", "{fx}/camp/bad-name.yaml"], "name='bad name!': use 1-64 letters"),
    Case("campaign-genre", ["campaign", "create", "{fx}/camp/bad-genre.yaml"], "genre='nope': choose one of"),
    Case("campaign-file-missing", ["campaign", "create", "{fx}/camp/nope.yaml"], "file not found; see configs/campaigns/example.yaml"),
    Case("campaign-mapping-dup", ["campaign", "create", "{fx}/camp/map-dup.yaml"], "mapping_csv header='file': column 3 repeats"),
    Case("campaign-mapping-take", ["campaign", "create", "{fx}/camp/map-take.yaml"], "map.csv[2].take='abc': must be a whole number"),
    Case("campaign-mapping-header", ["campaign", "create", "{fx}/camp/map-noheader.yaml"], "needs a header with prompt_id and file columns"),
    Case("campaign-mapping-file", ["campaign", "create", "{fx}/camp/map-missing.yaml"], "file='nope.wav': not found under"),
    Case("campaign-import-dir", ["campaign", "create", "{fx}/camp/no-dir.yaml"], "import_dir='{fx}/camp/nowhere': folder not found"),
    Case("campaign-status-unknown", ["campaign", "status", "nope"], "campaign='nope': no such campaign"),
    Case("campaign-export-unknown", ["campaign", "export", "nope", "--out", "{fx}/v.csv"], "no such campaign"),
    Case("campaign-delete-unknown", ["campaign", "delete", "nope"], "campaign='nope': no such campaign"),
    Case("campaign-code-unknown", ["campaign", "code", "nope", "r0"], "rater='r0': not a rater of campaign 'nope'"),
    # LoRA
    Case("lora-train-rank", ["lora", "train", "tiny", "--data", "{fx}", "--set", "rank=0"], "rank=0"),
    Case("lora-train-alpha", ["lora", "train", "tiny", "--data", "{fx}", "--set", "alpha=1e30"], "alpha"),
    Case("lora-train-lr", ["lora", "train", "tiny", "--data", "{fx}", "--set", "learning_rate=nan"], "learning_rate"),
    Case("lora-train-set", ["lora", "train", "tiny", "--data", "{fx}", "--set", "rank"], "write overrides as key=value"),
    Case("lora-train-set-yaml", ["lora", "train", "tiny", "--data", "{fx}", "--set", "rank=[1"], "rank='--set': is not valid YAML"),
    Case("lora-train-no-data", ["lora", "train", "tiny", "--data", "{fx}/nowhere"], "nowhere"),
    Case("lora-train-config", ["lora", "train", "{fx}/plans/latin1.yaml", "--data", "{fx}"], "is not UTF-8"),
    # eval and models
    Case("eval-analyze-hour", ["eval", "analyze", "{fx}/hour.flac"], "is 3600.0 s long"),
    Case("eval-analyze-text", ["eval", "analyze", "{fx}/notes.wav"], "not a readable audio file"),
    Case("eval-analyze-missing", ["eval", "analyze", "{fx}/nope.wav"], "nope.wav"),
    Case("models-check-unknown", ["models", "check", "nonsense"], "model='nonsense': not a registry name"),
]  # fmt: skip


@pytest.fixture
def run_cli(fx, engine, monkeypatch, capsys, tmp_path) -> Callable[[list[str]], tuple[int, str]]:
    """``run_cli(argv)``: (exit code, stdout + stderr) of ``workbench ARGV`` in-process, on the tiny engine."""
    import workbench.engine.engine as engine_module

    monkeypatch.setattr(engine_module, "Engine", lambda *a, **k: engine)  # one tiny model for every case
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    def run(argv: list[str]) -> tuple[int, str]:
        try:
            code = main([a.replace("{fx}", str(fx)) for a in argv])
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
        finally:
            engine.unload_lora()
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_case(case: Case, run_cli, fx) -> None:
    code, output = run_cli(case.argv)
    OUTPUTS.append((case.id, output))
    assert case.message.replace("{fx}", str(fx)) in output, output
    assert code == case.code, output
    assert "unexpected" not in output.lower() and "Traceback" not in output


def test_corrupt_store_names_path_and_recover_command(run_cli, tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "workbench.sqlite").write_bytes(np.random.default_rng(0).bytes(65536))
    code, output = run_cli(["campaign", "list"])
    OUTPUTS.append(("corrupt-store", output))
    assert code == 2 and f"the store {home / 'workbench.sqlite'} is corrupt" in output
    assert ".recover" in output and "mv " in output


def test_newer_store_is_refused_and_left_unchanged(run_cli, tmp_path) -> None:
    from workbench.core.store import Store

    home = tmp_path / "home"
    path = home / "workbench.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('0099_from_the_future', 'x')")
        conn.execute("PRAGMA user_version=99")
    code, output = run_cli(["campaign", "list"])
    OUTPUTS.append(("newer-store", output))
    assert code == 2 and "was written by a newer workbench (schema version 99" in output
    assert "unknown migrations: 0099_from_the_future" in output
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99


def test_disk_full_while_writing_names_path_and_free_space(run_cli, monkeypatch, tmp_path) -> None:
    """A full disk simulated at the write itself: libsndfile says only "System error."."""
    import workbench.core.audio_io as audio_io

    def full(*args, **kwargs):
        raise sf.LibsndfileError(2, "System error.")  # what libsndfile raises on ENOSPC

    monkeypatch.setattr(audio_io.sf, "write", full)
    out = tmp_path / "out"
    code, output = run_cli([*GEN, "--duration", "1", "--out", str(out)])
    OUTPUTS.append(("disk-full", output))
    assert code == 2 and f"output='{out}" in output and "MB free there" in output
    assert not any(out.glob("*"))


def test_lora_list_skips_a_corrupt_summary_with_a_note(run_cli, tmp_path) -> None:
    root = tmp_path / "runs"
    for name, summary in (("good", json.dumps({"best": {"step": 3, "val_loss": 0.5}})), ("broken", "{")):
        (root / name / "best").mkdir(parents=True)
        (root / name / "best" / "pytorch_lora_weights.safetensors").write_bytes(b"x")
        (root / name / "summary.json").write_text(summary)
    (root / "good" / "checkpoints" / "step-abc").mkdir(parents=True)
    code, output = run_cli(["lora", "list", "--root", str(root), "--checkpoints"])
    OUTPUTS.append(("lora-list", output))
    assert code == 0
    assert "good" in output and "0.50000" in output and "broken" in output
    assert f"note: {root / 'broken' / 'summary.json'} is unreadable" in output


def test_campaign_delete_removes_a_stuck_campaign_and_its_files(run_cli, fx, monkeypatch) -> None:
    """Disk full during create (simulated at the clip write): the create rolls back rows and files, and a
    campaign left 'preparing' by an older version is removed by `campaign delete`."""
    from workbench.campaigns import audio_prep, db
    from workbench.campaigns.config import load_config
    from workbench.campaigns.stimuli import campaign_dir
    from workbench.core.store import Store

    real = audio_prep.write_anonymised
    written: list[int] = []

    def fills_up(audio, folder):
        if written:
            raise OSError(28, "No space left on device", str(folder))
        written.append(1)
        return real(audio, folder)

    monkeypatch.setattr(audio_prep, "write_anonymised", fills_up)
    config_path = fx / "camp" / "ok.yaml"
    config_path.write_text(
        (fx / "camp" / "map-dup.yaml").read_text().replace("mdup", "okc").replace("imp-dup", "imp")
        + "clip_duration_s: 1.5\n"
    )
    code, output = run_cli(["campaign", "create", str(config_path)])
    OUTPUTS.append(("campaign-disk-full", output))
    assert code == 2 and "the disk is full" in output, output
    store = Store()
    assert db.list_campaigns(store) == []
    assert not campaign_dir("okc").exists()
    monkeypatch.setattr(audio_prep, "write_anonymised", real)
    db.create_campaign(store, load_config(config_path))  # a create that died before its roll-back
    (campaign_dir("okc") / "serve").mkdir(parents=True)
    (campaign_dir("okc") / "serve" / "orphan.wav").write_bytes(b"x")
    code, output = run_cli(["campaign", "create", str(config_path)])
    assert "remove it with: workbench campaign delete okc" in output
    code, output = run_cli(["campaign", "delete", "okc"])
    OUTPUTS.append(("campaign-delete", output))
    assert code == 0 and "deleted campaign okc and 1 clip file(s)" in output
    assert db.list_campaigns(store) == [] and not campaign_dir("okc").exists()


@pytest.mark.parametrize(
    ("entries", "code", "head"),
    [
        (
            "  - {task: repaint, src: SRC, start_s: 0.5, end_s: 3.0, seeds: 0-1}\n",
            4,
            "error: all 2 jobs failed:",
        ),
        (
            "  - {task: repaint, src: SRC, start_s: 0.5, end_s: 3.0, seeds: 0}\n  - {prompt: b, seeds: 1}\n",
            3,
            "error: 1 of 2 jobs failed:",
        ),
        ("  - {prompt: b, seeds: 1}\n", 0, ""),
    ],
    ids=["all-failed", "some-failed", "none-failed"],
)
def test_batch_run_exit_status_says_how_many_jobs_failed(run_cli, fx, tmp_path, entries, code, head) -> None:
    """The repaint window ends past the 2 s source: only the engine finds that, so each such job fails at run
    time while the batch carries on; the exit status and a summary naming the jobs must say so."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: fails\ndefaults: {duration_s: 1, steps: 1}\nqc: {enabled: false}\nentries:\n"
        + entries.replace("SRC", str(fx / "tone.wav"))
    )
    out = tmp_path / f"out-{code}"
    status, output = run_cli(["batch", "run", str(plan), "--out", str(out), "--no-progress", "--no-store"])
    OUTPUTS.append((f"batch-exit-{code}", output))
    assert status == code, output
    if code:
        assert head in output
        assert "(row 1, seed 0): InputError: end_s=3.0: the window ends beyond the source" in output, output
    else:
        assert "failed:" not in output


def test_no_output_is_generic() -> None:
    """Every case above printed its own message: none the generic handler's line, none a traceback."""
    assert len(OUTPUTS) >= len(CASES)
    generic = [(case, out) for case, out in OUTPUTS if "unexpected" in out.lower() or "Traceback" in out]
    assert generic == []


@pytest.mark.parametrize(
    "argv",
    [
        [*GEN, "--duration", "1", "--out", "{fx}/afile/out"],  # output folder not writable
        [*GEN, "--seed", "9223372036854775807", "--batch", "2"],  # seeds past the range
    ],
    ids=["unwritable-out", "seed-range"],
)
def test_refused_before_the_model_runs(run_cli, engine, monkeypatch, argv) -> None:
    def ran(*args, **kwargs):
        raise AssertionError("the model ran")

    monkeypatch.setattr(engine, "run", ran)
    code, output = run_cli(argv)
    OUTPUTS.append(("before-model", output))
    assert code == 2 and "the model ran" not in output
