"""Text features from the cache, held in memory as two big arrays.

A dataset loads every text vector it needs once (query, narrative, caption, event and context
sentences of its videos) with one ``CacheStore.text_features`` call; items then index into
``sentences`` (N, D) and the flat ``tokens`` (T, D) by row, with no per-item Parquet work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class TextBank:
    encoder: str
    dim: int
    index: dict[str, int]  # text_sha256 -> row
    sentences: np.ndarray  # (N, dim) float32
    tokens: np.ndarray  # (sum n_tokens, dim) float32
    offsets: np.ndarray  # (N + 1,) int64: tokens of row r are tokens[offsets[r]:offsets[r+1]]

    @classmethod
    def from_table(cls, table: pa.Table, encoder: str, where: str = "") -> TextBank:
        """Build from TEXT_FEATURE_SCHEMA rows (one per text_sha256)."""
        if table.num_rows == 0:
            return cls(encoder, 0, {}, np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), np.zeros(1, np.int64))
        dims = set(table.column("dim").to_pylist())
        if len(dims) != 1:
            msg = f"text features of encoder '{encoder}' in {where} mix dimensions {sorted(dims)}"
            raise ValueError(msg)
        dim = int(dims.pop())
        sent = pc.list_flatten(table.column("sentence")).to_numpy(zero_copy_only=False).astype(np.float32)
        tok = pc.list_flatten(table.column("tokens")).to_numpy(zero_copy_only=False).astype(np.float32)
        n_tokens = np.asarray(table.column("n_tokens").to_pylist(), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(n_tokens)])
        if sent.size != table.num_rows * dim or tok.size != offsets[-1] * dim:
            msg = f"text features of encoder '{encoder}' in {where}: vector lengths disagree with dim={dim}"
            raise ValueError(msg)
        index = {sha: i for i, sha in enumerate(table.column("text_sha256").to_pylist())}
        return cls(encoder, dim, index, sent.reshape(-1, dim), tok.reshape(-1, dim), offsets)

    def __contains__(self, sha: object) -> bool:
        return sha in self.index

    def row(self, sha: str, what: str) -> int:
        try:
            return self.index[sha]
        except KeyError:
            msg = f"no cached text features for {what} (text_sha256 {sha[:12]}..., encoder '{self.encoder}')"
            raise KeyError(msg) from None

    def sentence(self, sha: str, what: str = "text") -> np.ndarray:
        return self.sentences[self.row(sha, what)]

    def token_vectors(self, sha: str, what: str = "text") -> np.ndarray:
        r = self.row(sha, what)
        return self.tokens[self.offsets[r] : self.offsets[r + 1]]
