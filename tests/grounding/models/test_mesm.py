"""``mesm``: every ablation switch trains every parameter it builds, the word rebuild exists only
in training, the segment-sentence token depends on the video and the context sentences (not on
the query's own words), the vocabulary comes from the training split, L_ss's positives, and the
real annotation loaders feed it (synthetic features of the real shapes)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from grounding.models import build_model
from tests.grounding.models.batches import make_items, model_batch, tiny_model_config

ABLATIONS = {
    "full": {},
    "fw-only": {"use_ss": False},
    "ss-only": {"use_fw": False},
    "baseline": {"use_fw": False, "use_ss": False},
    "rebuild-own-ffn": {"share_mlp": False},
}


def _model(**over: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mesm", **tiny_model_config("mesm", hidden=16, heads=4, ffn_dim=32, vocab_size=8, **over))


def _items(seed: int = 0) -> list[dict]:
    return make_items(lengths=[8, 8, 6, 7], q_lengths=[4, 3, 5, 2], seed=seed, videos=[0, 0, 2, 3])


@pytest.mark.parametrize("over", ABLATIONS.values(), ids=ABLATIONS.keys())
def test_each_ablation_trains_every_parameter_it_builds(over: dict) -> None:
    model = _model(**over).train()
    batch = model_batch(model, _items())
    loss = model.loss(model(batch), batch)
    assert ("rec_fw" in loss) == model.config.use_fw and ("rec_ss" in loss) == model.config.use_ss
    loss["total"].backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, unused
    assert hasattr(model, "enhancer") == model.config.use_fw and hasattr(model, "reconstructor") == model.config.use_ss


def test_the_word_rebuild_runs_in_training_only() -> None:
    model = _model().eval()
    batch = model_batch(model, _items())
    with torch.no_grad():
        out = model(batch)
        assert "word_logits" not in out and "ss_segment" not in out
        assert "rec_fw" not in model.loss(out, batch)
        with torch.no_grad():  # the rebuild's own parameters cannot change an inference output
            for p in [*model.word_head.parameters(), model.word_mask_token, model.unknown_token]:
                p.add_(torch.randn_like(p))
        again = model(batch)
    for key in ("pred_logits", "pred_spans", "saliency"):
        torch.testing.assert_close(out[key], again[key])
    assert "query_token_ids" not in model.required_keys and "query_token_ids" in model.loss_keys


def test_the_sentence_token_reads_the_video_and_the_context_not_the_query_words() -> None:
    model = _model().eval()
    batch = model_batch(model, _items(), labels=False)

    def token(b: dict) -> torch.Tensor:
        state: dict = {}
        with torch.no_grad():
            v, vm, pos = model.project_video(b)
            words, wm = model.project_words(b)
            state |= {"v": v, "vm": vm, "pos": pos, "words": words, "words_mask": wm}
            model.query_words(b, state)
        return state["ss_token"]

    base = token(batch)
    other_words = {**batch, "query_tokens": torch.randn_like(batch["query_tokens"])}
    torch.testing.assert_close(token(other_words), base)  # its own words do not enter the token
    other_context = {**batch, "context": torch.randn_like(batch["context"])}
    assert not torch.allclose(token(other_context), base, atol=1e-4)  # the context sentences do
    padded = {**batch, "context": batch["context"].masked_fill(~batch["context_mask"][..., None], 1e3)}
    torch.testing.assert_close(token(padded), base, rtol=1e-4, atol=1e-4)  # padded context slots do not
    other_video = {**batch, "video": torch.randn_like(batch["video"])}
    assert not torch.allclose(token(other_video), base, atol=1e-4)
    with torch.no_grad():  # and the aligner reads it: the predictions move with the context
        assert not torch.allclose(model(other_context)["pred_spans"], model(batch)["pred_spans"], atol=1e-5)


def test_segment_sentence_positives_are_same_video_overlapping_moments() -> None:
    model = _model()
    spans = torch.tensor([[[0.3, 0.2]], [[0.3, 0.2]], [[0.7, 0.2]], [[0.3, 0.2]]])  # q0 == q1 == q3 moments
    batch = {
        "span_targets": spans,
        "span_target_mask": torch.ones(4, 1, dtype=torch.bool),
        "video_id": ["a", "a", "a", "b"],
    }
    segment, sentence = torch.eye(4, 5), torch.eye(4, 5)
    got = model.segment_sentence_loss(segment, sentence, batch).item()
    logp = (torch.eye(4) / 0.5).log_softmax(dim=1)
    # q0 and q1: positives {0, 1} (same video, same moment); q2 itself; q3 itself (another video)
    want = -((logp[0, 0] + logp[0, 1]) / 2 + (logp[1, 0] + logp[1, 1]) / 2 + logp[2, 2] + logp[3, 3]) / 4
    assert got == pytest.approx(want.item(), rel=1e-5)


def test_vocabulary_from_the_training_split_and_the_run_records_the_masking(tmp_path: Path) -> None:
    from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
    from tests.grounding.fixtures import build_tiny_corpus, synthetic_token_ids

    corpus = build_tiny_corpus(tmp_path, n_videos=6, queries_per_video=3)
    info = read_manifest(corpus.manifest)
    model = build_model(
        "mesm", video_dim=corpus.video_dim, text_dim=corpus.text_dim, hidden=16, heads=4, ffn_dim=32, vocab_size=4
    )
    ds = GroundingDataset(
        info,
        "train",
        open_video_store(info, [str(corpus.features)]),
        16,
        targets=model.target_maker(None),
        fields=(*model.required_keys, *model.loss_keys),
    )
    meta = model.fit_data(ds)
    assert meta["word_masking"] in ("pos", "uniform") and meta["word_masking_reason"]
    counts: dict[int, int] = {}
    for r in ds.rows:
        for i in synthetic_token_ids(r["query"]):
            counts[i] = counts.get(i, 0) + 1
    top = sorted(counts, key=lambda i: (-counts[i], i))[:4]
    assert sorted(model.vocab.tolist()) == sorted(top) and meta["vocab_size"] == 4
    ids = torch.tensor([[top[0], 5, top[3]]])
    classes = model.word_classes(ids)[0].tolist()
    assert classes[1] == 0 and classes[0] > 0 and classes[2] > 0 and classes[0] != classes[2]
    item = ds[0]
    assert item["query_token_ids"].tolist() == synthetic_token_ids(item["query"])


def _one_epoch(corpus, tmp_path: Path, train_split: str, max_len: int):  # noqa: ANN001, ANN202
    from grounding.config import load_config
    from grounding.train import fit

    cfg = load_config(
        None,
        {
            "data": {
                "manifest": str(corpus.manifest),
                "features": [str(corpus.features)],
                "train_split": train_split,
                "val_split": "none",
                "test_split": "nothing",
                "max_len": max_len,
                "temporal_endpoints": True,
                "l2_normalize_frames": True,
            },
            "model": {"name": "mesm", "hidden": 32, "heads": 4, "ffn_dim": 64, "vocab_size": 200},
            "optim": {"batch_size": 12, "epochs": 1, "optimizer": "adamw", "lr": 2e-4, "grad_clip": 0.1},
            "out_dir": str(tmp_path / "run"),
            "device": "cpu",
            "threads": 1,
        },
    )
    return fit(cfg, progress=False)


@pytest.mark.slow
@pytest.mark.shared_data
def test_charades_sta_test_split_feeds_mesm_for_one_epoch(tmp_path: Path) -> None:
    """3,720 Charades-STA test queries of 1,334 videos, one window each, 1024-d per-second
    synthetic features (+2 endpoint features), 384-d token vectors with ids; batches of 12 videos."""
    from pipeline.datasets import DATASETS
    from tests.conftest import shared_path
    from tests.grounding.fixtures import build_corpus_from_annotations

    ann = DATASETS.get("charades_sta")(shared_path("charades_sta"))
    corpus = build_corpus_from_annotations(ann, tmp_path, splits=("test",))
    result = _one_epoch(corpus, tmp_path, "test", 128)
    losses = result.history[0]["step_losses"]
    assert len(losses) == -(-len(corpus.videos) // 12) and np.isfinite(losses).all()
    assert {"loss/rec_fw", "loss/rec_ss", "loss/saliency_neg", "loss/aux0_span"} <= set(result.history[0])
    assert json.loads((tmp_path / "run" / "model_data.json").read_text())["vocab_size"] == 200


@pytest.mark.slow
@pytest.mark.shared_data
def test_qvhighlights_val_with_multiple_windows_and_saliency_feeds_mesm(tmp_path: Path) -> None:
    """QVHighlights val queries with their several windows and 3-annotator saliency, 150-s videos
    of 150 x 1024-d synthetic features; the first 400 queries (the full split's 1,550 videos would
    write ~1 GB of synthetic features)."""
    from pipeline.datasets import DATASETS
    from tests.conftest import shared_path
    from tests.grounding.fixtures import build_corpus_from_annotations

    ann = DATASETS.get("qvhighlights")(shared_path("qvhighlights"))
    val = [q for q in ann.queries if q.split == "val"][:400]
    assert any(len(q.windows) > 1 for q in val) and all("saliency_scores" in q.extra for q in val)
    corpus = build_corpus_from_annotations(replace(ann, queries=val), tmp_path, splits=("val",))
    result = _one_epoch(corpus, tmp_path, "val", 150)
    losses = result.history[0]["step_losses"]
    assert np.isfinite(losses).all() and len(losses) >= len(corpus.videos) // 13
