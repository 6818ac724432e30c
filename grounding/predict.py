"""Inference from a checkpoint: ``Predictor.from_checkpoint(run).predict(video_id, query, k=5)``.

The predictor reads what the model was trained on from the checkpoint's manifest: the video's
features (same store), its narratives / captions / events from the cache (a TEA-style model needs
the test video's narratives), and the query's text features. A query text that is already in the
text-feature cache (every manifest query is) uses the cached vectors, exactly what training saw.
A new text is embedded with the manifest's text encoder re-implemented in pure torch
(``grounding.text_encoder``), so inference never imports ``vllm``, ``pipeline.backends`` or
transformers' model / generation code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grounding.checkpoint import data_sources, load_checkpoint
from grounding.data.collate import collate, to_device
from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.inference import batch_windows, collate_by_video
from grounding.models import build_model
from grounding.text_encoder import QUERY_ENCODERS
from grounding.data.textbank import TextBank
from groundwork.cache.store import CacheStore
from groundwork.cache.hashing import sha256_text


@dataclass
class Prediction:
    video_id: str
    query: str
    windows: list[list[float]]  # [start, end, score], best first
    duration: float
    start_probs: np.ndarray  # (n,) softmax over the video's snippets
    end_probs: np.ndarray
    narrative_times: list[float]
    narrative_texts: list[str]


class Predictor:
    max_cached_videos = 512
    def __init__(self, model: torch.nn.Module, manifest: str | Path, features: list[str] | None = None,
                 store_layout: str = "auto", max_len: int = 128, cache_dir: str | Path | None = None,
                 device: str = "cpu", batch_size: int = 64) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.info = read_manifest(manifest, cache_dir)
        self.store = open_video_store(self.info, features, store_layout)
        self.max_len = max_len
        self.cache = CacheStore(self.info.cache_dir)
        self._rows_by_video: dict[str, list[dict[str, Any]]] = {}
        for row in self.info.rows:
            self._rows_by_video.setdefault(row["video_id"], []).append(row)
        self._datasets: dict[str, GroundingDataset] = {}
        self._video_items: dict[str, dict[str, Any]] = {}
        self._query_vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._encoder: Any = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", manifest: str | Path | None = None,
                        features: list[str] | None = None, cache_dir: str | Path | None = None) -> Predictor:
        """``path`` is a run folder (uses ``best/``) or a checkpoint folder; the manifest, features
        and cache default to those recorded in the checkpoint's config (give them to use a run
        folder copied from another machine)."""
        ckpt = load_checkpoint(path)
        data = ckpt.config["data"]
        src = data_sources(ckpt, manifest, features, cache_dir)
        model = build_model(ckpt.config["model"]["name"], **ckpt.model_args)
        model.load_state_dict(ckpt.state_dict)
        return cls(model, src.manifest, src.features, data["store"], data["max_len"], src.cache_dir, device,
                   ckpt.config["optim"]["batch_size"])

    # -- per video: everything but the query, built once ---------------------------------------
    def _dataset(self, split: str) -> GroundingDataset:
        if split not in self._datasets:
            self._datasets[split] = GroundingDataset(self.info, split, self.store, self.max_len)
        return self._datasets[split]

    def video_item(self, video_id: str) -> dict[str, Any]:
        if video_id not in self._video_items:
            rows = self._rows_by_video.get(video_id)
            if not rows:
                msg = f"video '{video_id}' is not in manifest {self.info.path}"
                raise KeyError(msg)
            ds = self._dataset(rows[0]["split"])
            if len(self._video_items) >= self.max_cached_videos:  # bounded: drop the oldest
                self._video_items.pop(next(iter(self._video_items)))
            self._video_items[video_id] = ds[ds.rows.index(rows[0])]
        return self._video_items[video_id]

    # -- query vectors: cache first, then the pure-torch encoder ---------------------------------
    def _embed(self, queries: Sequence[str]) -> None:
        todo = sorted({q for q in queries if q not in self._query_vectors})
        if not todo:
            return
        shas = {sha256_text(q): q for q in todo}
        bank = TextBank.from_table(self.cache.text_features(self.info.text_encoder, shas), self.info.text_encoder)
        for sha, q in shas.items():
            if sha in bank:
                self._query_vectors[q] = (bank.sentence(sha), bank.token_vectors(sha))
        new = [q for q in todo if q not in self._query_vectors]
        if new:
            if self._encoder is None:
                if self.info.text_encoder not in QUERY_ENCODERS:
                    msg = (f"query text not in the cache and no inference encoder for '{self.info.text_encoder}' "
                           f"(available: {', '.join(QUERY_ENCODERS.names())}); embed it with `priors run` first")
                    raise ValueError(msg)
                self._encoder = QUERY_ENCODERS.get(self.info.text_encoder)()
            for q, vectors in zip(new, self._encoder.encode(new), strict=True):
                self._query_vectors[q] = vectors

    def _item(self, video_id: str, query: str) -> dict[str, Any]:
        item = dict(self.video_item(video_id))
        sentence, tokens = self._query_vectors[query]
        n = item["video"].shape[0]
        item.update(query=query, query_id=f"{video_id}:{query}", windows=[], query_sentence=sentence,
                    query_tokens=tokens, start_label=np.zeros(n, np.float32), end_label=np.zeros(n, np.float32),
                    highlight_label=np.zeros(n, np.float32))
        return item

    # -- public API -------------------------------------------------------------------------------
    def predict(self, video_id: str, query: str, k: int = 5) -> list[list[float]]:
        """Top-``k`` ``[start, end, score]`` windows in seconds, best first."""
        return self.predict_batch([(video_id, query)], k)[0]

    @torch.no_grad()
    def predict_batch(self, pairs: Sequence[tuple[str, str]], k: int = 5) -> list[list[list[float]]]:
        """Pairs of one video go into the same batch, which holds that video once
        (``collate_by_video``); results come back in the order of ``pairs``."""
        self._embed([q for _, q in pairs])
        first_seen = {v: i for i, (v, _) in reversed(list(enumerate(pairs)))}
        order = sorted(range(len(pairs)), key=lambda i: (first_seen[pairs[i][0]], i))
        out: list[list[list[float]]] = [[] for _ in pairs]
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            items = [self._item(*pairs[i]) for i in chunk]
            windows = batch_windows(self.model, to_device(collate_by_video(items), self.device), k=k)
            for i, w in zip(chunk, windows, strict=True):
                out[i] = w
        return out

    @torch.no_grad()
    def explain(self, video_id: str, query: str, k: int = 5) -> Prediction:
        """Windows plus what a picture needs: start/end probabilities and the narratives' text."""
        self._embed([query])
        item = self._item(video_id, query)
        batch = to_device(collate([item]), self.device)
        outputs = self.model(batch)
        windows = batch_windows(self.model, batch, k=k, outputs=outputs)[0]
        n = item["video"].shape[0]
        probs = [torch.softmax(outputs[key][0, :n].float(), dim=0).cpu().numpy() for key in ("start_logits", "end_logits")]
        keys = self._rows_by_video[video_id][0]["narrative_keys"] or []
        narr = self.cache.priors("narrative", keys).to_pylist() if keys else []
        narr = sorted((r["t_start"], r["text"]) for r in narr if r["status"] == "ok")
        return Prediction(video_id, query, windows, float(item["duration"]), probs[0], probs[1],
                          [t for t, _ in narr], [s for _, s in narr])
