"""The grounding dataset: one item per query of one split of a manifest, read from the cache.

The manifest (``groundwork.cache.manifest``) names every prior row a query needs; its table
metadata says where the cache lives (``cache_dir``) and which text encoder embedded the text
(``text_encoder``). Only the batch fields asked for are loaded (``fields``: a model's
``required_keys``, plus its ``loss_keys`` when training; ``grounding.data.fields`` declares them):
everything textual once, at construction (one read per prior kind, one read of text features);
video features per item, from a store (``grounding.data.features``). Prior rows whose status is
not ``ok`` are skipped and counted in ``GroundingDataset.skipped``.

An item is a dict of numpy arrays (shapes per query, unpadded) plus the plain ``META_KEYS``;
video-level fields are built once per video and shared by its queries, query-level fields per
query (``item(row)`` = ``video_fields(video)`` + ``query_fields(row)``; ``Predictor`` builds a
new query's item the same way). The video-level fields of the videos read last are kept, up to
``video_cache_mb`` (least recently used first out), read-only: every epoch reads them again, and
a video's queries share them. ``collate`` pads a list of items into a batch.
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from grounding.data.align import align_narratives
from grounding.data.collate import collate
from grounding.data.features import FeatureStore, l2_normalized, open_stores, pad_to_length, pool_to_length
from grounding.data.fields import FIELDS, BatchField, fields_for
from grounding.data.snippet_extras import SnippetExtras
from grounding.data.stvg import StvgData
from grounding.data.targets import SpanTargets, TargetConfig
from grounding.data.textbank import TextBank
from groundwork.cache.manifest import ManifestInfo, read_manifest
from groundwork.cache.store import SENTENCE_COLUMNS, CacheStore
from groundwork.errors import InputError

__all__ = ["GroundingDataset", "ManifestInfo", "TargetMaker", "align_narratives", "collate", "open_video_store",
           "read_manifest"]


class TargetMaker(Protocol):
    """A model's training targets for one query (``GroundingModel.target_maker``).

    Optionally it reads the manifest row's ``extra`` (QVHighlights' ``relevant_clip_ids`` /
    ``saliency_scores``): a maker whose class sets ``reads_extra = True`` is called with the
    decoded ``extra`` dict as a fourth argument; others get the three arguments below."""

    keys: tuple[str, ...]  # the label fields it fills

    def __call__(self, windows: list[tuple[float, float]], duration: float, length: int) -> dict[str, np.ndarray]: ...


def open_video_store(info: ManifestInfo, features: list[str] | None = None, layout: str = "auto",
                     l2_normalize: bool = False) -> FeatureStore:
    """The given feature paths, or else the manifest's ``visual_features`` set in the cache
    (``<cache>/visual/<name>/{vid}.npz``, what the pipeline's feature stage writes).
    ``l2_normalize``: every row of every store L2-normalised, store by store before they are
    concatenated (MESM's per-frame normalisation; ``DataConfig.l2_normalize_frames``)."""
    if features:
        store = open_stores(features, layout)
    elif not info.visual_features:
        msg = f"manifest {info.path} names no visual_features: pass --features DIR"
        raise InputError(msg)
    else:
        store = open_stores([CacheStore(info.cache_dir).visual_dir(info.visual_features)], "npz")
    return l2_normalized(store) if l2_normalize else store


def _prior_rows(cache: CacheStore, kind: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    table = cache.priors(kind, keys).select(["key", "t_start", "t_end", "text_sha256", "status"])
    return {r["key"]: r for r in table.to_pylist()}


def probe_dims(info: ManifestInfo, store: FeatureStore, split: str | None = None) -> tuple[int, int]:
    """(video feature width, text feature width) of a manifest's data, from one video and one
    query text, before any dataset is built (a model is built first; its fields decide what the
    datasets load)."""
    rows = [r for r in info.rows if split is None or r["split"] == split] or info.rows
    if not rows:
        msg = f"manifest {info.path} has no queries"
        raise InputError(msg)
    video_dim = store.dim or int(store.load(rows[0]["video_id"]).shape[1])
    table = CacheStore(info.cache_dir).text_features(info.text_encoder, [rows[0]["query_sha256"]])
    if table.num_rows == 0:
        msg = (f"manifest {info.path}: query {rows[0]['query_id']!r} has no cached text features for encoder "
               f"'{info.text_encoder}' (run `priors run` to embed it)")
        raise InputError(msg)
    return video_dim, int(table.column("dim")[0].as_py())


def default_fields() -> list[str]:
    """Every input field (no labels) but integer token fields and spatio-temporal ones: what a
    dataset built without ``fields`` loads. Token ids are loaded only when a model names them
    (``query_token_ids``: word-predicting models), since a cache written before text schema
    version 2 has none; STVG fields (source ``stvg``) need a patch set and a tube table that only
    STVG manifests have."""
    return [spec.name for spec in FIELDS.values()
            if not spec.is_label and spec.dtype != "int64" and spec.source != "stvg"]


class GroundingDataset:
    """Queries of ``split`` with the batch fields asked for (default: every input field) and,
    when ``targets`` is given (or left at its default) and a query has windows, its labels."""

    def __init__(self, manifest: str | Path | ManifestInfo, split: str | None, store: FeatureStore,
                 max_len: int = 128, cache_dir: str | Path | None = None,
                 targets: TargetMaker | TargetConfig | None = None, fields: Iterable[str] | None = None,
                 videos: Iterable[str] | None = None, extras: SnippetExtras | None = None,
                 video_cache_mb: float = 1024.0) -> None:
        """``split`` None takes every split; ``videos`` keeps only the queries of those videos
        (``Predictor`` loads just the videos it is asked about); ``extras`` is what is appended
        to each snippet after pooling (``grounding.data.snippet_extras``: temporal endpoints,
        temporal differences; default none); ``video_cache_mb`` bounds the video-level fields
        kept between items (0: none kept; per DataLoader worker)."""
        info = manifest if isinstance(manifest, ManifestInfo) else read_manifest(manifest, cache_dir)
        self.info, self.split, self.store, self.max_len = info, split, store, max_len
        self.extras = extras or SnippetExtras()
        self.targets: TargetMaker | None = SpanTargets(targets) if isinstance(targets, TargetConfig) or (
            targets is None and fields is None) else targets
        wanted = list(default_fields() if fields is None else fields)
        specs = fields_for(wanted)
        self.fields = [s for s in specs if not s.is_label]
        keep = None if videos is None else set(videos)
        self.rows = [r for r in info.rows if (split is None or r["split"] == split)
                     and (keep is None or r["video_id"] in keep)]
        if not self.rows and keep is None:
            msg = f"manifest {info.path}: no queries in split '{split}'; splits: {', '.join(info.splits())}"
            raise InputError(msg)
        self.skipped: Counter[str] = Counter()
        cache = CacheStore(info.cache_dir)
        not_kinds = ("features", "query", "context", "manifest", "stvg")
        kinds = {s.source for s in self.fields if s.source not in not_kinds}
        stvg_names = {s.name for s in self.fields if s.source == "stvg"}
        self.stvg = StvgData(info, stvg_names) if stvg_names else None
        self.priors = {kind: _prior_rows(cache, kind, {k for r in self.rows for k in info.keys(r, kind)})
                       for kind in sorted(kinds)}
        self.sha_by_qid = {r["query_id"]: r["query_sha256"] for r in info.rows}
        self.rows_by_video: dict[str, list[dict[str, Any]]] = {}
        for r in info.rows:
            self.rows_by_video.setdefault(r["video_id"], []).append(r)
        sources = {s.source for s in self.fields}
        # Token vectors (and ids) only for the queries, when a field reads them; sentences for the rest.
        per_token = any(s.source == "query" and (s.layout == "tokens" or s.dtype == "int64") for s in self.fields)
        query_shas = {r["query_sha256"] for r in self.rows} if "query" in sources else set()
        token_shas = query_shas if per_token else set()
        shas = set(query_shas)
        if "context" in sources:
            shas |= {self.sha_by_qid[q] for r in self.rows for q in r["context_query_ids"] or [] if q in self.sha_by_qid}
        shas |= {p["text_sha256"] for rows in self.priors.values() for p in rows.values() if p["status"] == "ok"}
        where = str(cache.text_dir(info.text_encoder))
        self.text = TextBank.from_tables(
            cache.text_features(info.text_encoder, token_shas),
            cache.text_features(info.text_encoder, shas - token_shas, columns=SENTENCE_COLUMNS),
            info.text_encoder,
            where,
        )
        self._spans: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {k: {} for k in self.priors}
        self._videos: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()  # video id -> (fields, bytes)
        self._videos_bytes, self.video_cache_bytes = 0, int(video_cache_mb * 2**20)
        self._snippets: dict[str, int] = {}  # video id -> snippets after pooling, once known (an int each)
        # sha -> (sentence, tokens, token ids or None) of a text not in the cache (grounding.predict)
        self.extra_text: dict[str, tuple[np.ndarray, ...]] = {}
        missing = shas - set(self.text.index)
        if missing:
            msg = (f"manifest {info.path}: {len(missing)} texts have no cached features for encoder "
                   f"'{info.text_encoder}' under {cache.text_dir(info.text_encoder)} (run `priors run` to embed them)")
            raise InputError(msg)

    @property
    def text_dim(self) -> int:
        return self.text.dim

    def __len__(self) -> int:
        return len(self.rows)

    def _prior_vectors(self, kind: str, keys: list[str], owner: str, ordered: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, text-bank rows) of the ok priors among ``keys`` (sorted by start time when
        ``ordered``), cached per ``owner`` (a video id, or a query id for query-level kinds)."""
        cached = self._spans[kind].get(owner)
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
        if ordered:
            rows.sort()
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        out = (arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int64))
        self._spans[kind][owner] = out
        return out

    def video_features(self, video_id: str) -> np.ndarray:
        """(L, D) features of one video, max-pooled to at most ``max_len`` snippets, with the
        run's ``extras`` appended."""
        return self.extras(pool_to_length(self.store.load(video_id), self.max_len))

    def n_snippets(self, video_id: str) -> int:
        """Snippets of the video after pooling; its features are read once per video for it (the
        count is remembered: a model without a ``video`` field still needs it for its targets)."""
        n = self._snippets.get(video_id)
        if n is None:
            n = self._snippets[video_id] = self.video_features(video_id).shape[0]
        return n

    # -- fields ------------------------------------------------------------------------------
    def _prior_field(self, spec: BatchField, row: dict[str, Any], n: int) -> dict[str, np.ndarray]:
        owner = row["video_id"] if spec.level == "video" else row["query_id"]
        starts, ends, rows = self._prior_vectors(spec.source, self.info.keys(row, spec.source), owner, spec.ordered)
        vectors = self.text.sentences[rows].reshape(-1, self.text.dim)
        if spec.layout == "snippets":
            aligned, mask = align_narratives(starts, vectors, n, float(row["duration"]))  # Eq. (3)
            return {spec.name: aligned, **({spec.mask: mask} if spec.mask else {})}
        out = {spec.name: vectors}
        if spec.spans:
            out[spec.spans] = np.stack([starts, ends], axis=1).astype(np.float32)
        return out

    def _field(self, spec: BatchField, row: dict[str, Any], n: int, video: np.ndarray | None) -> dict[str, Any]:
        if spec.source == "features":
            return {spec.name: video}
        if spec.source == "manifest":
            return {spec.name: float(row[spec.name])}
        if spec.source == "query":
            extra = self.extra_text.get(row["query_sha256"])
            what = f"query {row['query_id']}"
            if spec.dtype == "int64":  # an integer token field holds the tokens' tokenizer ids
                if extra is not None and len(extra) > 2 and extra[2] is not None:
                    return {spec.name: np.asarray(extra[2], np.int64)}
                return {spec.name: self.text.token_ids(row["query_sha256"], what)}
            if extra is not None:  # a new query text, embedded at inference (grounding.predict)
                return {spec.name: extra[1] if spec.layout == "tokens" else extra[0]}
            vec = self.text.token_vectors if spec.layout == "tokens" else self.text.sentence
            return {spec.name: vec(row["query_sha256"], what)}
        if spec.source == "stvg" and self.stvg is not None:  # the frames of the query's evaluation grid
            return {k: v for k, v in self.stvg.fields(row).items() if k in spec.keys()}
        if spec.source == "context":
            shas = [self.sha_by_qid[q] for q in row["context_query_ids"] or [] if q in self.sha_by_qid]
            return {spec.name: self.text.sentences[[self.text.index[s] for s in shas]].reshape(-1, self.text.dim)}
        return self._prior_field(spec, row, n)

    def video_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        """The video-level fields of ``row``'s video (the same for all its queries), from the
        cache of recent videos when they are there (their arrays are read-only)."""
        video_id = row["video_id"]
        hit = self._videos.get(video_id)
        if hit is not None:
            self._videos.move_to_end(video_id)
            return hit[0]
        out = self._video_fields(row)
        arrays = [v for v in out.values() if isinstance(v, np.ndarray)]
        size = sum(a.nbytes for a in arrays)
        if size <= self.video_cache_bytes:
            for a in arrays:
                a.flags.writeable = False
            self._videos[video_id] = (out, size)
            self._videos_bytes += size
            while self._videos_bytes > self.video_cache_bytes:
                self._videos_bytes -= self._videos.popitem(last=False)[1][1]
        return out

    def _video_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        """The video-level fields, built: the video's features are read only when a field needs
        them or its snippet count."""
        specs = [s for s in self.fields if s.level == "video"]
        needs_video = any(s.source == "features" or s.layout == "snippets" for s in specs)
        video = self.video_features(row["video_id"]) if needs_video else None
        n = video.shape[0] if video is not None else 0
        if video is not None:
            self._snippets[row["video_id"]] = n
        out: dict[str, Any] = {}
        for spec in specs:
            out |= self._field(spec, row, n, video)
        return out

    def query_fields(self, row: dict[str, Any], n: int) -> dict[str, Any]:
        """The query-level fields of one manifest row (``n``: its video's snippet count)."""
        out: dict[str, Any] = {}
        for spec in self.fields:
            if spec.level == "query":
                out |= self._field(spec, row, n, None)
        return out

    def labels(self, row: dict[str, Any], n: int) -> dict[str, np.ndarray]:
        """The row's training targets; none for an unlabelled query or without a target maker."""
        if self.targets is None or not row["windows"]:
            return {}
        windows = [tuple(w) for w in row["windows"]]
        if getattr(self.targets, "reads_extra", False):
            extra = json.loads(row["extra"]) if row.get("extra") else {}
            return self.targets(windows, float(row["duration"]), n, extra)
        return self.targets(windows, float(row["duration"]), n)

    def item(self, row: dict[str, Any]) -> dict[str, Any]:
        video = self.video_fields(row)
        needs_n = self.targets is not None or any(s.layout == "snippets" for s in self.fields if s.level == "query")
        n = video["video"].shape[0] if "video" in video else (self.n_snippets(row["video_id"]) if needs_n else 0)
        meta = {"query_id": row["query_id"], "video_id": row["video_id"], "query": row["query"],
                "windows": [tuple(w) for w in row["windows"]], "duration": float(row["duration"])}
        return {**meta, **video, **self.query_fields(row, n), **self.labels(row, n)}

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.item(self.rows[i])

    def padded_video(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Video features padded to ``max_len`` with their mask (for fixed-size consumers)."""
        return pad_to_length(self.video_features(video_id), self.max_len)
