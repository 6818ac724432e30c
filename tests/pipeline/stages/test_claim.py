"""``ClaimingDecodeStage``: decodes only the units this run holds, reads and writes what decode
declares; ``SlimStage`` declares nothing it reads or sets."""

from __future__ import annotations

import json
from pathlib import Path

from groundwork.cache.claims import ClaimBook, Owner
from pipeline.frames import FrameSampler
from pipeline.stages.claim import ClaimingDecodeStage
from pipeline.stages.decode import DecodeStage
from pipeline.stages.write import SlimStage
from tests.pipeline.priors_fixtures import demo_dir  # noqa: F401 - fixture
from tests.pipeline.stages.test_declared_columns import UNRELATED, RecordingBatch


def _batch(video: str) -> dict:
    reqs = [
        {
            "kind": kind,
            "key": f"{kind}-{t}",
            "query_id": "",
            "t_start": t,
            "t_end": t,
            "frame_times": [t],
            "prompt_vars": {},
            "claim": f"{kind}-unit",
        }
        for kind in ("narrative", "clip_caption")
        for t in (0.0, 1.0)
    ]
    return {"video_id": ["demo_000"], "path": [video], "video_sha256": ["h"], "requests": [json.dumps(reqs)]}


def test_only_the_units_this_run_holds_are_decoded(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    video = str(sorted((demo_dir / "videos").glob("*.mp4"))[0])
    other = ClaimBook(tmp_path, Owner("other", "elsewhere/pid:[1]", 1, "1"))
    assert other.claim("clip_caption", "clip_caption-unit")
    mine = ClaimBook(tmp_path, Owner.this_process("mine"))
    stage = ClaimingDecodeStage(FrameSampler(), mine)
    batch = RecordingBatch({**_batch(video), UNRELATED: [0]})
    out = stage.process_batch(batch)
    assert out["key"] == ["narrative-0.0", "narrative-1.0"] and set(out["status"]) == {"ok"}
    assert mine.state("narrative", "narrative-unit") == "mine"
    # it looks up the video and its requests, then hands decode (tested on its own) the batch
    assert batch.looked_up - {UNRELATED} == {"video_id", "requests"} and stage.reads == DecodeStage.reads
    assert set(out) == set(stage.writes)
    unclaimed = json.loads(_batch(video)["requests"][0])
    for r in unclaimed:
        r["claim"] = ""  # no claim needed: the driver gave up waiting
    out = stage.process_batch({**_batch(video), "requests": [json.dumps(unclaimed)]})
    assert len(out["key"]) == 4


def test_slim_stage_declares_nothing() -> None:
    batch = RecordingBatch({"images": [1], "key": ["k"], UNRELATED: [0]})
    out = SlimStage().process_batch(batch)
    assert batch.looked_up == set() == set(SlimStage.reads) and SlimStage.writes == ()
    assert out == {"key": ["k"], UNRELATED: [0]}
