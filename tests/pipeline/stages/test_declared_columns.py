"""Every stage's declared ``reads`` / ``writes`` are what it really reads and writes.

Each stage runs as plain Python on a batch holding its declared ``reads`` plus an unrelated
column; the batch records which columns the stage looks up. Then: the columns it looked up are
exactly its ``reads`` (never one it does not declare, and it uses all it declares), and the
columns of its output that it set (new, or a new value object) are exactly its ``writes``.
Heavy parts are stand-ins named as fakes (an echo backend, fixed-vector encoders); the stages'
code is the real one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.keys import GenerationIdentity
from pipeline.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.features.text import EncodedText
from pipeline.frames import FrameSampler
from pipeline.kinds import PLANNERS, PlanSettings, parser_of
from pipeline.kinds.structured import structurers
from pipeline.prompts import load_prompt
from pipeline.stages.base import Stage
from pipeline.stages.decode import DecodeStage
from pipeline.stages.embed import EmbedStage
from pipeline.stages.generate import GenerateStage
from pipeline.stages.patches import WritePatchStage
from pipeline.stages.plan import PlanStage
from pipeline.stages.render import RenderStage
from pipeline.stages.visual import VisualFeatureStage, WriteVisualStage
from pipeline.stages.write import WriteStage
from tests.pipeline.priors_fixtures import demo_dir  # noqa: F401 - fixture

UNRELATED = "_unrelated"  # a column no stage may read


class RecordingBatch(dict):
    """A batch that records the columns looked up (``[]``, ``get``, ``in``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked_up: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.looked_up.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.looked_up.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.looked_up.add(str(key))
        return super().__contains__(key)


class FakeEchoBackend(Backend):
    """Fake: answers every request with a fixed caption (no model can run in a unit test here)."""

    name = "fake-echo"

    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        return [GenerationResult(r.key, "a red circle", n_prompt_tokens=3, n_output_tokens=3) for r in requests]


class FakeTextEncoder:
    """Fake: fixed-size vectors instead of MiniLM (loading it takes seconds)."""

    name, dim = "fake-text", 4

    def setup(self) -> None: ...

    def encode(self, texts: list[str]) -> list[EncodedText]:
        return [EncodedText(np.ones(4, np.float32), np.ones((len(t.split()), 4), np.float32)) for t in texts]


class FakeImageEncoder:
    """Fake: one constant vector per frame instead of a CLIP tower."""

    name, dim = "fake-image", 3

    def setup(self) -> None: ...

    def encode(self, frames: np.ndarray) -> np.ndarray:
        return np.ones((len(frames), 3), np.float32)


IDENT = GenerationIdentity("m", "r", "narrate_frame", 1, "s", FrameSampler().spec(), SamplingConfig().model_dump())


def _video_rows(path: str) -> dict:
    return {
        "video_id": ["demo_000"],
        "path": [path],
        "duration": [4.0],
        "video_sha256": ["h"],
        "queries": [json.dumps([{"query_id": "q", "text": "a circle", "text_sha256": sha256_text("a circle")}])],
    }


KINDS = ("narrative", "event")  # a plain-text kind and a structured one (parsed, retried)
TEMPLATES = {"narrative": load_prompt("narrate_frame"), "event": load_prompt("describe_events")}


def _planners() -> dict:
    return {k: PLANNERS.get(k)(IDENT, PlanSettings(interval=2.0, n_images=TEMPLATES[k].n_images)) for k in KINDS}


def _requests(path: str) -> dict:
    out = PlanStage(_planners(), {}).process_batch(_video_rows(path))
    return {**_video_rows(path), "requests": out["requests"]}


def _decoded(path: str) -> dict:
    return DecodeStage(FrameSampler()).process_batch(_requests(path))


def _rendered(path: str) -> dict:
    return RenderStage(TEMPLATES).process_batch(_decoded(path))


def _generate_stage() -> GenerateStage:
    return GenerateStage(
        lambda: FakeEchoBackend("m", SamplingConfig()),
        {k: t.json_schema for k, t in TEMPLATES.items()},
        structurers=structurers(TEMPLATES, {k: parser_of(k) for k in KINDS}),
    )


def _generated(path: str) -> dict:
    return _generate_stage().process_batch(_rendered(path))


def _embedded(path: str) -> dict:
    return EmbedStage(FakeTextEncoder).process_batch(_generated(path))


PROV = {
    k: {
        "model": "m",
        "model_revision": "r",
        "prompt_id": TEMPLATES[k].id,
        "prompt_version": 1,
        "prompt_sha256": "s",
        "sampling": "{}",
        "backend": "fake-echo",
    }
    for k in KINDS
}


def _cases(video: str, tmp: Path) -> dict[str, tuple[Stage, dict]]:
    visual_in = DecodeStage(FrameSampler()).process_batch(
        {
            **_video_rows(video),
            "requests": [
                json.dumps(
                    [
                        {
                            "kind": "visual",
                            "key": "demo_000",
                            "query_id": "",
                            "t_start": 0.0,
                            "t_end": 4.0,
                            "frame_times": [0.0, 1.0],
                            "prompt_vars": {},
                        }
                    ]
                )
            ],
        }
    )
    visual_out = VisualFeatureStage(FakeImageEncoder).process_batch(visual_in)
    return {
        "plan": (PlanStage(_planners(), {}), _video_rows(video)),
        "decode": (DecodeStage(FrameSampler()), _requests(video)),
        "render": (RenderStage(TEMPLATES), _decoded(video)),
        "generate": (_generate_stage(), _rendered(video)),
        "embed": (EmbedStage(FakeTextEncoder), _generated(video)),
        "write": (WriteStage(tmp / "cache", "fake-text", PROV), _embedded(video)),
        "visual": (VisualFeatureStage(FakeImageEncoder), visual_in),
        "write_visual": (WriteVisualStage(tmp / "visual", lambda folder, vid, feats: None), visual_out),
        "write_patches": (
            WritePatchStage(tmp / "patches", lambda folder, vid, patches, fids: None),
            {**visual_out, "prompt_vars": [json.dumps({"frame_ids": [0, 10]})]},
        ),
    }


STAGES = ["plan", "decode", "render", "generate", "embed", "write", "visual", "write_visual", "write_patches"]


@pytest.mark.parametrize("name", STAGES)
def test_declared_reads_and_writes_are_the_real_ones(name: str, demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    video = str(sorted((demo_dir / "videos").glob("*.mp4"))[0])
    stage, given = _cases(video, tmp_path)[name]
    assert stage.name == name
    given = {k: v for k, v in given.items() if k in stage.reads or k.startswith("_s_")}
    missing = set(stage.reads) - set(given)
    assert not missing, f"{name}: the upstream stage did not write {missing}, which {name} declares it reads"
    n = len(next(iter(given.values())))
    batch = RecordingBatch({**given, UNRELATED: [0] * n})
    out = stage.process_batch(batch)
    assert batch.looked_up - {UNRELATED} == set(stage.reads), f"{name} reads {sorted(batch.looked_up)}"
    set_by_stage = {
        k for k, v in out.items() if k not in given and k != UNRELATED or (k in given and v is not given[k])
    }
    assert set_by_stage == set(stage.writes), f"{name} writes {sorted(set_by_stage)}, declares {sorted(stage.writes)}"
