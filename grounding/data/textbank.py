"""Text features from the cache, held in memory as two big arrays.

A dataset loads every text vector it needs once (query, narrative, caption, event and context
sentences of its videos); items then index into ``sentences`` (N, D) and the flat ``tokens``
(T, D) by row, with no per-item Parquet work. Token vectors are most of a text's bytes and only
queries need them, so a dataset reads the others' sentence vectors alone (``from_tables``): such a
row has no tokens (``has_tokens`` False), and asking for them is an error, not an empty array.

Token ids (``TEXT_FEATURE_SCHEMA`` version 2) sit beside the token vectors in ``ids`` (T,); a row
written before version 2, or by an encoder without a tokenizer, has none (``has_ids`` False, its
ids -1), and ``token_ids`` of such a row is a ``MissingInputError`` naming the cache folder and
the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from groundwork.cache.store import conform
from groundwork.errors import MissingInputError


@dataclass
class TextBank:
    encoder: str
    dim: int
    index: dict[str, int]  # text_sha256 -> row
    sentences: np.ndarray  # (N, dim) float32
    tokens: np.ndarray  # (sum n_tokens, dim) float32
    offsets: np.ndarray  # (N + 1,) int64: tokens of row r are tokens[offsets[r]:offsets[r+1]]
    ids: np.ndarray | None = None  # (sum n_tokens,) int64 tokenizer ids, -1 where a row has none
    has_ids: np.ndarray | None = None  # (N,) bool: the row's ids were recorded
    where: str = ""  # the cache folder the rows came from (for error messages)
    has_tokens: np.ndarray | None = None  # (N,) bool: the row's token vectors were loaded (None: all)

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
        tokens = table.column("tokens")  # null on a row read without its token vectors (from_tables)
        has_tokens = tokens.is_valid().to_numpy(zero_copy_only=False)
        tok = pc.list_flatten(tokens).to_numpy(zero_copy_only=False).astype(np.float32)
        n_tokens = np.zeros(table.num_rows, np.int64)
        if has_tokens.any():
            n_tokens[has_tokens] = np.asarray(table.column("n_tokens").filter(has_tokens).to_pylist(), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(n_tokens)])
        if sent.size != table.num_rows * dim or tok.size != offsets[-1] * dim:
            msg = f"text features of encoder '{encoder}' in {where}: vector lengths disagree with dim={dim}"
            raise ValueError(msg)
        index = {sha: i for i, sha in enumerate(table.column("text_sha256").to_pylist())}
        ids, has_ids = _token_ids(table, n_tokens, offsets)
        return cls(encoder, dim, index, sent.reshape(-1, dim), tok.reshape(-1, dim), offsets, ids, has_ids, where,
                   None if has_tokens.all() else has_tokens)

    @classmethod
    def from_tables(cls, full: pa.Table, sentences_only: pa.Table, encoder: str, where: str = "") -> TextBank:
        """One bank of the rows of ``full`` (every column) and of ``sentences_only`` (read with
        ``SENTENCE_COLUMNS``: no token vectors or ids), ``full``'s first."""
        if sentences_only.num_rows == 0:
            return cls.from_table(full, encoder, where)
        return cls.from_table(pa.concat_tables([full, conform(sentences_only, full.schema)]), encoder, where)

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
        if self.has_tokens is not None and not self.has_tokens[r]:
            msg = f"{what}: its token vectors were not loaded (only its sentence vector was read from {self.where})"
            raise KeyError(msg)
        return self.tokens[self.offsets[r] : self.offsets[r + 1]]

    def ids_if_any(self, sha: str) -> np.ndarray | None:
        """A row's token ids, or None when it has none."""
        r = self.row(sha, "text")
        if self.ids is None or self.has_ids is None or not self.has_ids[r]:
            return None
        return self.ids[self.offsets[r] : self.offsets[r + 1]]

    def token_ids(self, sha: str, what: str = "text") -> np.ndarray:
        """(n_tokens,) int64 tokenizer ids of a row's tokens; a row without ids is an error naming
        the cache folder and how to re-embed it."""
        r = self.row(sha, what)
        if self.ids is None or self.has_ids is None or not self.has_ids[r]:
            msg = (f"{what}: the cached text features of encoder '{self.encoder}' in {self.where or 'the cache'} have "
                   "no token ids (written before text schema version 2, or by an encoder without a tokenizer); "
                   "a model that predicts words needs them: delete that folder and run `priors run` again "
                   "to re-embed the texts (cached priors are kept)")
            raise MissingInputError(msg)
        return self.ids[self.offsets[r] : self.offsets[r + 1]]


def _token_ids(table: pa.Table, n_tokens: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids (-1 for rows without) and the per-row flag, from the ``token_ids`` column (absent
    or null in a version-1 shard)."""
    ids = np.full(int(offsets[-1]), -1, np.int64)
    if "token_ids" not in table.column_names:
        return ids, np.zeros(table.num_rows, bool)
    column = table.column("token_ids")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    has = ~np.isnan(lengths.astype(np.float64)) & (np.nan_to_num(lengths.astype(np.float64), nan=-1) == n_tokens)
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(np.nan_to_num(lengths.astype(np.float64), nan=0).astype(np.int64))])
    for r in np.flatnonzero(has):
        ids[offsets[r] : offsets[r + 1]] = flat[starts[r] : starts[r + 1]]
    return ids, has
