"""``embed``: a frozen text encoder turns each new text into a sentence vector and per-token
vectors. Texts whose hash is already cached (or this worker embedded it before) are not encoded
again; two workers may still embed one text twice, which readers dedupe."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, ClassVar, Protocol

import numpy as np

from pipeline.stages.base import Batch, ModelStage, Resources

EMPTY = np.zeros(0, np.float32)
FEATURE_COLUMNS = ("embedded", "sentence", "tokens", "n_tokens", "dim", "token_ids")
NO_IDS = np.zeros(0, np.int32)  # token_ids of a text not embedded here, or of an encoder without ids


class TextEncoder(Protocol):  # pipeline.features.text.TextEncoder
    name: str
    dim: int

    def setup(self) -> None: ...
    def encode(self, texts: list[str]) -> list[Any]: ...


class EmbedStage(ModelStage):
    name: ClassVar[str] = "embed"
    reads: ClassVar[tuple[str, ...]] = ("text", "text_sha256", "status")
    writes: ClassVar[tuple[str, ...]] = FEATURE_COLUMNS

    def __init__(
        self,
        make_encoder: Callable[[], TextEncoder],
        cached: Collection[str] = frozenset(),
        resources: Resources = Resources(cpus=1.0, batch_size=64),
    ) -> None:
        super().__init__(make_encoder, resources)
        self.cached = cached
        self.seen: set[str] = set()  # hashes this worker already embedded (earlier batches)

    def process_batch(self, batch: Batch) -> Batch:
        encoder: TextEncoder = self.ready()
        n = len(batch["text_sha256"])
        seen = self.seen
        todo = []
        for i in range(n):
            h = str(batch["text_sha256"][i])
            if batch["status"][i] == "ok" and h and h not in self.cached and h not in seen:
                seen.add(h)
                todo.append(i)
        cols: dict[str, list] = {
            "embedded": [False] * n,
            "sentence": [EMPTY] * n,
            "tokens": [EMPTY] * n,
            "n_tokens": [0] * n,
            "dim": [encoder.dim] * n,
            "token_ids": [NO_IDS] * n,
        }
        encoded = encoder.encode([str(batch["text"][i]) for i in todo]) if todo else []
        for i, enc in zip(todo, encoded, strict=True):
            tokens = np.asarray(enc.tokens, np.float32)
            cols["embedded"][i] = True
            cols["sentence"][i] = np.asarray(enc.sentence, np.float32)
            cols["tokens"][i] = tokens.reshape(-1)
            cols["n_tokens"][i] = int(tokens.shape[0])
            ids = getattr(enc, "ids", None)  # None: this encoder has no ids (written as null)
            if ids is not None:
                cols["token_ids"][i] = np.asarray(ids, np.int32).reshape(-1)
        return {**batch, **cols}
