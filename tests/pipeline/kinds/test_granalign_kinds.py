"""GranAlign's prior kinds without the graph: planning rounds, the rewrite-pairs parser and its
entities / actions, the key-frame count, which frame scorer a visual encoder gets, and the CLIP
image-text scorer on a real demo video with a tiny random-weight CLIP built here (vision and text
towers; the demo's own tiny CLIP is a vision tower only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from groundwork.cache.keys import GenerationIdentity
from groundwork.errors import InputError
from pipeline.features.frame_selection import (
    CaptionSimilarity,
    ClipImageText,
    frame_scorer,
    has_text_tower,
    key_frame_count,
)
from pipeline.frames import FrameSampler
from pipeline.kinds import PLANNERS
from pipeline.kinds.base import PlanSettings, VideoInput
from pipeline.kinds.context import planning_rounds
from pipeline.kinds.query_rewrite_pairs import focus_of, parse_rewrite_pairs
from pipeline.prompts import load_prompt
from tests.pipeline.priors_fixtures import demo_dir, tiny_clip  # noqa: F401

PAIRS = {
    "pairs": [{"simplified": f"s{i}", "detailed": f"d{i}"} for i in range(3)],
    "entities": ["the red circle", " "],
    "actions": ["moves to the left"],
}


class _Planner:
    """Fake: a planner that only names what it reads (made for every split)."""

    splits = None

    def __init__(self, *deps: str) -> None:
        self.depends_on = deps

    def settle(self, kinds: object) -> None:
        pass


def _planners(*kinds: str, settings: PlanSettings | None = None) -> dict:
    settings = settings or PlanSettings()
    ident = GenerationIdentity("model", "rev", "prompt", 1, "sha", {}, {})
    return {k: PLANNERS.get(k)(ident, settings) for k in kinds}


def test_rounds_put_each_kind_after_what_it_reads() -> None:
    planners = _planners("key_frame_caption", "narrative", "key_frame", "query_rewrite_pairs")
    assert planning_rounds(planners) == [["narrative", "query_rewrite_pairs"], ["key_frame"], ["key_frame_caption"]]
    own = _planners("narrative", "frame_caption", "key_frame")  # auto: GranAlign's own frame captions when made
    assert planning_rounds(own) == [["narrative", "frame_caption"], ["key_frame"]]
    assert own["key_frame"].depends_on == ("frame_caption",)
    named = _planners("narrative", "frame_caption", "key_frame", settings=PlanSettings(key_frame_source="narrative"))
    assert planning_rounds(named) == [["narrative", "frame_caption"], ["key_frame"]]
    assert named["key_frame"].depends_on == ("narrative",)
    with pytest.raises(InputError, match=r"'key_frame_caption' reads 'key_frame', 'query_rewrite_pairs': add them"):
        planning_rounds(_planners("narrative", "key_frame_caption"))
    with pytest.raises(InputError, match=r"'key_frame' reads 'frame_caption'"):
        planning_rounds(_planners("narrative", "key_frame", settings=PlanSettings(key_frame_source="frame_caption")))
    with pytest.raises(InputError, match="cycle"):
        planning_rounds({"a": _Planner("b"), "b": _Planner("a")})  # type: ignore[dict-item]


def test_rewrite_pairs_expand_in_role_order_and_keep_the_focus() -> None:
    template = load_prompt("rewrite_query_pairs")
    outcome = parse_rewrite_pairs(template, "```json\n" + json.dumps(PAIRS) + "\n```", 0.0, 0.0)
    assert outcome.status == "ok" and [i.text for i in outcome.items] == ["s0", "d0", "s1", "d1", "s2", "d2"]
    focus = focus_of(json.dumps(PAIRS))
    assert (focus.entities, focus.actions) == (("the red circle",), ("moves to the left",))
    assert (focus.entities_text, focus_of('{"pairs": [], "entities": [], "actions": []}').actions_text) == (
        "the red circle",
        "none named",
    )
    two = {**PAIRS, "pairs": PAIRS["pairs"][:2]}
    bad = parse_rewrite_pairs(template, json.dumps(two), 0.0, 0.0)
    assert bad.status == "error" and bad.error_type == "schema_violation"
    assert parse_rewrite_pairs(template, "not json", 0.0, 0.0).error_type == "invalid_json"


def test_key_frame_count_is_the_top_percent_within_bounds() -> None:
    s = PlanSettings()  # 20 %, at least 3, at most 32
    assert [key_frame_count(n, s) for n in (2, 10, 24, 75, 300)] == [2, 3, 5, 15, 32]
    assert key_frame_count(10, PlanSettings(key_frame_percent=50, key_frame_min=1, key_frame_max=4)) == 4


def _tiny_dual_clip(out: Path) -> Path:
    """A random CLIPModel (vision + text towers, 1 layer each), the MiniLM tokenizer, a PIL image
    processor: a real dual encoder at toy size."""
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPConfig,
        CLIPModel,
        CLIPTextConfig,
        CLIPVisionConfig,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from groundwork.minilm import minilm_dir

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    text = CLIPTextConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=128,
        projection_dim=16,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # pooled at [SEP]: the whole (causal) text
    vision = CLIPVisionConfig(
        image_size=64,
        patch_size=16,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        projection_dim=16,
    )
    torch.manual_seed(0)
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)
    CLIPModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(out)
    return out


class _Context:
    """The attributes ``frame_scorer`` reads of a ``PlanContext``."""

    def __init__(self, visual_encoder: Path | None) -> None:
        self.visual_encoder, self.sampler, self.device, self.encoder_name = visual_encoder, FrameSampler(), "cpu", "m"
        self._shared: dict = {}

    def shared(self, name: str, make):
        return self._shared.setdefault(name, make())


@pytest.mark.slow
def test_clip_scores_frames_when_the_visual_encoder_has_a_text_tower(
    demo_dir: Path,
    tiny_clip: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    dual = _tiny_dual_clip(tmp_path / "dual-clip")
    assert has_text_tower(dual) and not has_text_tower(tiny_clip) and not has_text_tower(None)
    assert isinstance(frame_scorer(_Context(tiny_clip)), CaptionSimilarity)  # the fallback: a vision tower only
    scorer = frame_scorer(_Context(dual))
    assert isinstance(scorer, ClipImageText) and scorer.spec()["method"] == "clip-image-text"
    video = VideoInput("demo_000", str(demo_dir / "videos" / "demo_000.mp4"), 24.0, "sha")
    scores = scorer.scores(video, "the red circle moves to the left", [0.0, 6.0, 12.0, 18.0], [])
    again = scorer.scores(video, "a blue square appears", [0.0, 6.0, 12.0, 18.0], [])  # image embeddings reused
    assert scores.shape == again.shape == (4,) and np.isfinite(scores).all() and np.abs(scores).max() <= 1.0 + 1e-5
    assert not np.allclose(scores, again)
    with pytest.raises(ValueError, match="demo_404"):
        scorer.scores(VideoInput("demo_404", str(tmp_path / "none.mp4"), 5.0, ""), "a query", [0.0], [])
