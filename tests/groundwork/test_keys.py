from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from groundwork.cache.keys import GenerationIdentity, KeyMaker, VideoHashes, prior_key, prior_key_spec

IDENT = GenerationIdentity(
    model="m",
    model_revision="r1",
    prompt_id="narrate_frame",
    prompt_version=1,
    prompt_sha256="p" * 64,
    sampler={"resize": {"mode": "none"}},
    sampling={"temperature": 0.0},
)
INPUTS = {"video_sha256": "a" * 64, "video_id": "v1", "t_start": 3.0, "t_end": 3.0, "frame_times": [3.0]}


def test_key_is_stable_and_canonical() -> None:
    assert prior_key("narrative", IDENT, **INPUTS) == prior_key("narrative", IDENT, **dict(reversed(INPUTS.items())))
    assert len(prior_key("narrative", IDENT, **INPUTS)) == 64


@pytest.mark.parametrize(
    "field,value",
    [
        ("model", "m2"),
        ("model_revision", "r2"),
        ("prompt_id", "other"),
        ("prompt_version", 2),
        ("prompt_sha256", "q" * 64),
        ("sampler", {"resize": {"mode": "fixed"}}),
        ("sampling", {"temperature": 0.7}),
    ],
)
def test_every_identity_field_changes_the_key(field: str, value: object) -> None:
    assert prior_key("narrative", replace(IDENT, **{field: value}), **INPUTS) != prior_key("narrative", IDENT, **INPUTS)


@pytest.mark.parametrize(
    "field,value", [("video_sha256", "b" * 64), ("t_start", 4.0), ("t_end", 5.0), ("frame_times", [3.5])]
)
def test_every_input_changes_the_key(field: str, value: object) -> None:
    assert prior_key("narrative", IDENT, **{**INPUTS, field: value}) != prior_key("narrative", IDENT, **INPUTS)


def test_kind_and_query_change_the_key() -> None:
    base = prior_key("narrative", IDENT, **INPUTS)
    assert prior_key("clip_caption", IDENT, **INPUTS) != base
    assert prior_key("narrative", IDENT, **INPUTS, query_sha256="q") != base


def test_content_addressed_not_id_addressed() -> None:
    """Same bytes under another id: same key. A missing file is keyed by its id."""
    assert prior_key("narrative", IDENT, **{**INPUTS, "video_id": "v2"}) == prior_key("narrative", IDENT, **INPUTS)
    missing = prior_key_spec("narrative", IDENT, **{**INPUTS, "video_sha256": ""})
    assert missing["video"] == "missing:v1"


def test_video_hashes_memoised_by_size_and_mtime(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"abc")
    hashes = VideoHashes(tmp_path / "memo.json")
    first = hashes(video)
    hashes.save()
    assert VideoHashes(tmp_path / "memo.json")._memo  # persisted
    video.write_bytes(b"abcd")
    os.utime(video, ns=(1, 1))
    assert hashes(video) != first
    assert hashes(None) == "" and hashes(tmp_path / "absent.mp4") == ""


@pytest.mark.parametrize(
    "inputs",
    [
        INPUTS,
        {**INPUTS, "frame_times": [0.1234567, 2.0, 1e-07], "t_end": 12.5},
        {**INPUTS, "video_sha256": "", "video_id": 'odd "id" é', "query_sha256": "q"},
    ],
)
def test_key_maker_equals_the_canonical_json_key(inputs: dict) -> None:
    assert KeyMaker("clip_caption", IDENT)(**inputs) == prior_key("clip_caption", IDENT, **inputs)
