from __future__ import annotations

from collections import Counter

import pytest

from grounding.data.samplers import VideoBatchSampler


def _ids() -> list[str]:
    counts = {"a": 3, "b": 1, "c": 2, "d": 5, "e": 1, "f": 2, "g": 4}
    return [v for v, n in counts.items() for _ in range(n)]


def test_whole_videos_every_query_once_and_seeded() -> None:
    ids = _ids()
    sampler = VideoBatchSampler(ids, videos_per_batch=3, seed=0)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(ids)))  # every query exactly once
    for k, b in enumerate(batches):
        videos = {ids[i] for i in b}
        assert 2 <= len(videos) <= (3 if k < len(batches) - 1 else 4)  # a lone last video joins the last batch
        for v in videos:  # a video comes with all its queries
            assert Counter(ids[i] for i in b)[v] == ids.count(v)
    assert len(sampler) == len(batches)
    assert list(VideoBatchSampler(ids, 3, seed=0)) == batches
    assert list(VideoBatchSampler(ids, 3, seed=1)) != batches  # another epoch, another order


def test_long_videos_are_cut_into_chunks_of_distinct_videos() -> None:
    ids = ["a"] * 7 + ["b"] * 2 + ["c"] * 3
    batches = list(VideoBatchSampler(ids, videos_per_batch=2, seed=3, max_queries_per_video=3))
    assert sorted(i for b in batches for i in b) == list(range(len(ids)))
    for b in batches:
        per_video = Counter(ids[i] for i in b)
        assert max(per_video.values()) <= 3 or len(per_video) == 1
    assert all(len(b) <= 6 for b in batches[:-1])


def test_a_lone_last_video_joins_the_batch_before() -> None:
    ids = ["a", "b", "c"]
    batches = list(VideoBatchSampler(ids, videos_per_batch=2, seed=0))
    assert len(batches) == 1 and sorted(batches[0]) == [0, 1, 2]


def test_bad_sizes_are_errors() -> None:
    with pytest.raises(ValueError, match="videos_per_batch"):
        VideoBatchSampler(["a"], 0, seed=0)
    with pytest.raises(ValueError, match="max_queries_per_video"):
        VideoBatchSampler(["a"], 1, seed=0, max_queries_per_video=0)
