"""The grounding dataset: one item per query of one split of a manifest, read from the cache.

The manifest (``groundwork.cache.layout.MANIFEST_SCHEMA``) names every prior row a query needs;
its table metadata says where the cache lives (``cache_dir``) and which text encoder embedded
the text (``text_encoder``). Everything textual is loaded once, at construction (one read per
prior kind, one read of text features); only video features are read per item, from a store
(``grounding.data.features``). Prior rows whose status is not ``ok`` are skipped and counted in
``GroundingDataset.skipped``.

An item is a dict of numpy arrays (shapes per query, unpadded); ``collate`` pads a list of them
into the batch contract of ``grounding.models`` (see ``docs`` in ``collate``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from grounding.data.align import align_narratives
from grounding.data.collate import collate
from grounding.data.features import FeatureStore, open_stores, pad_to_length, pool_to_length
from grounding.data.targets import TargetConfig, make_targets
from grounding.data.textbank import TextBank
from groundwork.cache.manifest import ManifestInfo, read_manifest
from groundwork.cache.store import CacheStore

__all__ = ["GroundingDataset", "ManifestInfo", "align_narratives", "collate", "open_video_store", "read_manifest"]


def open_video_store(info: ManifestInfo, features: list[str] | None = None, layout: str = "auto") -> FeatureStore:
    """The given feature paths, or else the manifest's ``visual_features`` set in the cache
    (``<cache>/visual/<name>/{vid}.npz``, what the pipeline's feature stage writes)."""
    if features:
        return open_stores(features, layout)
    if not info.visual_features:
        msg = f"manifest {info.path} names no visual_features: pass --features DIR"
        raise ValueError(msg)
    return open_stores([CacheStore(info.cache_dir).visual_dir(info.visual_features)], "npz")


def _prior_rows(cache: CacheStore, kind: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    table = cache.priors(kind, keys).select(["key", "t_start", "t_end", "text_sha256", "status"])
    return {r["key"]: r for r in table.to_pylist()}


class GroundingDataset:
    """Queries of ``split`` with their video features, text features, priors and targets."""

    def __init__(self, manifest: str | Path | ManifestInfo, split: str, store: FeatureStore,
                 max_len: int = 128, cache_dir: str | Path | None = None,
                 targets: TargetConfig | None = None) -> None:
        info = manifest if isinstance(manifest, ManifestInfo) else read_manifest(manifest, cache_dir)
        self.info, self.split, self.store, self.max_len = info, split, store, max_len
        self.targets = targets or TargetConfig()
        self.rows = [r for r in info.rows if r["split"] == split]
        if not self.rows:
            splits = sorted({r["split"] for r in info.rows})
            msg = f"manifest {info.path}: no queries in split '{split}'; splits: {', '.join(splits)}"
            raise ValueError(msg)
        self.skipped: Counter[str] = Counter()
        cache = CacheStore(info.cache_dir)
        self.priors = {kind: _prior_rows(cache, kind, {k for r in self.rows for k in r[f"{kind}_keys"] or []})
                       for kind in ("narrative", "clip_caption", "event")}
        sha_by_qid = {r["query_id"]: r["query_sha256"] for r in info.rows}
        shas = {r["query_sha256"] for r in self.rows}
        shas |= {sha_by_qid[q] for r in self.rows for q in r["context_query_ids"] or [] if q in sha_by_qid}
        shas |= {p["text_sha256"] for rows in self.priors.values() for p in rows.values() if p["status"] == "ok"}
        self.text = TextBank.from_table(cache.text_features(info.text_encoder, shas), info.text_encoder,
                                        str(cache.text_dir(info.text_encoder)))
        self.sha_by_qid = sha_by_qid
        self._spans = {kind: {} for kind in self.priors}  # video_id -> (starts, ends, rows) per kind
        missing = shas - set(self.text.index)
        if missing:
            msg = (f"manifest {info.path}: {len(missing)} texts have no cached features for encoder "
                   f"'{info.text_encoder}' under {cache.text_dir(info.text_encoder)} (run `priors run` to embed them)")
            raise ValueError(msg)

    @property
    def text_dim(self) -> int:
        return self.text.dim

    def __len__(self) -> int:
        return len(self.rows)

    def _prior_vectors(self, kind: str, keys: list[str], video_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, sentence rows) of the ok priors of one video, sorted by start time."""
        cached = self._spans[kind].get(video_id)
        if cached is not None:
            return cached
        rows = []
        for key in keys:
            prior = self.priors[kind].get(key)
            if prior is None:
                self.skipped[f"{kind}_missing"] += 1
            elif prior["status"] != "ok":
                self.skipped[f"{kind}_{prior['status']}"] += 1
            else:
                rows.append((prior["t_start"], prior["t_end"], self.text.row(prior["text_sha256"], f"{kind} {key}")))
        rows.sort()
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        out = (arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int64))
        self._spans[kind][video_id] = out
        return out

    def video_features(self, video_id: str) -> np.ndarray:
        """(L, D) features of one video, max-pooled to at most ``max_len`` snippets."""
        return pool_to_length(self.store.load(video_id), self.max_len)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.rows[i]
        vid, duration = row["video_id"], float(row["duration"])
        video = self.video_features(vid)
        n = video.shape[0]
        t_start, _, rows = self._prior_vectors("narrative", row["narrative_keys"] or [], vid)
        narratives, narrative_mask = align_narratives(t_start, self.text.sentences[rows], n, duration)
        item: dict[str, Any] = {
            "query_id": row["query_id"], "video_id": vid, "query": row["query"],
            "windows": [tuple(w) for w in row["windows"]],
            "video": video, "duration": duration,
            "query_tokens": self.text.token_vectors(row["query_sha256"], f"query {row['query_id']}"),
            "query_sentence": self.text.sentence(row["query_sha256"], f"query {row['query_id']}"),
            "narratives": narratives, "narrative_mask": narrative_mask,
        }
        for kind, name in (("clip_caption", "clip_captions"), ("event", "events")):
            s, e, r = self._prior_vectors(kind, row[f"{kind}_keys"] or [], vid)
            item[name] = self.text.sentences[r]
            item[f"{name[:-1]}_spans"] = np.stack([s, e], axis=1).astype(np.float32)
        context = [self.sha_by_qid[q] for q in row["context_query_ids"] or [] if q in self.sha_by_qid]
        item["context"] = self.text.sentences[[self.text.index[s] for s in context]].reshape(-1, self.text.dim)
        if item["windows"]:
            item.update(make_targets(item["windows"], duration, n, self.targets))
        else:  # unlabelled split (e.g. QVHighlights test): predictions only
            item.update({k: np.zeros(n, np.float32) for k in ("start_label", "end_label", "highlight_label")})
        return item

    def padded_video(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Video features padded to ``max_len`` with their mask (for fixed-size consumers)."""
        return pad_to_length(self.video_features(video_id), self.max_len)
