"""A tiny manifest + cache + feature folder written with the real cache code, for the grounding
tests. The vectors are random (seeded); everything else (Parquet shards via ``CacheStore``, the
manifest schema and metadata, ``{vid}.npz`` features) is the real format the pipeline writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from groundwork.cache.hashing import cache_key, sha256_text
from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA, manifest_schema
from groundwork.cache.store import CacheStore

ENCODER = "random-test-encoder"
MANIFEST_SCHEMA = manifest_schema(("narrative", "clip_caption", "event", "query_rewrite", "query_caption"))


@dataclass
class TinyCorpus:
    root: Path
    manifest: Path
    cache_dir: Path
    features: Path
    video_dim: int
    text_dim: int
    videos: dict[str, float]  # video_id -> duration
    n_snippets: dict[str, int]  # video_id -> feature rows


def _prior(kind: str, vid: str, t0: float, t1: float, text: str, status: str = "ok") -> dict:
    return {
        "key": cache_key({"kind": kind, "vid": vid, "t": [t0, t1], "text": text}),
        "kind": kind,
        "video_id": vid,
        "video_sha256": sha256_text(vid),
        "query_id": "",
        "t_start": t0,
        "t_end": t1,
        "text": text,
        "text_sha256": sha256_text(text),
        "model": "random",
        "model_revision": "0",
        "prompt_id": kind,
        "prompt_version": 1,
        "prompt_sha256": "0",
        "sampling": "{}",
        "backend": "none",
        "n_prompt_tokens": 0,
        "n_output_tokens": 0,
        "latency_ms": 0.0,
        "status": status,
        "error_type": "" if status == "ok" else "Boom",
        "error": "",
        "raw": "",
        "created_at": "2026-01-01T00:00:00Z",
    }


def build_tiny_corpus(
    root: Path,
    n_videos: int = 6,
    queries_per_video: int = 2,
    video_dim: int = 16,
    text_dim: int = 8,
    seed: int = 0,
    splits: tuple[str, ...] = ("train", "val", "test"),
    encoder: str = ENCODER,
) -> TinyCorpus:
    """Videos of 8-20 s with one feature row per second, one narrative per second, a clip caption
    per 4 s, two events, and ``queries_per_video`` queries each with a random window. Videos are
    dealt to ``splits`` round-robin. One narrative per video has status 'error' (it must be skipped).
    ``encoder`` only names the text-feature folder and manifest metadata: vectors are random."""
    rng = np.random.default_rng(seed)
    cache_dir, features = root / "cache", root / "features"
    features.mkdir(parents=True, exist_ok=True)
    store = CacheStore(cache_dir)
    priors: dict[str, list[dict]] = {"narrative": [], "clip_caption": [], "event": []}
    texts: set[str] = set()
    manifest_rows, videos, n_snippets = [], {}, {}
    for v in range(n_videos):
        vid = f"vid{v:02d}"
        duration = float(rng.integers(8, 21)) + 0.5
        n = int(np.ceil(duration))
        videos[vid], n_snippets[vid] = duration, n
        np.savez(features / f"{vid}.npz", features=rng.normal(size=(n, video_dim)).astype(np.float32))
        keys: dict[str, list[str]] = {k: [] for k in priors}
        for t in range(n):
            row = _prior("narrative", vid, float(t), float(t), f"{vid} frame {t}", "error" if t == 1 else "ok")
            priors["narrative"].append(row)
            keys["narrative"].append(row["key"])
        for t in range(0, n, 4):
            row = _prior("clip_caption", vid, float(t), min(t + 4.0, duration), f"{vid} clip {t}")
            priors["clip_caption"].append(row)
            keys["clip_caption"].append(row["key"])
        for e, (t0, t1) in enumerate([(0.0, duration / 2), (duration / 2, duration)]):
            row = _prior("event", vid, t0, t1, f"{vid} event {e}")
            priors["event"].append(row)
            keys["event"].append(row["key"])
        qids = [f"{vid}_q{q}" for q in range(queries_per_video)]
        for q, qid in enumerate(qids):
            start = float(rng.uniform(0, duration * 0.6))
            end = float(min(duration, start + rng.uniform(2.0, duration * 0.4)))
            query = f"person does thing {q} in {vid}"
            texts.add(query)
            manifest_rows.append(
                {
                    "query_id": qid,
                    "video_id": vid,
                    "split": splits[v % len(splits)],
                    "query": query,
                    "windows": [[round(start, 2), round(end, 2)]],
                    "duration": duration,
                    "video_sha256": sha256_text(vid),
                    "query_sha256": sha256_text(query),
                    "narrative_keys": keys["narrative"],
                    "clip_caption_keys": keys["clip_caption"],
                    "event_keys": keys["event"],
                    "query_rewrite_keys": [],
                    "query_caption_keys": [],
                    "context_query_ids": [o for o in qids if o != qid],
                    "extra": json.dumps({}),
                }
            )
    for kind, rows in priors.items():
        store.write_priors(kind, pa.Table.from_pylist(rows, schema=PRIOR_SCHEMA))
        texts |= {r["text"] for r in rows if r["status"] == "ok"}
    text_rows = []
    for text in sorted(texts):
        n_tok = len(text.split())
        text_rows.append(
            {
                "text_sha256": sha256_text(text),
                "encoder": encoder,
                "text": text,
                "dim": text_dim,
                "sentence": rng.normal(size=text_dim).astype(np.float32).tolist(),
                "n_tokens": n_tok,
                "tokens": rng.normal(size=n_tok * text_dim).astype(np.float32).tolist(),
                "token_ids": synthetic_token_ids(text),
            }
        )
    store.write_text_features(encoder, pa.Table.from_pylist(text_rows, schema=TEXT_FEATURE_SCHEMA))
    meta = {
        "dataset": "tiny",
        "cache_dir": str(cache_dir),
        "text_encoder": encoder,
        "visual_features": "random",
        "created_at": "2026-01-01T00:00:00Z",
    }
    table = pa.Table.from_pylist(manifest_rows, schema=MANIFEST_SCHEMA).replace_schema_metadata(meta)
    manifest = root / "manifests" / "tiny.parquet"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, manifest)
    return TinyCorpus(root, manifest, cache_dir, features, video_dim, text_dim, videos, n_snippets)


def synthetic_token_ids(text: str) -> list[int]:
    """Stand-in tokenizer ids, one per whitespace word (as the fixtures' token vectors): a stable
    id per word in [1000, 2000), so one word always gets one id."""
    return [1000 + int(sha256_text(w.lower())[:6], 16) % 1000 for w in text.split()] or [1000]


def _text_table(texts: list[str], encoder: str, dim: int, rng: np.random.Generator) -> pa.Table:
    """TEXT_FEATURE_SCHEMA rows with random vectors, built column-wise (fast for thousands)."""
    n_tokens = np.array([max(1, len(t.split())) for t in texts], dtype=np.int32)
    sentence = pa.ListArray.from_arrays(
        pa.array(np.arange(len(texts) + 1, dtype=np.int32) * dim),
        pa.array(rng.normal(size=len(texts) * dim).astype(np.float32)),
    )
    offsets = np.concatenate([[0], np.cumsum(n_tokens)]).astype(np.int32) * dim
    tokens = pa.ListArray.from_arrays(pa.array(offsets), pa.array(rng.normal(size=int(offsets[-1])).astype(np.float32)))
    return pa.table(
        {
            "text_sha256": [sha256_text(t) for t in texts],
            "encoder": [encoder] * len(texts),
            "text": texts,
            "dim": pa.array([dim] * len(texts), pa.int32()),
            "sentence": sentence,
            "n_tokens": pa.array(n_tokens),
            "tokens": tokens,
            "token_ids": pa.array([synthetic_token_ids(t) for t in texts], pa.list_(pa.int32())),
        },
        schema=TEXT_FEATURE_SCHEMA,
    )


def build_corpus_from_annotations(
    ann,
    root: Path,
    video_dim: int = 1024,
    text_dim: int = 384,  # noqa: ANN001
    splits: tuple[str, ...] | None = None,
    seed: int = 0,
) -> TinyCorpus:
    """A manifest + cache for real annotations (a ``pipeline.datasets`` ``Annotations``) with
    synthetic features of the real shapes: one ``video_dim`` row per second of each video's
    duration, random ``text_dim`` query vectors (one token vector per word). No priors."""
    rng = np.random.default_rng(seed)
    queries = [q for q in ann.queries if splits is None or q.split in splits]
    cache_dir, features = root / "cache", root / "features"
    features.mkdir(parents=True, exist_ok=True)
    videos = {q.video_id: q.duration for q in queries}
    n_snippets = {vid: max(1, int(np.ceil(d))) for vid, d in videos.items()}
    for vid, n in n_snippets.items():
        np.save(features / f"{vid}.npy", rng.normal(size=(n, video_dim)).astype(np.float32))
    texts = sorted({q.text for q in queries})
    CacheStore(cache_dir).write_text_features("synthetic-random", _text_table(texts, "synthetic-random", text_dim, rng))
    by_video: dict[str, list[str]] = {}
    for q in queries:
        by_video.setdefault(q.video_id, []).append(q.query_id)
    rows = [
        {
            "query_id": q.query_id,
            "video_id": q.video_id,
            "split": q.split,
            "query": q.text,
            "windows": [list(w) for w in q.windows],
            "duration": q.duration,
            "video_sha256": "",
            "query_sha256": sha256_text(q.text),
            "narrative_keys": [],
            "clip_caption_keys": [],
            "event_keys": [],
            "query_rewrite_keys": [],
            "query_caption_keys": [],
            "context_query_ids": [o for o in by_video[q.video_id] if o != q.query_id],
            "extra": json.dumps({k: q.extra[k] for k in ("relevant_clip_ids", "saliency_scores") if k in q.extra}),
        }
        for q in queries
    ]
    meta = {
        "dataset": ann.name,
        "cache_dir": str(cache_dir),
        "text_encoder": "synthetic-random",
        "visual_features": "synthetic",
        "created_at": "2026-01-01T00:00:00Z",
    }
    manifest = root / "manifests" / f"{ann.name}.parquet"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA).replace_schema_metadata(meta), manifest)
    return TinyCorpus(root, manifest, cache_dir, features, video_dim, text_dim, videos, n_snippets)


def build_concept_corpus(
    root: Path, n_videos: int = 48, video_dim: int = 16, text_dim: int = 12, seed: int = 0, whole_video: bool = False
) -> TinyCorpus:
    """A learnable corpus in the real formats: each video is four segments, each showing one of
    eight concepts (a prototype vector plus noise in the video features, and in the narratives);
    each query names one segment's concept (its word vectors are the concept's text prototype
    plus noise) and its window is that segment. Only matching the query to the video solves it,
    so a trained model beats the constant-window baseline. Videos go 4:1:1 to train/val/test.
    ``whole_video`` makes every window the whole video instead: then the constant baseline is
    perfect and no model can beat it."""
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(1234)
    vproto = protos.normal(size=(8, video_dim)).astype(np.float32)
    tproto = protos.normal(size=(8, text_dim)).astype(np.float32)
    cache_dir, features = root / "cache", root / "features"
    features.mkdir(parents=True, exist_ok=True)
    store = CacheStore(cache_dir)
    narr_rows, manifest_rows, text_vectors = [], [], {}
    videos, n_snippets = {}, {}
    split_of = ["train"] * 4 + ["val", "test"]
    for v in range(n_videos):
        vid = f"cv{v:03d}"
        n = 16
        duration = float(n)
        videos[vid], n_snippets[vid] = duration, n
        concepts = rng.permutation(8)[:4]
        cuts = np.sort(rng.permutation(np.arange(2, n - 1))[:3])
        bounds = [0, *cuts.tolist(), n]
        feats = 0.5 * rng.normal(size=(n, video_dim)).astype(np.float32)
        keys = []
        for j, c in enumerate(concepts):
            feats[bounds[j] : bounds[j + 1]] += vproto[c]
            for t in range(bounds[j], bounds[j + 1]):
                text = f"{vid} frame {t}"
                row = _prior("narrative", vid, float(t), float(t), text)
                narr_rows.append(row)
                keys.append(row["key"])
                text_vectors[text] = (tproto[c] + 0.3 * rng.normal(size=text_dim), 1)
        np.savez(features / f"{vid}.npz", features=feats)
        qids = [f"{vid}_q{j}" for j in range(2)]
        for j, qid in enumerate(qids):
            seg = int(rng.integers(0, 4)) if j == 0 else (int(rng.integers(0, 4)) + 1) % 4
            query = f"{vid} query {j} concept {concepts[seg]}"
            window = [0.0, duration] if whole_video else [float(bounds[seg]), float(bounds[seg + 1])]
            text_vectors[query] = (tproto[concepts[seg]] + 0.3 * rng.normal(size=(3, text_dim)), 3)
            manifest_rows.append(
                {
                    "query_id": qid,
                    "video_id": vid,
                    "split": split_of[v % 6],
                    "query": query,
                    "windows": [window],
                    "duration": duration,
                    "video_sha256": sha256_text(vid),
                    "query_sha256": sha256_text(query),
                    "narrative_keys": keys,
                    "clip_caption_keys": [],
                    "event_keys": [],
                    "query_rewrite_keys": [],
                    "query_caption_keys": [],
                    "context_query_ids": [o for o in qids if o != qid],
                    "extra": "{}",
                }
            )
    store.write_priors("narrative", pa.Table.from_pylist(narr_rows, schema=PRIOR_SCHEMA))
    text_rows = []
    for text, (vec, n_tok) in sorted(text_vectors.items()):
        tokens = np.asarray(vec, np.float32).reshape(n_tok, text_dim)
        text_rows.append(
            {
                "text_sha256": sha256_text(text),
                "encoder": ENCODER,
                "text": text,
                "dim": text_dim,
                "sentence": tokens.mean(0).tolist(),
                "n_tokens": n_tok,
                "tokens": tokens.reshape(-1).tolist(),
                "token_ids": synthetic_token_ids(text)[:n_tok] + [1000] * max(0, n_tok - len(text.split())),
            }
        )
    store.write_text_features(ENCODER, pa.Table.from_pylist(text_rows, schema=TEXT_FEATURE_SCHEMA))
    meta = {
        "dataset": "concepts",
        "cache_dir": str(cache_dir),
        "text_encoder": ENCODER,
        "visual_features": "random",
        "created_at": "2026-01-01T00:00:00Z",
    }
    manifest = root / "manifests" / "concepts.parquet"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(manifest_rows, schema=MANIFEST_SCHEMA).replace_schema_metadata(meta), manifest)
    return TinyCorpus(root, manifest, cache_dir, features, video_dim, text_dim, videos, n_snippets)
