"""Scoring a video's frames against a query to pick its key frames (GranAlign Step C, the
``key_frame`` kind), two ways:

- ``ClipImageText``: the paper's route, image-text similarity from a CLIP-style dual encoder (CLIP
  ViT-B/32 in the paper): the frames are decoded at the query-agnostic captions' times and scored
  by cosine between the projected image and text embeddings. Used when the configured visual
  encoder (``PriorsConfig.visual_encoder``) is a full CLIP model, with a text tower.
- ``CaptionSimilarity``: the fallback when it has none (the demo's tiny CLIP is a vision tower
  only), and a deviation from the paper: sentence similarity between the query and each frame's
  query-agnostic caption, from the text features already in the cache. It can only find what
  the generic caption already mentions (``../shared/methods/granalign.md`` section 4).

Which one ran goes into every key-frame key and row (``spec``, ``name``). ``key_frame_count`` is
how many frames a query keeps: the top K % (``PlanSettings.key_frame_percent``, 20 % by the
notes' #5), at least ``key_frame_min`` and at most ``key_frame_max``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # pipeline.kinds imports this module (the key_frame kind): no import back at run time
    from pipeline.kinds.base import PlanSettings, VideoInput


class FrameScorer(Protocol):
    name: str  # the method, in every key-frame row's ``model`` column

    def spec(self) -> dict[str, Any]:
        """Everything that decides the scores (method, model, its revision): in every key."""

    def scores(self, video: VideoInput, text: str, times: Sequence[float], caption_shas: Sequence[str]) -> np.ndarray:
        """(L,) similarity of each frame (at ``times``, captioned as ``caption_shas``) to ``text``."""


def key_frame_count(n_frames: int, settings: PlanSettings) -> int:
    """``ceil(percent / 100 * n)``, clamped to [key_frame_min, key_frame_max] and to ``n``."""
    wanted = math.ceil(round(settings.key_frame_percent / 100.0 * n_frames, 9))
    return min(n_frames, max(settings.key_frame_min, min(wanted, settings.key_frame_max)))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def has_text_tower(folder: str | Path | None) -> bool:
    """Whether a model folder holds a full CLIP-style dual encoder (``CLIPModel``: vision and text
    towers with projections), not just a vision tower (``CLIPVisionModel``)."""
    if not folder:
        return False
    config = Path(folder) / "config.json"
    if not config.is_file():
        return False
    data = json.loads(config.read_text())
    return data.get("model_type") == "clip" and "text_config" in data


class CaptionSimilarity:
    """The fallback scorer: cosine between the query's and each frame caption's sentence vectors
    (the text encoder of the run, read from the cache; the query text embedded when missing)."""

    name = "caption-similarity"

    def __init__(self, context: Any) -> None:
        self.context = context

    def spec(self) -> dict[str, Any]:
        return {
            "method": self.name,
            "encoder": self.context.encoder_name,
            "note": "deviation: the visual encoder has no text tower, so frames are ranked by their captions",
        }

    def scores(self, video: VideoInput, text: str, times: Sequence[float], caption_shas: Sequence[str]) -> np.ndarray:
        query = _unit(self.context.embed(video, [text]))[0]
        return _unit(self.context.vectors(video, list(caption_shas))) @ query


class ClipImageText:
    """Image-text cosine from a CLIP-style dual encoder folder (``transformers.CLIPModel``, its
    image processor and tokenizer), the frames decoded with the run's frame sampler. A video's
    image embeddings are kept for its next queries."""

    name = "clip-image-text"

    def __init__(self, folder: str | Path, sampler: Any, device: str = "cpu") -> None:
        self.folder, self.sampler, self.device = Path(folder), sampler, device
        self._model: Any = None
        self._video: tuple[str, tuple[float, ...]] | None = None
        self._images: np.ndarray | None = None

    def spec(self) -> dict[str, Any]:
        from groundwork.cache.hashing import sha256_file

        files = sorted(self.folder.glob("*.safetensors")) + sorted(self.folder.glob("*.bin"))
        return {
            "method": self.name,
            "weights": {f.name: sha256_file(f) for f in files},
            "sampler": self.sampler.spec() if self.sampler is not None else {},
        }

    def _setup(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        self._processor = AutoImageProcessor.from_pretrained(self.folder, backend="pil")
        self._tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self._model = CLIPModel.from_pretrained(self.folder).to(self.device).eval()

    def _image_embeddings(self, video: VideoInput, times: Sequence[float]) -> np.ndarray:
        import torch

        wanted = (video.video_id, tuple(times))
        if self._video == wanted and self._images is not None:
            return self._images
        sampled = self.sampler.sample(video.path, list(times), video.video_id)
        if not sampled.ok:
            msg = f"key-frame selection: video {video.video_id!r}: {sampled.error}"
            raise ValueError(msg)
        with torch.inference_mode():
            pixels = self._processor(images=list(sampled.frames), return_tensors="pt")["pixel_values"]
            images = self._model.get_image_features(pixel_values=pixels.to(self.device))
        self._video, self._images = wanted, _unit(_as_array(images))
        return self._images

    def scores(self, video: VideoInput, text: str, times: Sequence[float], caption_shas: Sequence[str]) -> np.ndarray:
        import torch

        self._setup()
        images = self._image_embeddings(video, times)
        tokens = self._tokenizer([text], padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            query = self._model.get_text_features(
                input_ids=tokens["input_ids"].to(self.device), attention_mask=tokens["attention_mask"].to(self.device)
            )
        return images @ _unit(_as_array(query))[0]


def _as_array(features: Any) -> np.ndarray:
    """A ``get_*_features`` result as (n, D) float32 (a tensor, or an output with a pooled tensor)."""
    tensor = features if hasattr(features, "detach") else getattr(features, "pooler_output", features)
    return tensor.detach().float().cpu().numpy()


def frame_scorer(context: Any) -> FrameScorer:
    """CLIP image-text similarity when the run's visual encoder has a text tower, else the caption
    fallback; one per context (the CLIP model loads once)."""
    if has_text_tower(context.visual_encoder):
        return context.shared(
            "clip-image-text", lambda: ClipImageText(context.visual_encoder, context.sampler, context.device)
        )
    return context.shared("caption-similarity", lambda: CaptionSimilarity(context))
