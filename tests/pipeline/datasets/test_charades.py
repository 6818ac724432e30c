"""Charades-STA / -CD / -CG adapters on the real files in ../shared/data."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.datasets.base import Annotations
from tests.pipeline.datasets.real import load_real

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def sta() -> Annotations:
    return load_real("charades_sta")


def kept_per_split(ann: Annotations) -> Counter:
    return Counter(q.split for q in ann.queries)


def test_sta_reads_every_line(sta: Annotations) -> None:
    assert sta.queries_read == {"train": 12408, "test": 3720}


def test_sta_policy_counts_match_the_known_defects(sta: Annotations) -> None:
    # The data README: train has 4 reversed spans, 3 starts and 1,805 ends past the duration;
    # test has 562 ends past it. Nothing else is wrong with these files.
    assert sta.policies.as_dict() == {
        "train": {"swapped_reversed": 4, "clamped_end_to_duration": 1805, "dropped_start_past_duration": 3},
        "test": {"clamped_end_to_duration": 562},
    }
    assert kept_per_split(sta) == {"train": 12408 - 3, "test": 3720}


def test_sta_reversed_span_is_swapped(sta: Annotations) -> None:
    # charades_sta_train.txt: "IOL8Q 20.9 12.0##a person is throwing a bag out of the room."
    swapped = [q for q in sta.queries if q.video_id == "IOL8Q" and q.text.startswith("a person is throwing a bag")]
    assert [q.windows for q in swapped] == [((12.0, 20.9),)]
    assert sta.videos["IOL8Q"].duration == pytest.approx(30.38)


def test_sta_query_ids_are_split_and_line(sta: Annotations) -> None:
    first = sta.queries[0]
    assert (first.query_id, first.video_id, first.windows, first.text) == (
        "train:1",
        "AO8RW",
        ((0.0, 6.9),),
        "a person is putting a book on a shelf.",
    )


def test_cd_query_counts() -> None:
    ann = load_real("charades_cd")
    expected = {"train": 11071, "val": 859, "test_iid": 823, "test_ood": 3375}
    assert ann.queries_read == expected
    dropped = ann.policies.counts["test_ood"]["dropped_start_past_duration"]
    assert kept_per_split(ann) == {**expected, "test_ood": 3375 - dropped}


def test_cg_query_counts_and_novelties() -> None:
    ann = load_real("charades_cg")
    expected = {"train": 8281, "test_trivial": 3096, "novel_composition": 3442, "novel_word": 695}
    assert ann.queries_read == expected
    assert kept_per_split(ann) == expected
    novel_word = [q for q in ann.queries if q.split == "novel_word"]
    novel_comp = [q for q in ann.queries if q.split == "novel_composition"]
    assert all("novel_words" in q.extra for q in novel_word)
    assert all("novel_compositions" in q.extra for q in novel_comp)
    # novel_word.json, video 0QA8P: "the person undressed from all clothes." with news [{"DET": ["all"]}]
    q = next(q for q in novel_word if q.video_id == "0QA8P")
    assert q.extra["novel_words"] == {"DET": ["all"]}
