"""The ``granalign`` scorer as a grounding model: registered as training-free, its batch fields,
its prediction rows (windows, saliency on the clip grid, metadata) on a hand case through the
real ``collate``, its fallbacks, and ``evaluate_untrained`` on a QVHighlights-style corpus written
in the real cache formats (no video features), where the full QVHighlights suite runs on its
predictions, saliency included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from grounding.config import load_config
from grounding.data.collate import collate
from grounding.models import MODELS, build_model
from grounding.run_eval import evaluate_untrained
from groundwork.cache.hashing import cache_key, sha256_text
from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA, manifest_schema
from groundwork.cache.store import CacheStore

R2 = float(np.sqrt(0.5))


def _item(aware: bool = True, rewrites: bool = True) -> dict:
    """The hand case of tests/grounding/zeroshot/test_fusion.py as a dataset item: 4 frames, 1 s each."""
    item = {
        "query_id": "q0",
        "video_id": "v0",
        "query": "q",
        "windows": [(1.0, 2.0)],
        "duration": 4.0,
        "narrative_frames": np.array([[1.0, 0.0], [0.0, 1.0], [R2, R2], [-1.0, 0.0]], np.float32),
        "narrative_frame_spans": np.array([[t, t] for t in range(4)], np.float32),
        "rewrite_pairs": np.array([[1.0, 0.0], [0.0, 1.0]] if rewrites else np.zeros((0, 2)), np.float32),
        "key_frame_captions": np.array([[0.0, 2.0], [1.0, 1.0]] if aware else np.zeros((0, 2)), np.float32),
        "key_frame_caption_spans": np.array([[1.0, 1.0], [2.0, 2.0]] if aware else np.zeros((0, 2)), np.float32),
        "query_sentence": np.array([0.0, 1.0], np.float32),
    }
    return item


def _predict(items: list[dict], **cfg: object) -> list[dict]:
    model = build_model("granalign", top_k=1, gap=1.0, **cfg)
    batch = collate(items)
    return model.predict(batch, k=5)


def test_registered_training_free_with_text_fields_only() -> None:
    spec = MODELS.get("granalign")
    assert spec.trainable is False
    model = build_model("granalign")
    assert not list(model.parameters())
    assert "video" not in model.required_keys and model.loss_keys == () and model.target_maker(None) is None
    assert set(model.required_keys) >= {
        "rewrite_pairs",
        "narrative_frames",
        "narrative_frame_spans",
        "key_frame_captions",
        "key_frame_caption_spans",
        "query_sentence",
        "duration",
    }
    assert "clip_captions" in build_model("granalign", agnostic="clip_captions").required_keys
    with pytest.raises(RuntimeError, match="training-free"):
        model.loss({}, {})


def test_hand_case_prediction_row() -> None:
    # S = (0.5, 0.75, 0.4268, 0): top_k 1 picks frame 1 alone (bin [0.7, 0.8)); it covers [1, 2)
    (pred,) = _predict([_item()])
    assert pred["pred_relevant_windows"][0] == [1.0, 2.0, pytest.approx(0.7 * 0.75 + 0.3)]
    assert pred["pred_saliency_scores"] == pytest.approx([0.625, 0.2134], abs=1e-4)  # 2 s clips: (0.5+0.75)/2, ...
    assert pred["granalign"] == {
        "pairing": "both",
        "m": 1,
        "frames": 4,
        "key_frames": 2,
        "channels": ["simplified->agnostic", "detailed->aware"],
        "fallback": "",
    }


def test_fallbacks_are_reported_in_the_row() -> None:
    unseen, bare = _predict([_item(aware=False), _item(aware=False, rewrites=False)], fallback="simplified")
    assert unseen["granalign"]["channels"] == ["simplified->agnostic"]
    assert "no query-aware captions" in unseen["granalign"]["fallback"]
    assert unseen["pred_relevant_windows"][0][:2] == [0.0, 1.0]  # g_s peaks on frame 0
    assert bare["granalign"]["m"] == 0 and "no rewrites" in bare["granalign"]["fallback"]
    (original,) = _predict([_item(aware=False)], fallback="original")
    assert original["granalign"]["channels"] == ["original->agnostic"]
    assert original["pred_relevant_windows"][0][:2] == [1.0, 2.0]  # the original [0, 1] peaks on frame 1


def test_a_video_without_captions_predicts_the_whole_video() -> None:
    item = {
        **_item(),
        "narrative_frames": np.zeros((0, 2), np.float32),
        "narrative_frame_spans": np.zeros((0, 2), np.float32),
    }
    (pred,) = _predict([item, _item()])[:1]
    assert pred["pred_relevant_windows"] == [[0.0, 4.0, 0.0]] and pred["pred_saliency_scores"] == [0.0, 0.0]
    assert "no query-agnostic captions" in pred["granalign"]["fallback"]


# -- a QVHighlights-style corpus in the real formats -----------------------------------------------
ENCODER = "granalign-test-encoder"
DIM, N_CONCEPTS, SEGMENTS, SEG = 16, 8, 5, 30.0


def _prior(kind: str, vid: str, qid: str, t: float, text: str) -> dict:
    return {
        "key": cache_key({"kind": kind, "vid": vid, "qid": qid, "t": t, "text": text}),
        "kind": kind,
        "video_id": vid,
        "video_sha256": sha256_text(vid),
        "query_id": qid,
        "t_start": t,
        "t_end": t,
        "text": text,
        "text_sha256": sha256_text(text),
        "model": "synthetic",
        "model_revision": "0",
        "prompt_id": kind,
        "prompt_version": 1,
        "prompt_sha256": "0",
        "sampling": "{}",
        "backend": "none",
        "n_prompt_tokens": 0,
        "n_output_tokens": 0,
        "latency_ms": 0.0,
        "status": "ok",
        "error_type": "",
        "error": "",
        "raw": "",
        "created_at": "2026-01-01T00:00:00Z",
    }


def build_qvh_like(root: Path, n_videos: int = 8, seed: int = 0) -> Path:
    """Videos of 150 s in five 30 s segments, each showing one concept; a narrative every 2 s (the
    concept's text prototype plus noise: 75 frames, as QVHighlights' clips); one query per segment
    with 3 rewrite pairs and 8 query-aware captions (4 key frames in its segment, 4 elsewhere);
    QVHighlights saliency
    (``relevant_clip_ids``, ``saliency_scores``) in ``extra``. No video features at all."""
    rng = np.random.default_rng(seed)
    proto = rng.normal(size=(N_CONCEPTS, DIM))
    store = CacheStore(root / "cache")
    priors: dict[str, list[dict]] = {"narrative": [], "query_rewrite_pairs": [], "key_frame_caption": []}
    vectors: dict[str, np.ndarray] = {}
    rows = []

    def text(name: str, vector: np.ndarray) -> str:
        vectors[name] = vector
        return name

    for v in range(n_videos):
        vid, concepts = f"v{v}", rng.permutation(N_CONCEPTS)[:SEGMENTS]
        narr = [
            _prior(
                "narrative",
                vid,
                "",
                t,
                text(f"{vid} frame {t}", proto[concepts[int(t // SEG)]] + 0.6 * rng.normal(size=DIM)),
            )
            for t in np.arange(0, 150, 2.0)
        ]
        priors["narrative"] += narr
        for j, c in enumerate(concepts):
            qid = f"{vid}_q{j}"
            query = text(f"query {qid}", proto[c] + 0.5 * rng.normal(size=DIM))
            pairs = [
                _prior(
                    "query_rewrite_pairs",
                    vid,
                    qid,
                    0.0,
                    text(f"{qid} {role} {i}", proto[c] + 0.5 * rng.normal(size=DIM)),
                )
                for i in range(3)
                for role in ("simplified", "detailed")
            ]
            start = SEG * j
            inside = rng.choice(np.arange(start, start + SEG, 2.0), 4, replace=False)
            outside = rng.choice([t for t in np.arange(0, 150, 2.0) if not start <= t < start + SEG], 4, replace=False)
            aware = [
                _prior(
                    "key_frame_caption",
                    vid,
                    qid,
                    float(t),
                    text(f"{qid} aware {t}", (proto[c] if k < 4 else 0) + 0.5 * rng.normal(size=DIM)),
                )
                for k, t in enumerate([*inside, *outside])
            ]
            priors["query_rewrite_pairs"] += pairs
            priors["key_frame_caption"] += aware
            clips = list(range(int(start // 2), int((start + SEG) // 2)))
            rows.append(
                {
                    "query_id": qid,
                    "video_id": vid,
                    "split": "val",
                    "query": query,
                    "windows": [[start, start + SEG]],
                    "duration": 150.0,
                    "video_sha256": sha256_text(vid),
                    "query_sha256": sha256_text(query),
                    "narrative_keys": [r["key"] for r in narr],
                    "query_rewrite_pairs_keys": [r["key"] for r in pairs],
                    "key_frame_keys": [],
                    "key_frame_caption_keys": [r["key"] for r in aware],
                    "context_query_ids": [],
                    "extra": json.dumps({"relevant_clip_ids": clips, "saliency_scores": [[4, 3, 4]] * len(clips)}),
                }
            )
    for kind, kind_rows in priors.items():
        store.write_priors(kind, pa.Table.from_pylist(kind_rows, schema=PRIOR_SCHEMA))
    store.write_text_features(
        ENCODER,
        pa.Table.from_pylist(
            [
                {
                    "text_sha256": sha256_text(t),
                    "encoder": ENCODER,
                    "text": t,
                    "dim": DIM,
                    "sentence": v.astype(np.float32),
                    "n_tokens": 1,
                    "tokens": v.astype(np.float32),
                }
                for t, v in vectors.items()
            ],
            schema=TEXT_FEATURE_SCHEMA,
        ),
    )
    schema = manifest_schema(("narrative", "query_rewrite_pairs", "key_frame", "key_frame_caption"))
    meta = {
        "dataset": "qvh_like",
        "cache_dir": str(root / "cache"),
        "text_encoder": ENCODER,
        "visual_features": "",
        "created_at": "2026-01-01T00:00:00Z",
    }
    manifest = root / "qvh_like.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema).replace_schema_metadata(meta), manifest)
    return manifest


def test_evaluate_untrained_runs_the_qvhighlights_suite_without_video_features(tmp_path: Path) -> None:
    manifest = build_qvh_like(tmp_path)
    cfg = load_config(
        Path("configs/granalign_qvhighlights.yaml"),
        {"data": {"manifest": str(manifest)}, "out_dir": str(tmp_path / "run"), "device": "cpu"},
    )
    result = evaluate_untrained(cfg, "val", tmp_path / "preds.jsonl")
    assert result["suite"] == "qvhighlights" and result["counts"]["missing_predictions"] == 0
    brief = result["metrics"]["brief"]
    assert brief["MR-full-R1@0.5"] >= 75.0  # each query names one 30 s segment of five
    assert brief["HL-min-VeryGood-mAP"] > 50.0
    rows = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and all(len(r["pred_saliency_scores"]) == 75 for r in rows)  # 150 s / 2 s clips
    assert {r["granalign"]["channels"][1] for r in rows} == {"detailed->aware"}
    assert all(r["granalign"]["m"] == 3 and r["granalign"]["key_frames"] == 8 for r in rows)

    ablation = load_config(
        Path("configs/granalign_qvhighlights.yaml"),
        {"data": {"manifest": str(manifest)}, "model": {"pairing": "original_agnostic"}},
    )
    original = evaluate_untrained(ablation, "val", tmp_path / "preds_original.jsonl")
    assert original["metrics"]["brief"]["MR-full-R1@0.5"] > 50.0
