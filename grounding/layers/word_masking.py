"""Which words to mask for masked-word reconstruction (MESM's FW-MESM, ``_mask_words``), and how
content words are favoured.

``choose_masked``: per sentence, k = max(floor(n / 3), 1) of its n maskable tokens (valid, not
special; a sentence with n <= 1 is left alone), drawn without replacement with probability
proportional to a per-token weight (uniform without weights). Drawn in one vectorised step by
Gumbel top-k (the k largest log w + Gumbel noise), which has the same distribution as drawing
one token at a time proportionally to the weights of those left; seeded by torch's generator.

``PosWeights``: the weight of each token of a query, 2 for nouns, verbs, adjectives and adverbs
(Penn tags NN*, VB*, JJ*, RB*) and 1 otherwise, when a part-of-speech tagger is installed (NLTK's
averaged perceptron tagger and its data) and the tokenizer's word pieces are known; word pieces
("##"-continued) take the tag of their word. Otherwise every weight is 1 (uniform masking);
``PosWeights.mode`` says which ran ("pos" or "uniform") and ``reason`` why, for the run's
metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

CONTENT_TAGS = ("NN", "VB", "JJ", "RB")
CONTENT_WEIGHT = 2.0


def choose_masked(
    valid: Tensor, weights: Tensor | None = None, rate: float = 1 / 3, generator: torch.Generator | None = None
) -> Tensor:
    """valid (B, L) bool (True: a token that may be masked), weights (B, L) > 0 or None ->
    masked (B, L) bool."""
    n = valid.sum(dim=1)
    k = torch.clamp(torch.floor(n.float() * rate).long(), min=1)
    k = torch.where(n > 1, k, torch.zeros_like(k))
    u = torch.rand(valid.shape, generator=generator, device=valid.device).clamp(1e-12, 1 - 1e-12)
    logw = torch.zeros(valid.shape, device=valid.device) if weights is None else weights.float().clamp(min=1e-12).log()
    keys = (logw - torch.log(-torch.log(u))).masked_fill(~valid, float("-inf"))
    order = keys.argsort(dim=1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(valid.shape[1], device=valid.device).expand_as(order).contiguous())
    return (rank < k[:, None]) & valid


def _nltk_tagger() -> tuple[Callable[[list[str]], list[tuple[str, str]]] | None, str]:
    try:
        import nltk  # noqa: PLC0415 - optional
    except ImportError:
        return None, "nltk is not installed"
    try:
        nltk.pos_tag(["a", "test"])
    except LookupError as err:
        return None, f"nltk's tagger data is missing ({str(err).strip().splitlines()[0] if str(err).strip() else err})"
    return nltk.pos_tag, "nltk averaged perceptron tagger"


class PosWeights:
    """Per-token masking weights from part-of-speech tags (see the module doc).

    ``pieces``: the tokenizer's word piece of every id (None: unknown ids, uniform weights);
    ``tagger``: words -> [(word, tag)] (default: NLTK's when installed)."""

    def __init__(
        self, pieces: Sequence[str] | None, tagger: Callable[[list[str]], list[tuple[str, str]]] | None | str = "nltk"
    ) -> None:
        if tagger == "nltk":
            tagger, why = _nltk_tagger()
        else:
            why = "a tagger was given" if tagger is not None else "no tagger was given"
        self.pieces = list(pieces) if pieces is not None else None
        self.tagger = tagger if callable(tagger) else None
        if self.tagger is None:
            self.mode, self.reason = "uniform", why
        elif self.pieces is None:
            self.mode, self.reason = "uniform", "the text encoder's tokenizer is unknown here (no word pieces)"
        else:
            self.mode, self.reason = "pos", why
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def token_weights(self, ids: Sequence[int]) -> np.ndarray:
        """(n,) float32 weights of one query's token ids."""
        key = tuple(int(i) for i in ids)
        if self.mode != "pos" or self.tagger is None or self.pieces is None:
            return np.ones(len(key), np.float32)
        if key not in self._cache:
            self._cache[key] = self._tag(key)
        return self._cache[key]

    def _tag(self, ids: tuple[int, ...]) -> np.ndarray:
        assert self.pieces is not None and self.tagger is not None
        pieces = [self.pieces[i] if 0 <= i < len(self.pieces) else "" for i in ids]
        words: list[str] = []
        owner: list[int] = []
        for p in pieces:
            if p.startswith("##") and words:
                words[-1] += p[2:]
            else:
                words.append(p)
            owner.append(len(words) - 1)
        tags = [t for _, t in self.tagger(words)] if words else []
        word_w = [CONTENT_WEIGHT if t.startswith(CONTENT_TAGS) else 1.0 for t in tags]
        return np.asarray([word_w[o] for o in owner], np.float32)

    def batch_weights(self, ids: Tensor, mask: Tensor) -> Tensor | None:
        """(B, L) weights of a padded batch of ids (1 at padding), or None when uniform."""
        if self.mode != "pos":
            return None
        out = np.ones(ids.shape, np.float32)
        for i, (row, m) in enumerate(zip(ids.cpu().tolist(), mask.cpu().tolist(), strict=True)):
            n = int(sum(m))
            out[i, :n] = self.token_weights(row[:n])
        return torch.from_numpy(out).to(ids.device)
