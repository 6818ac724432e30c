from __future__ import annotations

import json

from pipeline.prompts import load_prompt
from pipeline.stages.render import RenderStage


def _batch(kinds: list[str], variables: list[dict], status: list[str] | None = None) -> dict:
    n = len(kinds)
    return {
        "key": [f"k{i}" for i in range(n)],
        "kind": kinds,
        "prompt_vars": [json.dumps(v) for v in variables],
        "status": status or ["ok"] * n,
        "error_type": [""] * n,
        "error": [""] * n,
    }


def test_renders_each_kind_with_only_the_declared_variables() -> None:
    stage = RenderStage({"narrative": load_prompt("narrate_frame"), "clip_caption": load_prompt("caption_clip")})
    superset = {"t": 2.0, "duration": 9.0, "clip_start": 2.0, "clip_end": 4.0, "video_id": "v"}
    out = stage.process_batch(_batch(["narrative", "clip_caption"], [superset, superset]))
    assert out["status"] == ["ok", "ok"]
    assert out["prompt"][0].startswith("This is one image frame sampled from a video")
    assert "from 2.0 s" in out["prompt"][1] and "to 4.0 s" in out["prompt"][1]


def test_a_row_missing_a_variable_becomes_an_error_row_naming_the_prompt() -> None:
    stage = RenderStage({"clip_caption": load_prompt("caption_clip")})
    out = stage.process_batch(
        _batch(["clip_caption", "clip_caption"], [{"clip_start": 0.0}, {"clip_start": 0.0, "clip_end": 2.0}])
    )
    assert out["status"] == ["error", "ok"]
    assert out["error_type"][0] == "render_error"
    assert "caption_clip" in out["error"][0] and "clip_end" in out["error"][0] and "k0" in out["error"][0]


def test_rows_already_failed_pass_through_untouched() -> None:
    stage = RenderStage({"narrative": load_prompt("narrate_frame")})
    batch = _batch(["narrative"], [{}], status=["error"])
    batch["error_type"], batch["error"] = ["missing_video"], ["decode: gone"]
    out = stage.process_batch(batch)
    assert (out["status"], out["error_type"], out["prompt"]) == (["error"], ["missing_video"], [""])
