from __future__ import annotations

import numpy as np
import pytest

from grounding.config import DataConfig
from grounding.data.dataset import GroundingDataset
from grounding.data.features import open_store, pool_to_length
from grounding.data.snippet_extras import SnippetExtras, temporal_differences, temporal_endpoints
from groundwork.errors import InputError
from tests.grounding.fixtures import build_tiny_corpus


def test_differences_hand_case() -> None:
    x = np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 0.0]], np.float32)
    d = temporal_differences(x, 2.0)
    # into snippet i: 2 (x_i - x_{i-1}), 0 at the first; out of it: 2 (x_{i+1} - x_i), 0 at the last
    np.testing.assert_array_equal(d[:, :2], [[0, 0], [2, 0], [4, -2]])
    np.testing.assert_array_equal(d[:, 2:], [[2, 0], [4, -2], [0, 0]])
    assert d.dtype == np.float32


def test_differences_of_one_snippet_and_of_none() -> None:
    np.testing.assert_array_equal(temporal_differences(np.ones((1, 3), np.float32), 10.0), np.zeros((1, 6)))
    assert temporal_differences(np.zeros((0, 3), np.float32), 10.0).shape == (0, 6)


def test_order_is_features_endpoints_then_the_changes_of_both() -> None:
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    out = SnippetExtras(endpoints=True, differences=0.5)(x)
    assert out.shape == (4, (2 + 2) * 3)
    np.testing.assert_array_equal(out[:, :2], x)
    np.testing.assert_array_equal(out[:, 2:4], temporal_endpoints(4))
    np.testing.assert_array_equal(out[:, 4:], temporal_differences(out[:, :4], 0.5))
    # the endpoints' change: 0.5 * 1/4 at every inner snippet (the video's length), 0 at the ends
    np.testing.assert_allclose(out[:, [6, 7]], [[0, 0], [0.125, 0.125], [0.125, 0.125], [0.125, 0.125]])
    assert SnippetExtras()(x) is x  # nothing asked: the pooled array itself


@pytest.mark.parametrize("endpoints", [False, True])
@pytest.mark.parametrize("differences", [0.0, 10.0])
def test_width_and_store_width_invert(endpoints: bool, differences: float) -> None:
    extras = SnippetExtras(endpoints, differences)
    for store in (1, 7, 320):
        assert extras.width(store) == extras(np.zeros((3, store), np.float32)).shape[1]
        assert extras.store_width(extras.width(store)) == store


@pytest.mark.parametrize("video_dim", [3 * (5 + 2) + 1, 3 * 2, 2])
def test_an_impossible_video_dim_names_the_data_options(video_dim: int) -> None:
    with pytest.raises(InputError, match=rf"video_dim {video_dim} cannot come from .*data.temporal_differences"):
        SnippetExtras(endpoints=True, differences=1.0).store_width(video_dim)


def test_from_data_reads_a_config_and_an_older_checkpoint() -> None:
    assert SnippetExtras.from_data(DataConfig(temporal_endpoints=True, temporal_differences=10)) == SnippetExtras(
        True, 10.0
    )
    # a checkpoint's data dict written before temporal_differences existed reads as trained
    assert SnippetExtras.from_data({"temporal_endpoints": True}) == SnippetExtras(True, 0.0)
    assert SnippetExtras.from_data({}) == SnippetExtras()


def test_dataset_appends_the_extras_after_pooling(tmp_path) -> None:  # noqa: ANN001
    corpus = build_tiny_corpus(tmp_path / "c")
    store = open_store(corpus.features)
    extras = SnippetExtras(endpoints=True, differences=10.0)
    ds = GroundingDataset(corpus.manifest, "train", store, max_len=6, extras=extras)
    video = ds[0]["video"]
    pooled = pool_to_length(store.load(ds[0]["video_id"]), 6)
    assert video.shape == (pooled.shape[0], extras.width(store.dim or pooled.shape[1]))
    np.testing.assert_allclose(video, extras(pooled))
