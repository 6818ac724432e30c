from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from groundwork.cache.hashing import sha256_text
from pipeline.features.text import get_text_encoder
from pipeline.stages.embed import EmbedStage

pytestmark = pytest.mark.slow  # loads MiniLM (about 10 s on a busy 2-core machine)


def _batch(texts: list[str], status: list[str]) -> dict:
    return {"text": texts, "text_sha256": [sha256_text(t) if t else "" for t in texts], "status": status}


def test_embeds_new_ok_texts_once_each() -> None:
    stage = EmbedStage(partial(get_text_encoder, "minilm"), cached={sha256_text("already cached")})
    texts = ["a red circle moves left", "a red circle moves left", "already cached", "failed", ""]
    out = stage.process_batch(_batch(texts, ["ok", "ok", "ok", "error", "ok"]))
    assert out["embedded"] == [True, False, False, False, False]
    assert out["sentence"][0].shape == (stage.model.dim,) and out["sentence"][0].dtype == np.float32
    n_tok = out["n_tokens"][0]
    assert n_tok == 5 and out["tokens"][0].shape == (n_tok * stage.model.dim,)
    assert np.isfinite(out["tokens"][0]).all()
    assert all(out["sentence"][i].size == 0 for i in (1, 2, 3, 4))


def test_a_text_seen_in_an_earlier_batch_is_not_embedded_again() -> None:
    stage = EmbedStage(partial(get_text_encoder, "minilm"))
    assert stage.process_batch(_batch(["same words"], ["ok"]))["embedded"] == [True]
    assert stage.process_batch(_batch(["same words", "new words"], ["ok", "ok"]))["embedded"] == [False, True]
