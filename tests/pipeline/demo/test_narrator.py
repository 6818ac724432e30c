"""The ``shapes`` narrator on frames drawn by the tests (never made by the generator): what it
says about each shape, colour and place, about two frames that differ, about an empty frame;
its JSON answers against the templates' schemas; its noise; its refusals."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from groundwork.errors import InputError
from pipeline.backends import BACKENDS
from pipeline.backends.base import GenerationRequest, SamplingConfig
from pipeline.demo import narrator
from pipeline.demo.narrator import HANDLERS, VERSION, ShapesNarrator
from pipeline.demo.shapes import COLOURS, KINDS, SHAPE, SLOTS, SMALL, blank, draw, to_uint8
from pipeline.demo.videos import encode_video
from pipeline.frames import FrameSampler
from pipeline.kinds import PLANNERS
from pipeline.prompts import PromptTemplate, load_prompt

SLOT_TEXT = ("on the left", "in the middle", "on the right")


def frame(*shapes: tuple) -> np.ndarray:
    """Shapes as (kind, colour, x, y[, side]), x and y in pixels."""
    image = blank()
    for kind, colour, x, y, *side in shapes:
        draw(image, kind, x, y, side[0] if side else SHAPE, COLOURS[colour] if isinstance(colour, str) else colour)
    return to_uint8(image)


@functools.cache
def template(prompt_id: str) -> PromptTemplate:
    return load_prompt(prompt_id)


def request(prompt_id: str, images: list[np.ndarray], key: str = "k", **variables: object) -> GenerationRequest:
    """A request as the graph makes it: the prompt rendered from the template's variables, the
    request carrying the planner's superset (frame times, query, ...)."""
    tpl = template(prompt_id)
    given = {**tpl.variables, **variables}
    return GenerationRequest(
        key=key,
        prompt=tpl.render(**{k: given[k] for k in tpl.variables}),
        images=images,
        json_schema=tpl.json_schema,
        prompt_id=prompt_id,
        variables=given,
    )


def ask(
    prompt_id: str,
    images: list[np.ndarray],
    key: str = "k",
    narrator: ShapesNarrator | None = None,
    **variables: object,
) -> str:
    result = (narrator or ShapesNarrator("shapes", SamplingConfig())).generate(
        [request(prompt_id, images, key, **variables)]
    )[0]
    assert result.status == "ok", result.error
    return result.text


def test_registered_as_a_backend_with_a_handler_per_shipped_prompt() -> None:
    assert BACKENDS.get("shapes") is ShapesNarrator
    shipped = {p.stem for p in Path(load_prompt("narrate_frame").source).parent.glob("*.yaml")}
    computed = {PLANNERS.get(k).prompt for k in PLANNERS.names() if PLANNERS.get(k).computed}  # no model asked
    missing = shipped - computed - set(HANDLERS.names())
    assert not missing, f"prompts without a shapes-narrator handler (add one with @handles(id)): {sorted(missing)}"
    assert "stand-in for an MLLM that works only on the generated demo videos" in (narrator.__doc__ or "")
    assert "stand-in for an MLLM" in (ShapesNarrator.__doc__ or "")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("colour", list(COLOURS))
def test_each_kind_colour_and_slot_is_named(kind: str, colour: str) -> None:
    for slot, x in enumerate(SLOTS):
        text = ask("narrate_frame", [frame((kind, colour, x, 64))])
        assert text.startswith(f"A {colour} {kind} {SLOT_TEXT[slot]}, on a dark background."), text
        assert "only shape" in text


def test_two_shapes_in_two_rows_get_top_and_bottom_and_small_is_said() -> None:
    small_square = ("square", "blue", SLOTS[1], 92, SHAPE * SMALL)
    text = ask("narrate_frame", [frame(("circle", "red", SLOTS[0], 36), small_square)])
    assert text.startswith("A red circle on the left at the top and a small blue square in the middle at the bottom")
    assert "There are 2 shapes" in text


def test_an_empty_frame_is_said_to_be_empty() -> None:
    text = ask("narrate_frame", [frame()])
    assert "No shapes" in text
    assert json.loads(ask("describe_events", [frame()] * 3, timestamps=[0.0, 5.0, 10.0], duration=12.0)) == [
        {"start": 0.0, "end": 12.0, "description": "Nothing changes: the frame stays empty."}
    ]


def test_shapes_survive_the_codec(tmp_path: Path) -> None:
    """Drawn, encoded to H.264 and decoded: still read right (blurred edges, chroma subsampling)."""
    drawn = [
        frame(
            (kind, colour, SLOTS[k % 3], 36),
            (KINDS[(k + 1) % 3], "yellow" if colour != "yellow" else "red", SLOTS[(k + 1) % 3], 92, SHAPE * SMALL),
        )
        for k, (kind, colour) in enumerate((k, c) for k in KINDS for c in COLOURS)
    ]
    encode_video(tmp_path / "drawn.mp4", drawn)
    got = FrameSampler(interval=0.1).sample(tmp_path / "drawn.mp4")
    assert got.ok, got.error
    for original, decoded in zip(drawn, got.frames, strict=True):
        assert ask("narrate_frame", [decoded]) == ask("narrate_frame", [original])


def _two(before: np.ndarray, after: np.ndarray) -> list[dict]:
    return json.loads(
        ask("describe_events", [before, before, after, after], timestamps=[0.0, 2.0, 6.0, 8.0], duration=10.0)
    )


def test_changes_between_frames_become_events_with_their_span() -> None:
    red_left = ("circle", "red", SLOTS[0], 64)
    cases = {
        "The red circle moves to the right.": frame(("circle", "red", SLOTS[1], 64)),
        "The red circle turns green.": frame(("circle", "green", SLOTS[0], 64)),
        "The red circle shrinks.": frame(("circle", "red", SLOTS[0], 64, SHAPE * SMALL)),
        "The red circle disappears.": frame(),
    }
    for description, after in cases.items():
        assert _two(frame(red_left), after) == [{"start": 2.0, "end": 6.0, "description": description}]
    appears = {"start": 2.0, "end": 6.0, "description": "A red circle appears on the left."}
    assert _two(frame(), frame(red_left)) == [appears]
    small = ("square", "blue", SLOTS[2], 64, SHAPE * SMALL)
    grown = _two(frame(small), frame(("square", "blue", SLOTS[2], 64)))
    assert grown[0]["description"] == "The small blue square grows."


def test_a_gradual_move_seen_on_many_frames_is_one_event_inside_the_frames() -> None:
    xs = [SLOTS[2]] * 3 + list(np.linspace(SLOTS[2], SLOTS[1], 6)[1:-1]) + [SLOTS[1]] * 3
    frames = [frame(("triangle", "yellow", x, 36), ("square", "blue", SLOTS[0], 92)) for x in xs]
    times = [float(t) for t in range(len(frames))]
    events = json.loads(ask("describe_events", frames, timestamps=times, duration=float(len(frames))))
    assert events == [{"start": 2.5, "end": 6.5, "description": "The yellow triangle moves to the left."}]
    load_prompt("describe_events").parse_output(json.dumps(events))  # valid against the template's schema


def test_clip_caption_says_what_changes_or_what_is_there() -> None:
    moving = [frame(("circle", "red", x, 64)) for x in (SLOTS[2], SLOTS[1])]
    assert ask("caption_clip", moving, timestamps=[0.0, 2.0]) == "In the clip, the red circle moves to the left."
    still = ask("caption_clip", [frame(("square", "green", SLOTS[1], 64))], timestamps=[1.0])
    assert still == "In the clip, a green square is in the middle."
    mid_turn = frame(("square", (np.array(COLOURS["red"]) + np.array(COLOURS["blue"])) / 2, SLOTS[1], 64))
    assert "changing colour between" in ask("caption_clip", [mid_turn], timestamps=[1.0])


def test_rewrites_have_three_granularities_by_rule() -> None:
    answer = load_prompt("rewrite_query").parse_output(
        ask("rewrite_query", [], query="a scarlet disc slides leftwards")
    )
    assert answer == {
        "coarse": "a shape moves to the left",
        "original": "the red circle moves to the left",
        "fine": "the red circle, a round, red shape on the dark background, slides sideways until it "
        "is further to the left of the frame",
    }
    turned = json.loads(ask("rewrite_query", [], query="the box at the bottom changes from lime to golden"))
    assert turned["original"] == "the green square at the bottom turns yellow"
    assert turned["coarse"] == "a shape changes colour"
    odd = json.loads(ask("rewrite_query", [], query="a person opens the fridge"))
    assert odd["original"] == "a person opens the fridge"  # nothing it can read: kept as it is


def test_caption_for_query_says_whether_the_queried_shape_is_there() -> None:
    image = frame(("circle", "red", SLOTS[0], 36), ("square", "blue", SLOTS[2], 92))
    there = ask("caption_for_query", [image], query="the scarlet disc moves right")
    assert there.startswith("A red circle is visible on the left at the top, as in the search.")
    assert "blue square" in there
    absent = ask("caption_for_query", [image], query="a green triangle appears")
    assert absent.startswith("No green triangle is visible in this frame.")


def test_unknown_prompt_id_is_an_error_row_naming_it() -> None:
    request = GenerationRequest(key="k", prompt="hello", images=[frame()], prompt_id="summarise_video")
    result = ShapesNarrator("shapes", SamplingConfig()).generate([request])[0]
    assert result.status == "error" and "summarise_video" in result.error and "narrate_frame" in result.error


def test_events_need_as_many_timestamps_as_frames() -> None:
    request = GenerationRequest(
        key="k",
        prompt="",
        images=[frame()] * 2,
        prompt_id="describe_events",
        variables={"timestamps": [0.0], "duration": 3.0},
    )
    result = ShapesNarrator("shapes", SamplingConfig()).generate([request])[0]
    assert result.status == "error" and "2 frames but 1 timestamps" in result.error


def _scenes(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        frame(
            *[
                (KINDS[rng.integers(3)], list(COLOURS)[rng.integers(4)], SLOTS[rng.integers(3)], y)
                for y in (36, 92)[: 1 + int(rng.integers(2))]
            ]
        )
        for _ in range(n)
    ]


def test_noise_zero_is_the_clean_answer_and_noise_r_changes_about_r_of_them() -> None:
    scenes = _scenes(60)
    clean = ShapesNarrator("shapes", SamplingConfig())
    zero = ShapesNarrator("shapes", SamplingConfig(), noise=0.0, seed=3)
    noisy = ShapesNarrator("shapes", SamplingConfig(), noise=0.25, seed=3)
    requests = [request("narrate_frame", [image], f"key-{k}") for k, image in enumerate(scenes * 8)]  # 480
    base = [r.text for r in clean.generate(requests)]
    assert [r.text for r in zero.generate(requests)] == base
    wrong = [r.text for r in noisy.generate(requests)]
    assert [r.text for r in noisy.generate(requests)] == wrong  # same key, same answer
    changed = sum(w != b for w, b in zip(wrong, base, strict=True))
    assert abs(changed / len(requests) - 0.25) < 0.06, f"{changed} of {len(requests)} answers changed at noise 0.25"


def test_noise_misses_or_shifts_events_and_bends_rewrites() -> None:
    before, after = frame(("circle", "red", SLOTS[0], 36)), frame(("circle", "red", SLOTS[1], 36))
    always = ShapesNarrator("shapes", SamplingConfig(), noise=1.0)
    for k in range(20):
        clean = ask("describe_events", [before, after], key=str(k), timestamps=[1.0, 4.0], duration=6.0)
        wrong = ask(
            "describe_events", [before, after], key=str(k), narrator=always, timestamps=[1.0, 4.0], duration=6.0
        )
        assert wrong != clean
        load_prompt("describe_events").parse_output(wrong)
        clean = ask("rewrite_query", [], key=str(k), query="the red circle moves left")
        assert ask("rewrite_query", [], key=str(k), narrator=always, query="the red circle moves left") != clean


def test_key_revision_holds_version_noise_and_seed_and_needs_no_model_folder() -> None:
    revision = ShapesNarrator.key_revision("shapes", {})
    assert revision == f"shapes-narrator-v{VERSION}:noise=0.0:seed=0"
    assert (
        ShapesNarrator.key_revision("shapes", {"noise": 0.05, "seed": 2})
        == f"shapes-narrator-v{VERSION}:noise=0.05:seed=2"
    )
    assert ShapesNarrator.key_revision("anything", {"noise": "0.05"}) != revision
    with pytest.raises(InputError, match="noise=1.5"):
        ShapesNarrator.key_revision("shapes", {"noise": 1.5})
    with pytest.raises(InputError, match="temperature"):
        ShapesNarrator.key_revision("shapes", {"temperature": 0.3})


def test_check_run_refuses_real_datasets() -> None:
    ShapesNarrator.check_run("demo")
    with pytest.raises(InputError, match="stand-in for an MLLM that only works on the generated demo videos"):
        ShapesNarrator.check_run("charades_sta")
