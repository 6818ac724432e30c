"""Inference from a checkpoint: ``Predictor.from_checkpoint(run).predict(video_id, query, k=5)``.

The predictor reads what the model was trained on from the checkpoint's manifest: the video's
features (same store), the video-level fields the model reads (a TEA-style model needs the test
video's narratives) and the query's text features. Items are built field by field as the dataset
builds them (``GroundingDataset.video_fields`` / ``query_fields``): a query that is a manifest
query of that video gets exactly the fields evaluation gave it (its own context, rewrites, ...);
a new text gets its vectors from the text-feature cache when they are there, else from the
manifest's text encoder re-implemented in pure torch (``grounding.text_encoder``), and the
query-level priors a new text cannot have (rewrites, query-aware captions) are empty. Inference
never imports ``vllm``, ``pipeline`` or transformers' model / generation code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grounding.checkpoint import checkpoint_model, data_sources, load_checkpoint
from grounding.data.collate import collate, to_device
from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.data.snippet_extras import SnippetExtras
from grounding.data.textbank import TextBank
from grounding.inference import predict_batch
from grounding.models.base import GroundingModel
from grounding.text_encoder import QUERY_ENCODERS
from groundwork.cache.hashing import sha256_text
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError, UserError
from groundwork.stvg import STVG_KEY


class UnknownVideoError(UserError, KeyError):
    """A video id that is not in the manifest (a user error; also a KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class Prediction:
    video_id: str
    query: str
    windows: list[list[float]]  # [start, end, score], best first
    duration: float
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # the model's named per-snippet curves
    narrative_times: list[float] = field(default_factory=list)
    narrative_texts: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # decode's other keys (pred_saliency_scores, ...)


class Predictor:
    max_cached_videos = 512

    def __init__(
        self,
        model: GroundingModel,
        manifest: str | Path,
        features: list[str] | None = None,
        store_layout: str = "auto",
        max_len: int = 128,
        cache_dir: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        l2_normalize_frames: bool = False,
        extras: SnippetExtras | None = None,
    ) -> None:
        """``l2_normalize_frames`` / ``extras`` (``grounding.data.snippet_extras``): the data
        options the model was trained with (``DataConfig``); ``from_checkpoint`` reads them from
        the checkpoint."""
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.info = read_manifest(manifest, cache_dir)
        self.store = open_video_store(self.info, features, store_layout, l2_normalize_frames)
        self.extras = extras or SnippetExtras()
        self.store.expect_width(self.extras.store_width(model.config.video_dim), "the model's video_dim")
        self.max_len = max_len
        self.cache = CacheStore(self.info.cache_dir)
        self._rows_by_video: dict[str, list[dict[str, Any]]] = {}
        for row in self.info.rows:
            self._rows_by_video.setdefault(row["video_id"], []).append(row)
        self._datasets: dict[str, GroundingDataset] = {}  # video_id -> the dataset holding its rows
        self._videos: dict[str, dict[str, Any]] = {}  # video_id -> its video-level fields (bounded)
        self._query_vectors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}  # sentence, tokens, ids
        self._encoder: Any = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "cpu",
        manifest: str | Path | None = None,
        features: list[str] | None = None,
        cache_dir: str | Path | None = None,
    ) -> Predictor:
        """``path`` is a run folder (uses ``best/``) or a checkpoint folder; the manifest, features
        and cache default to those recorded in the checkpoint's config (give them to use a run
        folder copied from another machine)."""
        ckpt = load_checkpoint(path)
        data = ckpt.config["data"]
        src = data_sources(ckpt, manifest, features, cache_dir)
        return cls(
            checkpoint_model(ckpt),
            src.manifest,
            src.features,
            data["store"],
            data["max_len"],
            src.cache_dir,
            device,
            ckpt.config["optim"]["batch_size"],
            data.get("l2_normalize_frames", False),
            SnippetExtras.from_data(data),
        )

    # -- data: the rows of the videos asked about ------------------------------------------------
    def _load_videos(self, video_ids: Sequence[str]) -> None:
        todo = sorted({v for v in video_ids if v not in self._datasets})
        for vid in todo:
            if vid not in self._rows_by_video:
                msg = f"video '{vid}' is not in manifest {self.info.path}"
                raise UnknownVideoError(msg)
        if todo:
            ds = GroundingDataset(
                self.info,
                None,
                self.store,
                self.max_len,
                fields=self.model.required_keys,
                videos=todo,
                extras=self.extras,
                video_cache_mb=0,  # _video keeps them, within max_cached_videos
            )
            self._datasets |= dict.fromkeys(todo, ds)

    def _video(self, video_id: str) -> dict[str, Any]:
        if video_id not in self._videos:
            if len(self._videos) >= self.max_cached_videos:  # bounded: drop the oldest
                self._videos.pop(next(iter(self._videos)))
            self._videos[video_id] = self._datasets[video_id].video_fields(self._rows_by_video[video_id][0])
        return self._videos[video_id]

    def _row(self, video_id: str, query: str) -> dict[str, Any]:
        """The manifest row of (video, query) when there is one, else a row for a new text."""
        rows = self._rows_by_video[video_id]
        for row in rows:
            if row["query"] == query:
                return row
        extra = json.loads(rows[0]["extra"]) if rows[0].get("extra") else {}
        stvg = {STVG_KEY: extra[STVG_KEY]} if STVG_KEY in extra else {}  # a new text on an STVG video: its grid
        return {
            "query_id": f"{video_id}:{query}",
            "video_id": video_id,
            "query": query,
            "windows": [],
            "duration": rows[0]["duration"],
            "query_sha256": sha256_text(query),
            "context_query_ids": [r["query_id"] for r in rows],
            "extra": json.dumps(stvg),
        }

    # -- query vectors of new texts: cache first, then the pure-torch encoder --------------------
    def _embed(self, rows: Sequence[dict[str, Any]]) -> None:
        todo = {
            r["query_sha256"]: r["query"]
            for r in rows
            if r["query_sha256"] not in self._datasets[r["video_id"]].text
            and r["query_sha256"] not in self._query_vectors
        }
        if todo:
            bank = TextBank.from_table(self.cache.text_features(self.info.text_encoder, todo), self.info.text_encoder)
            for sha in todo:
                if sha in bank:
                    self._query_vectors[sha] = (bank.sentence(sha), bank.token_vectors(sha), bank.ids_if_any(sha))
            new = {sha: text for sha, text in todo.items() if sha not in self._query_vectors}
            if new:
                for sha, vectors in zip(new, self._encode(list(new.values())), strict=True):
                    self._query_vectors[sha] = vectors
        for r in rows:
            if r["query_sha256"] in self._query_vectors:
                self._datasets[r["video_id"]].extra_text[r["query_sha256"]] = self._query_vectors[r["query_sha256"]]

    def _encode(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        if self._encoder is None:
            if self.info.text_encoder not in QUERY_ENCODERS:
                msg = (
                    f"query text not in the cache and no inference encoder for '{self.info.text_encoder}' "
                    f"(available: {', '.join(QUERY_ENCODERS.names())}); embed it with `priors run` first"
                )
                raise InputError(msg)
            self._encoder = QUERY_ENCODERS.get(self.info.text_encoder)()
        if hasattr(self._encoder, "encode_with_ids"):  # sentence, tokens and the tokens' ids
            return self._encoder.encode_with_ids(texts)
        return [(s, t, None) for s, t in self._encoder.encode(texts)]

    def _items(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        self._load_videos([v for v, _ in pairs])
        rows = [self._row(v, q) for v, q in pairs]
        self._embed(rows)
        items = []
        for row in rows:
            ds, video = self._datasets[row["video_id"]], self._video(row["video_id"])
            n = video["video"].shape[0] if "video" in video else ds.n_snippets(row["video_id"])
            meta = {
                "query_id": row["query_id"],
                "video_id": row["video_id"],
                "query": row["query"],
                "windows": [tuple(w) for w in row["windows"]],
                "duration": float(row["duration"]),
            }
            items.append({**meta, **video, **ds.query_fields(row, n)})
        return items

    def _batch(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return to_device(collate(items, share_videos=getattr(self.model, "shares_videos", False)), self.device)

    def _stvg_picture(self, video_id: str, query: str) -> dict[str, Any]:
        """``video_path`` (searched under the dataset's usual folders) and, for a manifest query,
        its ``gt_boxes`` (the tube table beside the manifest), for ``grounding.plot``."""
        from grounding.data.stvg import read_tubes, stvg_block
        from grounding.report.videos import default_video_dirs
        from grounding.video_frames import find_video

        out: dict[str, Any] = {}
        path = find_video(video_id, default_video_dirs(self.info.dataset, self.info.path))
        if path is not None:
            out["video_path"] = str(path)
        row = next((r for r in self._rows_by_video[video_id] if r["query"] == query), None)
        block = stvg_block(row) if row is not None else None
        track = (read_tubes(self.info.path) or {}).get((video_id, block.target_id)) if block is not None else None
        if block is not None and track:
            out["gt_boxes"] = {f: list(track[f]) for f in block.gt_frames() if f in track}
        return out

    # -- public API -------------------------------------------------------------------------------
    def predict(self, video_id: str, query: str, k: int = 5) -> list[list[float]]:
        """Top-``k`` ``[start, end, score]`` windows in seconds, best first."""
        return self.predict_batch([(video_id, query)], k)[0]

    def predict_rows(self, pairs: Sequence[tuple[str, str]], k: int = 5) -> list[dict[str, Any]]:
        """The model's full prediction (windows plus any extra keys) per pair, in the order of
        ``pairs``; pairs of one video share a batch, which holds that video once when the model
        supports it."""
        first_seen = {v: i for i, (v, _) in reversed(list(enumerate(pairs)))}
        order = sorted(range(len(pairs)), key=lambda i: (first_seen[pairs[i][0]], i))
        out: list[dict[str, Any]] = [{} for _ in pairs]
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            decoded = predict_batch(self.model, self._batch(self._items([pairs[i] for i in chunk])), k=k)
            for i, pred in zip(chunk, decoded, strict=True):
                out[i] = pred
        return out

    @torch.no_grad()
    def predict_batch(self, pairs: Sequence[tuple[str, str]], k: int = 5) -> list[list[list[float]]]:
        """Windows per pair, in the order of ``pairs``."""
        return [p["pred_relevant_windows"] for p in self.predict_rows(pairs, k)]

    @torch.no_grad()
    def explain(self, video_id: str, query: str, k: int = 5) -> Prediction:
        """Windows plus what a picture needs: the model's curves and the narratives' text."""
        item = self._items([(video_id, query)])[0]
        batch = self._batch([item])
        outputs = self.model(batch)
        pred = self.model.decode(outputs, batch, k)[0]
        curves = self.model.curves(outputs, batch)[0]
        keys = self.info.keys(self._rows_by_video[video_id][0], "narrative")
        narr = self.cache.priors("narrative", keys).to_pylist() if keys else []
        narr = sorted((r["t_start"], r["text"]) for r in narr if r["status"] == "ok")
        extra = {key: value for key, value in pred.items() if key != "pred_relevant_windows"}
        if "boxes" in extra:  # spatio-temporal: the frames the plot draws on, and the GT boxes of a manifest query
            extra |= self._stvg_picture(video_id, query)
        return Prediction(
            video_id,
            query,
            pred["pred_relevant_windows"],
            float(item["duration"]),
            curves,
            [t for t, _ in narr],
            [s for _, s in narr],
            extra,
        )
