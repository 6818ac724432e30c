"""Per-frame visual features from a CLIP-style vision encoder loaded through transformers, written
as ``{vid}.npz`` (key ``features``, shape (L, D) float32: the moment_detr / lighthouse layout).

Pooling (``VisualEncoder.pooling``) turns the encoder's tokens into one vector per frame:

- ``cls_grid2`` (default): the pooled output (post-layernorm CLS token) concatenated with the patch
  tokens averaged over a 2x2 grid of image quadrants, D = 5 x hidden. With random weights, the CLS
  token and the mean over all patches lose where things are: a linear probe on demo-style frames
  (one shape, random x, 64 px tiny CLIP) finds x with R^2 < 0 from ``cls``, ``mean`` or
  ``cls_mean``, and R^2 = 0.88 from ``cls_grid2``; all four keep colour (100 %).
- ``cls_mean``: pooled output + mean of the patch tokens, D = 2 x hidden.
- ``cls``: the pooled output only, D = hidden (what CLIP-feature baselines usually store).
- ``mean``: the mean of the patch tokens, D = hidden.

The image processor is the PIL backend (``backend="pil"``), so torchvision is never needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from groundwork.atomic import atomic_write
from groundwork.cache.fs import cache_location
from groundwork.cache.hashing import sha256_file

Pooling = Literal["cls_grid2", "cls_mean", "cls", "mean"]


def _grid2(tokens: Any) -> Any:
    """Patch tokens (B, P, D) averaged over a 2x2 grid of the image -> (B, 4 * D)."""
    import torch

    b, p, d = tokens.shape
    side = round(p**0.5)
    grid = tokens.reshape(b, side, side, d).permute(0, 3, 1, 2)
    return torch.nn.functional.adaptive_avg_pool2d(grid, 2).flatten(1)


def _cat(*parts: Any) -> Any:
    import torch

    return torch.cat(parts, dim=-1)


# name -> (width in multiples of hidden, pooling of the model output)
POOLINGS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "cls_grid2": (5, lambda out: _cat(out.pooler_output, _grid2(out.last_hidden_state[:, 1:]))),
    "cls_mean": (2, lambda out: _cat(out.pooler_output, out.last_hidden_state[:, 1:].mean(1))),
    "cls": (1, lambda out: out.pooler_output),
    "mean": (1, lambda out: out.last_hidden_state[:, 1:].mean(1)),
}


class VisualEncoder:
    """A CLIP-style vision tower (a CLIPVisionModel folder, or a full CLIP folder: its vision
    part is loaded) that maps frames (N, H, W, 3) uint8 to features (N, D) float32."""

    def __init__(
        self, model: str | Path, device: str = "cpu", pooling: Pooling = "cls_grid2", batch_size: int = 32
    ) -> None:
        from transformers import CLIPVisionConfig

        if pooling not in POOLINGS:
            msg = f"VisualEncoder pooling={pooling!r} is unknown; allowed: {sorted(POOLINGS)}"
            raise ValueError(msg)
        self.model_path, self.device, self.pooling, self.batch_size = str(model), device, pooling, batch_size
        self.name = Path(self.model_path).name or self.model_path
        hidden = CLIPVisionConfig.from_pretrained(self.model_path).hidden_size
        self.dim = hidden * POOLINGS[pooling][0]
        self._model: Any = None
        self._processor: Any = None
        self._spec: dict[str, Any] | None = None

    def spec(self) -> dict[str, Any]:
        """What decides the features, for cache keys: the hashes of the weights and of the image
        processor config (a folder renamed is the same encoder), the pooling and the width."""
        if self._spec is None:
            folder = Path(self.model_path)
            files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
            files += [folder / "preprocessor_config.json"] if (folder / "preprocessor_config.json").exists() else []
            source: Any = {f.name: sha256_file(f) for f in files} if folder.is_dir() else self.model_path
            self._spec = {"encoder": "clip_vision", "source": source, "pooling": self.pooling, "dim": self.dim}
        return self._spec

    def setup(self) -> None:
        """Load the model and the image processor once (per worker)."""
        if self._model is not None:
            return
        from transformers import AutoImageProcessor, CLIPVisionModel

        self._processor = AutoImageProcessor.from_pretrained(self.model_path, backend="pil")
        self._model = CLIPVisionModel.from_pretrained(self.model_path).to(self.device).eval()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        import torch

        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            msg = f"VisualEncoder.encode: frames must be (N, H, W, 3) uint8, got {frames.shape} {frames.dtype}"
            raise ValueError(msg)
        self.setup()
        chunks = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                batch = self._processor(images=list(frames[i : i + self.batch_size]), return_tensors="pt")
                out = self._model(pixel_values=batch["pixel_values"].to(self.device))
                chunks.append(POOLINGS[self.pooling][1](out).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)


def write_video_features(folder: Path, video_id: str, features: np.ndarray) -> Path:
    """Write ``folder/{video_id}.npz`` (key ``features``, (L, D) float32) atomically
    (``groundwork.atomic``)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or not np.isfinite(features).all():
        msg = f"video {video_id!r}: features must be a finite (L, D) array, got shape {features.shape}"
        raise ValueError(msg)
    return atomic_write(cache_location(folder) / f"{video_id}.npz", lambda tmp: np.savez(tmp, features=features))
