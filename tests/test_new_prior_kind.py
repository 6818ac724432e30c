"""A new prior kind is a planner, a prompt file and (for JSON answers) a parser, nothing else:
the test-only kind ``toy_note`` (``tests/pipeline/kinds/toy_note.py``) goes from its planner
through the real Ray graph (a fake backend answers) into the cache and the manifest's
``toy_note_keys`` column, and from there into a batch field registered by this test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grounding.data.collate import collate
from grounding.data.dataset import GroundingDataset
from grounding.data.fields import FIELDS, BatchField, register_field
from groundwork.cache.manifest import read_manifest
from groundwork.cache.store import CacheStore
from pipeline.backends.base import BACKENDS
from pipeline.graph import run_priors
from tests.pipeline.fake_backends import FakeScriptedJSONBackend
from tests.pipeline.kinds.toy_note import KIND, PROMPTS
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: F401

FAKE = "fake-scripted-json"
if FAKE not in BACKENDS:
    BACKENDS.register(FAKE)(FakeScriptedJSONBackend)
if "toy_notes" not in FIELDS:
    register_field(BatchField("toy_notes", KIND, "video", "set", mask="toy_note_mask", spans="toy_note_spans"))


@pytest.mark.slow
def test_a_test_only_prior_kind_reaches_the_manifest_and_a_batch(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    model = tmp_path / "fake-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": FAKE}))
    config = priors_config(
        demo_dir,
        model,
        tmp_path / "cache",
        tmp_path / "m.parquet",
        limit=2,
        backend=FAKE,
        kinds=[KIND, "narrative"],
        prompts_dir=PROMPTS,
    )
    report = run_priors(config)
    assert report.errors == {} and report.model_calls > 2

    info = read_manifest(tmp_path / "m.parquet")
    assert KIND in info.kinds and "toy_note_keys" in info.rows[0]
    rows = CacheStore(tmp_path / "cache").priors(KIND).to_pylist()
    assert len(rows) == 2 and {r["prompt_id"] for r in rows} == {"toy_note"} and all(r["status"] == "ok" for r in rows)
    for row in info.rows:
        assert len(info.keys(row, KIND)) == 1

    split = info.rows[0]["split"]
    ds = GroundingDataset(info, split, _NoVideos(), fields=["toy_notes", "query_sentence"])
    items = [ds[i] for i in range(len(ds))]
    batch = collate(items)
    assert batch["toy_notes"].shape[:2] == (len(items), 1) and batch["toy_note_mask"].all()
    assert batch["toy_note_spans"][0, 0, 1] == pytest.approx(items[0]["duration"])


class _NoVideos:
    """Fake: a feature store with no videos, for a batch that reads none (no video field asked)."""

    name, dim = "none", None

    def load(self, video_id: str):  # noqa: ANN201
        raise AssertionError(f"no video features should be read, asked for {video_id}")

    def __contains__(self, video_id: object) -> bool:
        return False
