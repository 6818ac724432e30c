"""``pipeline.prepare``: per-kind split limits (``PriorsConfig.kind_splits``), from the command
line to the planners."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundwork.cache.keys import GenerationIdentity
from groundwork.errors import InputError
from groundwork.settings import parse_flags
from pipeline.config import PriorsConfig
from pipeline.datasets.base import Annotations, PolicyReport, Query, Video
from pipeline.kinds import PLANNERS, PlanSettings
from pipeline.kinds.base import QueryInput, VideoInput
from pipeline.prepare import limit_kinds

IDENT = GenerationIdentity("m", "r", "p", 1, "s" * 64, {}, {})
BASE = {"dataset": "demo", "annotations": Path("d"), "model": "m", "backend": "shapes"}


def test_kind_splits_from_flags_and_its_checks() -> None:
    flags = parse_flags(["--kind-splits", "key_frame=val, test", "--kind-splits", "frame_caption=test"], PriorsConfig)
    config = PriorsConfig(**BASE, kinds=["frame_caption", "key_frame"], **flags)
    assert config.kind_splits == {"key_frame": ["val", "test"], "frame_caption": ["test"]}
    with pytest.raises(ValueError, match=r"'event' is not a kind of this run \(kinds: narrative\)"):
        PriorsConfig(**BASE, kinds=["narrative"], kind_splits={"event": "train"})
    with pytest.raises(ValueError, match="'narrative' names no split"):
        PriorsConfig(**BASE, kinds=["narrative"], kind_splits={"narrative": ","})


def _annotations() -> Annotations:
    queries = [Query(q, v, s, q, ((0.0, 1.0),), 4.0) for q, v, s in [("a", "v0", "train"), ("b", "v1", "test")]]
    return Annotations("demo", {v: Video(v, 4.0) for v in ("v0", "v1")}, queries, PolicyReport())


def test_limit_kinds_scopes_the_named_planners_and_names_unknown_splits() -> None:
    planners = {k: PLANNERS.get(k)(IDENT, PlanSettings()) for k in ("narrative", "query_rewrite_pairs")}
    limit_kinds(planners, _annotations(), {"query_rewrite_pairs": ["test"]})
    video = VideoInput("v1", "", 4.0, "", (QueryInput("b", "b", "h"), QueryInput("a", "a", "h")))
    assert planners["narrative"].scoped(video) is video
    assert planners["query_rewrite_pairs"].scoped(video).queries == (QueryInput("b", "b", "h"),)
    assert planners["query_rewrite_pairs"].scoped(VideoInput("v0", "", 4.0, "", (QueryInput("a", "a", "h"),))) is None
    with pytest.raises(InputError, match=r"narrative=val: no split val \(the annotations have test, train\)"):
        limit_kinds(planners, _annotations(), {"narrative": ["val"]})
