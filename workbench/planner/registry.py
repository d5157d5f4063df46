"""The LM registry (the ``lms:`` section of configs/models.yaml) and finding an LM's folder without network.

The ACE-Step release keeps each LM in a folder named ``acestep-5Hz-lm-<size>``: the 1.7B one inside the main
repository ``ACE-Step/Ace-Step1.5`` and the others in repositories of their own
(ace-step/ACE-Step-1.5@f30aee4:acestep/model_downloader.py, the ``acestep-5Hz-lm-*`` entries). A spec therefore
names a hub repository and, where the LM is one folder of it, that ``subfolder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.core import paths
from workbench.core.config import from_mapping, in_file, read_yaml
from workbench.core.errors import ConfigError, InputError, WeightsMissingError

REGISTRY_PATH = paths.CONFIG_DIR / "models.yaml"
TINY_LM_HUB = "local:tiny-lm"


@dataclass(frozen=True)
class LmSpec:
    name: str
    hub_id: str
    folder: str  # the release's folder name, e.g. acestep-5Hz-lm-1.7B
    subfolder: str = ""  # set when the LM is one folder of a larger hub repository
    revision: str | None = None
    params: str = ""
    # Context the LM was served with: prompt + metadata + 5 codes per second must fit
    # (ace-step/ACE-Step-1.5@f30aee4:acestep/llm_inference.py, ``self.max_model_len = 4096``).
    max_model_len: int = 4096
    notes: str = ""

    @property
    def is_local_build(self) -> bool:
        return self.hub_id.startswith("local:")


def load_lm_registry(path: Path = REGISTRY_PATH) -> dict[str, LmSpec]:
    raw = read_yaml(path, "models file") or {}
    lms = raw.get("lms") if isinstance(raw, dict) else None
    if not isinstance(lms, dict):
        raise ConfigError("lms", lms, f"{path} must have a top-level 'lms:' mapping of language models")
    with in_file(path):
        return {
            name: from_mapping(LmSpec, entry, f"lms.{name}", fixed={"name": name})
            for name, entry in lms.items()
        }


@dataclass(frozen=True)
class ResolvedLm:
    name: str
    folder: Path
    revision: str
    spec: LmSpec | None


def pull_hint(name: str) -> str:
    return f"workbench models pull {name}"


def _hub_folder(spec: LmSpec) -> tuple[Path, str]:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = [f"{spec.subfolder}/*"] if spec.subfolder else None
    try:
        root = Path(
            snapshot_download(
                spec.hub_id, revision=spec.revision, local_files_only=True, allow_patterns=patterns
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        raise WeightsMissingError(
            f"the language model '{spec.name}' ({spec.hub_id}) is not in the local Hugging Face cache. "
            f"Download it with: {pull_hint(spec.name)}"
        ) from exc
    folder = root / spec.subfolder if spec.subfolder else root
    if not (folder / "config.json").exists():
        raise WeightsMissingError(
            f"the language model '{spec.name}' has no {spec.subfolder or '.'}/config.json in the cache; "
            f"download it with: {pull_hint(spec.name)}"
        )
    return folder, root.name


def resolve_lm(name: str, registry: dict[str, LmSpec] | None = None) -> ResolvedLm:
    """A registry name or an original-layout folder -> the folder to load. Raises fast when it is absent."""
    from workbench.engine.models import local_revision

    registry = registry if registry is not None else load_lm_registry()
    if not name or not str(name).strip():
        raise InputError("lm", name, f"give an LM name ({', '.join(registry)}) or a folder")
    spec = registry.get(name)
    if spec is not None and spec.is_local_build:
        from workbench.planner.tiny_lm import tiny_lm_dir

        folder = tiny_lm_dir()
        if not (folder / "config.json").exists():
            raise WeightsMissingError(
                f"the language model '{name}' is not built yet. Build it with: {pull_hint(name)}"
            )
        return ResolvedLm(name, folder, local_revision(folder), spec)
    if spec is not None:
        folder, revision = _hub_folder(spec)
        return ResolvedLm(name, folder, revision, spec)
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").exists() or not (candidate / "tokenizer.json").exists():
            raise InputError(
                "lm",
                name,
                "this folder has no config.json and tokenizer.json; give an acestep-5Hz-lm-* folder",
            )
        return ResolvedLm(name, candidate.resolve(), local_revision(candidate), None)
    raise InputError("lm", name, f"not an LM name ({', '.join(registry)}) or an existing folder")


def pull_lm(name: str) -> Path:
    """Download (for the tiny LM: build) an LM into the local cache and return its folder."""
    registry = load_lm_registry()
    spec = registry.get(name)
    if spec is None:
        raise InputError("lm", name, f"choose one of {', '.join(registry)}")
    if spec.is_local_build:
        from workbench.planner.tiny_lm import ensure_tiny_lm

        return ensure_tiny_lm()
    from huggingface_hub import snapshot_download

    patterns = [f"{spec.subfolder}/*"] if spec.subfolder else None
    root = Path(snapshot_download(spec.hub_id, revision=spec.revision, allow_patterns=patterns))
    return root / spec.subfolder if spec.subfolder else root


def lm_problem(name: object) -> str | None:
    """Why ``name`` cannot plan here (unknown, or not downloaded), with the pull command; None when it can.

    Checked when a batch plan or a campaign is validated, so a missing LM stops it before any model loads.
    """
    registry = load_lm_registry()
    if not isinstance(name, str) or not name.strip():
        return f"give an LM name ({', '.join(registry)}) or an acestep-5Hz-lm-* folder"
    try:
        resolve_lm(name, registry)
    except WeightsMissingError as exc:
        return str(exc)
    except InputError:
        return (
            f"unknown LM: not a name in the models file's lms: section ({', '.join(registry)}) or an LM folder; "
            f"download one with: {pull_hint('lm-1.7B')}"
        )
    return None
