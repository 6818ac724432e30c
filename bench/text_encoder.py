"""The text encoder in float32 (``minilm``) and bfloat16 (``minilm-bf16``), side by side.

Both encode the same texts on one thread (as the pipeline's embed actors do), in the pipeline's
batches of 64, their turns alternating between repeats. Prints texts per second of each, the
ratio, and how far bfloat16's vectors are from float32's (cosine of the sentence vectors, largest
token-vector difference).

    python bench/text_encoder.py                        # the demo's texts (data/demo) and, with a
                                                        # manifest, every prior text of its cache
    python bench/text_encoder.py --manifest manifests/demo.parquet --limit 2000 --repeats 3

Without a manifest it reads the queries of ``data/demo/*.jsonl`` (run ``make priors
DATASET=demo`` first); the prior texts (narratives, captions) are longer, so a manifest's mix is
the one that says what embedding costs in ``priors run``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.features.text import get_text_encoder  # noqa: E402

BATCH = 64


def demo_texts(manifest: Path | None, demo: Path) -> list[str]:
    texts: dict[str, None] = {}
    for split in ("train", "val", "test"):
        path = demo / f"{split}.jsonl"
        if path.is_file():
            for line in path.read_text().splitlines():
                texts[json.loads(line)["query"]] = None
    if manifest is not None:
        from groundwork.cache.manifest import read_manifest
        from groundwork.cache.store import CacheStore

        store = CacheStore(read_manifest(manifest).cache_dir)
        for kind in store.prior_kinds():
            table = store.priors(kind).select(["text", "status"]).to_pylist()
            texts.update((r["text"], None) for r in table if r["status"] == "ok" and r["text"])
    return list(texts)


def encode_all(encoder, texts: list[str]) -> tuple[float, list]:  # noqa: ANN001
    start = time.perf_counter()
    out = []
    for i in range(0, len(texts), BATCH):
        out += encoder.encode(texts[i : i + BATCH])
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, help="also every ok prior text of this manifest's cache")
    parser.add_argument("--demo", type=Path, default=Path("data/demo"), help="folder of the demo's jsonl files")
    parser.add_argument("--limit", type=int, default=2000, help="texts encoded per repeat (a seeded sample)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    texts = demo_texts(args.manifest, args.demo)
    if not texts:
        sys.exit(f"no texts under {args.demo} (run `make priors DATASET=demo` first) nor in --manifest")
    random.Random(0).shuffle(texts)
    texts = texts[: args.limit]
    print(f"{len(texts)} texts, {np.mean([len(t) for t in texts]):.0f} characters on average; one thread")
    encoders = {name: get_text_encoder(name) for name in ("minilm", "minilm-bf16")}
    for e in encoders.values():
        e.setup()
        e.encode(texts[:BATCH])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    outputs: dict[str, list] = {}
    for r in range(args.repeats):
        for name in sorted(encoders, reverse=bool(r % 2)):
            dt, outputs[name] = encode_all(encoders[name], texts)
            seconds[name].append(dt)
    rate = {name: len(texts) / float(np.median(s)) for name, s in seconds.items()}
    for name, e in encoders.items():
        print(f"  {name:12s} {e.name:24s} {rate[name]:7.1f} texts/s (median of {args.repeats})")
    full, half = outputs["minilm"], outputs["minilm-bf16"]
    cos = np.array([float(a.sentence @ b.sentence) for a, b in zip(full, half, strict=True)])
    token = max(float(np.abs(a.tokens - b.tokens).max()) for a, b in zip(full, half, strict=True) if a.tokens.size)
    print(f"  bf16 / fp32 speed: {rate['minilm-bf16'] / rate['minilm']:.2f}x")
    print(f"  sentence cosine bf16 vs fp32: min {cos.min():.5f}, mean {cos.mean():.6f}; token max |diff| {token:.3f}")


if __name__ == "__main__":
    main()
