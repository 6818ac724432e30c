from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from grounding.data.dataset import GroundingDataset, align_narratives, collate, read_manifest
from grounding.data.features import open_store
from grounding.data.targets import SpanTargets
from tests.grounding.fixtures import build_tiny_corpus


def test_eq3_alignment_hand_computed() -> None:
    # 10 s video, 4 snippets of 2.5 s: [0,2.5) [2.5,5) [5,7.5) [7.5,10]
    times = np.array([0.0, 1.0, 2.0, 3.0, 8.0, 10.0])
    vectors = np.array([[1, 0], [3, 0], [5, 2], [0, 4], [2, 2], [4, 6]], np.float32)
    aligned, mask = align_narratives(times, vectors, n_snippets=4, duration=10.0)
    expected = np.array([[3, 2 / 3], [0, 4], [0, 0], [3, 4]], np.float32)  # snippet 0: mean of 3 rows
    np.testing.assert_allclose(aligned, expected, rtol=1e-6)
    assert mask.tolist() == [True, True, False, True]


def test_eq3_alignment_edge_cases() -> None:
    aligned, mask = align_narratives(np.zeros(0), np.zeros((0, 3)), 5, 4.0)
    assert aligned.shape == (5, 3) and not mask.any()
    with pytest.raises(ValueError, match="duration must be positive"):
        align_narratives(np.array([1.0]), np.ones((1, 2)), 3, 0.0)
    with pytest.raises(ValueError, match="2 times for vectors"):
        align_narratives(np.array([1.0, 2.0]), np.ones((1, 2)), 3, 5.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return build_tiny_corpus(tmp_path_factory.mktemp("tiny"))


def test_item_has_every_field_with_the_right_shape(corpus) -> None:  # noqa: ANN001
    ds = GroundingDataset(corpus.manifest, "train", open_store(corpus.features), max_len=12)
    assert len(ds) == 4 and ds.text_dim == corpus.text_dim
    item = ds[0]
    vid = item["video_id"]
    n = min(12, corpus.n_snippets[vid])
    assert item["video"].shape == (n, corpus.video_dim)
    assert item["query_tokens"].shape == (len(item["query"].split()), corpus.text_dim)
    assert item["query_sentence"].shape == (corpus.text_dim,)
    assert item["narratives"].shape == (n, corpus.text_dim) and item["narrative_mask"].any()
    assert item["clip_captions"].shape[0] == item["clip_caption_spans"].shape[0] > 0
    assert item["events"].shape == (2, corpus.text_dim)
    np.testing.assert_allclose(item["event_spans"][1], [corpus.videos[vid] / 2, corpus.videos[vid]])
    assert item["context"].shape == (1, corpus.text_dim)  # the other query of the same video
    assert item["start_label"].shape == item["highlight_label"].shape == (n,)
    assert item["start_label"].sum() >= 1 and item["highlight_label"].sum() >= 1
    assert ds.skipped["narrative_error"] == 1  # the error row of that video was skipped, and counted


def test_narratives_match_eq3_on_cached_vectors(corpus) -> None:  # noqa: ANN001
    ds = GroundingDataset(corpus.manifest, "train", open_store(corpus.features), max_len=4)
    item = ds[0]
    t, _, rows = ds._prior_vectors("narrative", ds.rows[0]["narrative_keys"], item["video_id"])
    assert 1.0 not in t.tolist()  # status=error narrative dropped
    expected, mask = align_narratives(t, ds.text.sentences[rows], 4, item["duration"])
    np.testing.assert_array_equal(item["narratives"], expected)
    np.testing.assert_array_equal(item["narrative_mask"], mask)


def test_video_fields_are_kept_read_only_up_to_the_budget(corpus) -> None:  # noqa: ANN001
    store = open_store(corpus.features)
    cached = GroundingDataset(corpus.manifest, "train", store, max_len=12)
    fresh = GroundingDataset(corpus.manifest, "train", store, max_len=12, video_cache_mb=0)
    videos = {r["video_id"] for r in cached.rows}
    first = [cached[i] for i in range(len(cached))]
    assert set(cached._videos) == videos and not fresh._videos
    again = cached[0]
    assert again["video"] is first[0]["video"] and not again["video"].flags.writeable  # kept, and cannot change
    with pytest.raises(ValueError, match="read-only"):
        again["narratives"][0] = 0.0
    for i, item in enumerate(first):  # the same values as building them for every item
        for key, value in fresh[i].items():
            np.testing.assert_array_equal(item[key], value, err_msg=key)
    one_video = next(iter(cached._videos.values()))[1]
    small = GroundingDataset(corpus.manifest, "train", store, max_len=12, video_cache_mb=1.5 * one_video / 2**20)
    order = [r["video_id"] for r in small.rows]
    for i in range(len(small)):
        small[i]
    kept = list(small._videos)
    assert kept[-1] == order[-1] and len(kept) < len(videos)  # the last read stays, the oldest went out
    assert small._videos_bytes == sum(size for _, size in small._videos.values()) <= small.video_cache_bytes


class CountingStore:
    """A feature store that counts the videos it loads."""

    def __init__(self, store) -> None:  # noqa: ANN001
        self.store, self.loads = store, []

    def load(self, video_id: str) -> np.ndarray:
        self.loads.append(video_id)
        return self.store.load(video_id)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.store, name)


def test_without_a_video_field_each_video_is_read_once_for_its_snippet_count(corpus) -> None:  # noqa: ANN001
    store = CountingStore(open_store(corpus.features))
    ds = GroundingDataset(corpus.manifest, "train", store, max_len=12, fields=["query_tokens"], targets=SpanTargets())
    items = [ds[i] for _ in range(2) for i in range(len(ds))]  # two passes
    videos = [r["video_id"] for r in ds.rows]
    assert "video" not in items[0] and sorted(store.loads) == sorted(set(videos))  # once each, over two passes
    for item in items:  # the targets still span the video's snippets
        assert item["start_label"].shape == (min(12, corpus.n_snippets[item["video_id"]]),)


def test_collate_pads_and_masks(corpus) -> None:  # noqa: ANN001
    ds = GroundingDataset(corpus.manifest, "train", open_store(corpus.features), max_len=64)
    items = [ds[i] for i in range(len(ds))]
    batch = collate(items)
    lengths = [it["video"].shape[0] for it in items]
    b, length = len(items), max(lengths)
    assert batch["video"].shape == (b, length, corpus.video_dim) and batch["video"].dtype == torch.float32
    assert batch["video_mask"].sum(1).tolist() == lengths
    for key in ("narratives",):
        assert batch[key].shape == (b, length, corpus.text_dim)
    for key in ("narrative_mask", "start_label", "end_label", "highlight_label"):
        assert batch[key].shape == (b, length)
    assert not (batch["narrative_mask"] & ~batch["video_mask"]).any()
    assert batch["start_label"][~batch["video_mask"]].sum() == 0
    assert batch["query_mask"].sum(1).tolist() == [it["query_tokens"].shape[0] for it in items]
    assert batch["query_sentence"].shape == (b, corpus.text_dim)
    assert batch["clip_caption_spans"].shape[:2] == batch["clip_caption_mask"].shape == batch["clip_captions"].shape[:2]
    assert batch["event_spans"].shape == (b, 2, 2) and batch["event_mask"].all()
    assert batch["context"].shape == (b, 1, corpus.text_dim)
    assert batch["duration"].tolist() == pytest.approx([it["duration"] for it in items])
    assert batch["query_id"] == [it["query_id"] for it in items]


def test_errors_name_split_and_manifest(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    store = open_store(corpus.features)
    with pytest.raises(ValueError, match=r"no queries in split 'dev'; splits: test, train, val"):
        GroundingDataset(corpus.manifest, "dev", store)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_manifest(tmp_path / "absent.parquet")
    (tmp_path / "empty-cache").mkdir()
    with pytest.raises(ValueError, match=r"texts have no cached features for encoder 'random-test-encoder'"):
        GroundingDataset(corpus.manifest, "val", store, cache_dir=tmp_path / "empty-cache")
    with pytest.raises(FileNotFoundError, match=r"cache folder .*no-cache \(given\) does not exist; pass --cache-dir"):
        read_manifest(corpus.manifest, tmp_path / "no-cache")
