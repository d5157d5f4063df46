"""Each variant runs at ACE-Step's own settings unless the request overrides them, and says where they come from."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.engine.engine import Engine
from workbench.engine.models import FALLBACK_PRESETS, ResolvedModel, load_registry, preset_for
from workbench.engine.requests import Text2Music

_CITATION = re.compile(r"ace-step/ACE-Step-1\.5@[0-9a-f]{7}:acestep/\S+\.py")


def _info_for(name: str, base_info):
    registry = load_registry()
    resolved = ResolvedModel(name, "registry-hub", Path("/nowhere"), "rev", registry[name])
    variant, p = preset_for(resolved, is_turbo=registry[name].variant == "turbo")
    return replace(
        base_info,
        name=name,
        variant=variant,
        steps=p.steps,
        guidance_scale=p.guidance_scale,
        shift=p.shift,
        cfg_interval_start=p.cfg_interval_start,
        cfg_interval_end=p.cfg_interval_end,
        preset=p.source,
    )


def test_registry_carries_upstream_defaults_with_their_sources():
    registry = load_registry()
    for name in ("base", "sft", "xl-base", "xl-sft"):
        s = registry[name]
        assert (s.steps, s.shift, s.guidance_scale) == (50, 1.0, 7.0), name
        assert (s.cfg_interval_start, s.cfg_interval_end) == (0.0, 1.0), name
    for name in ("turbo", "xl-turbo"):
        s = registry[name]
        assert (s.steps, s.shift, s.guidance_scale) == (8, 3.0, 1.0), name
    for name, s in registry.items():
        if not s.is_local_build:
            assert _CITATION.search(s.preset_source), name
    assert registry["turbo"].layout == "original" and registry["turbo"].subfolder == "acestep-v15-turbo"
    assert registry["base"].layout == "original" and registry["base"].components_from == "turbo"
    assert registry["xl-turbo"].layout == "diffusers" and "4B" in registry["xl-turbo"].params


@pytest.mark.parametrize("name", ["base", "sft", "turbo"])
def test_requests_resolve_to_the_variant_preset_unless_overridden(engine, name):
    info = _info_for(name, engine.info)
    eng = Engine(name, pipeline=engine.pipeline, model_info=info)
    spec = load_registry()[name]
    resolved = eng.resolve(Text2Music(prompt="x"))
    assert (resolved.steps, resolved.guidance_scale, resolved.shift) == (
        spec.steps,
        spec.guidance_scale,
        spec.shift,
    )
    assert (resolved.cfg_interval_start, resolved.cfg_interval_end) == (
        spec.cfg_interval_start,
        spec.cfg_interval_end,
    )
    mine = eng.resolve(Text2Music(prompt="x", steps=12, shift=2.0, guidance_scale=3.0, cfg_interval_end=0.5))
    assert (mine.steps, mine.shift, mine.guidance_scale, mine.cfg_interval_end) == (12, 2.0, 3.0, 0.5)


def test_unregistered_folders_get_upstream_defaults_by_variant():
    resolved = ResolvedModel("x", "folder", Path("/x"), "local:1", None)
    assert preset_for(resolved, is_turbo=True)[1] == FALLBACK_PRESETS["turbo"]
    variant, p = preset_for(resolved, is_turbo=False)
    assert variant == "base" and (p.steps, p.shift, p.guidance_scale) == (50, 1.0, 7.0)
    assert "_BASE_DEFAULTS" not in p.source and "model_discovery.py" in p.source


def test_cfg_interval_is_validated():
    from workbench.core.errors import InputError

    with pytest.raises(InputError, match="cfg_interval_start=0.8: must not be after cfg_interval_end"):
        Text2Music(prompt="x", cfg_interval_start=0.8, cfg_interval_end=0.2).validate()
    with pytest.raises(InputError, match="cfg_interval_end"):
        Text2Music(prompt="x", cfg_interval_end=1.5).validate()


def test_models_list_shows_layout_and_presets(capsys):
    from workbench.cli.main import main

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    base = next(line for line in out.splitlines() if line.startswith("base "))
    assert re.search(r"original\s+base\s+50\s+7\s+1\s+0-1", base), base
    turbo = next(line for line in out.splitlines() if line.startswith("turbo "))
    assert (
        re.search(r"original\s+turbo\s+8\s+1\s+3", turbo)
        and "ACE-Step/Ace-Step1.5/acestep-v15-turbo" in turbo
    )
