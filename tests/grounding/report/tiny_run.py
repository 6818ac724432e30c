"""A tiny trained run with real MP4s for the report tests: the tiny corpus (``tests.grounding.
fixtures``: manifest, priors cache, features), a span model trained one epoch on it, one query
rewrite per test query written into the cache (a query-level prior), and one H.264 video per
video id, encoded by the demo's own encoder (``pipeline.demo.videos.encode_video``): a square
that crosses the frame, so a seek shows as a moved square."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from grounding.config import load_config
from grounding.train import fit
from groundwork.cache.hashing import sha256_text
from groundwork.cache.layout import PRIOR_SCHEMA
from groundwork.cache.store import CacheStore
from tests.grounding.fixtures import TinyCorpus, _prior, build_tiny_corpus


@dataclass
class TinyRun:
    corpus: TinyCorpus
    run: Path
    videos: Path
    rewrites: dict[str, str]  # query id -> its rewrite


def write_videos(folder: Path, durations: dict[str, float]) -> None:
    from pipeline.demo.videos import FPS, SIZE, encode_video

    folder.mkdir(parents=True, exist_ok=True)
    for vid, duration in durations.items():
        n = round(duration * FPS)

        def frames(n: int = n) -> list[np.ndarray]:
            out = []
            for k in range(n):
                image = np.full((SIZE, SIZE, 3), 16, dtype=np.uint8)
                x = int((SIZE - 16) * k / max(1, n - 1))
                image[56:72, x : x + 16] = (230, 60, 60)
                out.append(image)
            return out

        encode_video(folder / f"{vid}.mp4", frames())


def add_query_rewrites(corpus: TinyCorpus, split: str) -> dict[str, str]:
    """One ok query_rewrite prior per query of ``split`` (and its key in the manifest row)."""
    table = pq.read_table(corpus.manifest)
    rows = table.to_pylist()
    priors, rewrites = [], {}
    for row in rows:
        if row["split"] != split:
            continue
        text = f"rewritten: {row['query']} </script><b>"  # markup in a model's answer must stay text
        prior = _prior("query_rewrite", row["video_id"], 0.0, row["duration"], text) | {"query_id": row["query_id"]}
        prior["key"] = sha256_text(f"rewrite:{row['query_id']}")
        priors.append(prior)
        row["query_rewrite_keys"] = [prior["key"]]
        rewrites[row["query_id"]] = text
    CacheStore(corpus.cache_dir).write_priors("query_rewrite", pa.Table.from_pylist(priors, schema=PRIOR_SCHEMA))
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), corpus.manifest)
    return rewrites


def build_tiny_run(root: Path, split: str = "test") -> TinyRun:
    corpus = build_tiny_corpus(root, n_videos=6, queries_per_video=3)
    rewrites = add_query_rewrites(corpus, split)
    cfg = load_config(
        None,
        {
            "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 32},
            "model": {"name": "span", "hidden": 16},
            "optim": {"batch_size": 8, "epochs": 1},
            "out_dir": str(root / "run"),
            "device": "cpu",
        },
    )
    fit(cfg, progress=False)
    write_videos(root / "videos", corpus.videos)
    return TinyRun(corpus, root / "run", root / "videos", rewrites)
