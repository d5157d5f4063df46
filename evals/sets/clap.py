"""CLAP audio embeddings through transformers' ``ClapModel``, from local weights only.

Nothing is downloaded: the model is loaded with ``local_files_only=True`` (and HF_HUB_OFFLINE set for the call),
from a folder or from a hub id already in the local Hugging Face cache. Missing weights raise
``WeightsMissingError`` with what to do. Clips are cut into 10 s windows at 48 kHz (CLAP's training length); each
window gives one L2-normalised embedding.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from evals.sets.embeddings import EmbeddingBackend
from workbench.core.errors import WeightsMissingError

DEFAULT_MODEL = "laion/larger_clap_music"
WINDOW_S = 10.0
BATCH = 8


class ClapBackend(EmbeddingBackend):
    name = "clap"
    sample_rate = 48_000

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, device: str = "cpu") -> None:
        self.model_ref = str(model)
        self.device = device
        self._model, self._extractor = self._load(self.model_ref)

    @property
    def cache_id(self) -> str:
        """Model folder fingerprint (file names, sizes, mtimes) or the hub cache's commit hash."""
        ref = Path(self.model_ref)
        if ref.is_dir():
            digest = hashlib.blake2b(digest_size=8)
            for item in sorted(ref.iterdir()):
                stat = item.stat()
                digest.update(f"{item.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
            version = digest.hexdigest()
        else:
            version = str(getattr(self._model.config, "_commit_hash", None) or "cached")  # type: ignore[attr-defined]
        return f"clap-{ref.name}-{version}"

    def _load(self, ref: str) -> tuple[object, object]:
        previous = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: no network even if a library ignores the flag
        try:
            from transformers import ClapFeatureExtractor, ClapModel

            model = ClapModel.from_pretrained(ref, local_files_only=True)
            model = model.to(self.device).eval()  # type: ignore[arg-type]
            extractor = ClapFeatureExtractor.from_pretrained(ref, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise WeightsMissingError(
                f"CLAP weights for {ref!r} are not on this machine ({type(exc).__name__}). They are never "
                "downloaded at run time: copy a transformers CLAP checkpoint (e.g. laion/larger_clap_music, "
                "saved with save_pretrained) to a folder and pass it with --model, or use --backend logmel."
            ) from None
        finally:
            if previous is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = previous
        return model, extractor

    def embed_mono(self, mono: np.ndarray) -> np.ndarray:
        import torch

        window = int(WINDOW_S * self.sample_rate)
        windows = [mono[start : start + window] for start in range(0, max(mono.size, 1), window)]
        # A tail shorter than a second carries little; keep it only when it is the whole clip.
        windows = [w for w in windows if w.size >= self.sample_rate] or windows[:1]
        fused = bool(getattr(self._model.config.audio_config, "enable_fusion", False))  # type: ignore[attr-defined]
        outputs = []
        for start in range(0, len(windows), BATCH):
            inputs = self._extractor(  # type: ignore[operator]
                windows[start : start + BATCH],
                sampling_rate=self.sample_rate,
                return_tensors="pt",
                truncation="fusion" if fused else "rand_trunc",  # windows are <= 10 s, so nothing is cropped
                padding="repeatpad",
            )
            with torch.inference_mode():
                features = self._model.get_audio_features(**inputs.to(self.device))  # type: ignore[attr-defined]
            pooled = features.pooler_output if hasattr(features, "pooler_output") else features
            outputs.append(pooled.float().cpu().numpy())
        return np.concatenate(outputs, axis=0)
