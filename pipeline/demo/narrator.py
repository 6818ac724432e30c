"""``shapes``: a stand-in for an MLLM that works only on the generated demo videos.

It reads the pixels of the frames it is given with classical computer vision
(``pipeline.demo.vision``: colour segmentation, connected components, fill ratios, frame-to-frame
comparison) and answers every prompt the pipeline has in plain words (``pipeline.demo.language``),
so the demo's narratives, clip captions, events and rewrites carry real information about the
video, as a good captioner's would. It never reads the generator's scripts or annotations: only
pixels, frame times and the prompt's text and variables. On any other data it would be
meaningless, so ``check_run`` refuses every dataset but the demo's.

Answers come from one handler per prompt id (``HANDLERS``; add one with ``@handles("id")``: a
function ``(request, noise) -> text``); an unknown prompt id is an error row naming it. It goes
through the same graph, cache, keys and provenance as any backend; its cache revision
(``key_revision``) is its own version plus the noise settings, so it needs no model folder.

Options (``--backend-options noise=0.05 --backend-options seed=1``): ``noise``, the rate at which
an answer is wrong (a wrong colour or kind, a hallucinated shape on an empty frame, a missed
event, a shifted span, a rewrite of the query read with a wrong colour or kind); each request is
hit or not by a draw seeded with ``seed`` and the request's cache key, so reruns agree, and a hit
changes the answer (but for a query it cannot read at all, which it returns as it is). Sampling
settings are ignored (it is deterministic); ``n_output_tokens`` counts words (no tokenizer).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from groundwork.errors import InputError
from groundwork.registry import Registry
from pipeline.backends.base import BACKENDS, Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.demo.language import (
    ParsedQuery,
    blend_notes,
    event_sentence,
    listing,
    noun_phrase,
    parse_query,
    place,
    rewrite,
)
from pipeline.demo.shapes import COLOURS, KINDS, SHAPE, SIZE, SLOT_NAMES, SLOTS
from pipeline.demo.vision import Blob, Span, detect, events

VERSION = 1  # bump when an answer changes for the same input: it is part of every cache key
DATASETS = ("demo", "demo_stvg")  # the generated demo data this stand-in may describe
OPTIONS = {"noise": "rate of wrong answers, 0..1 (default 0)", "seed": "seed of the noise draws (default 0)"}


@dataclass
class Noise:
    """Whether this request's answer is made wrong, and the draws that make it so. ``hit`` is
    spent by the first corruption, so one answer is corrupted at most once."""

    hit: bool
    rng: random.Random

    @classmethod
    def for_request(cls, rate: float, seed: int, key: str) -> Noise:
        rng = random.Random(f"shapes-noise:{seed}:{key}")
        return cls(rate > 0 and rng.random() < rate, rng)

    def _spend(self) -> bool:
        hit, self.hit = self.hit, False
        return hit

    def blobs(self, blobs: list[Blob]) -> list[Blob]:
        """One shape gets a wrong colour or kind; an empty frame gets a shape that is not there."""
        if not self._spend():
            return blobs
        if not blobs:
            x = SLOTS[self.rng.randrange(len(SLOTS))] / SIZE
            colour, kind = self.rng.choice(list(COLOURS)), self.rng.choice(KINDS)
            return [Blob(colour, tuple(map(float, COLOURS[colour])), None, kind, x, 0.5, SHAPE / SIZE, (0, 0, 0, 0))]
        i = self.rng.randrange(len(blobs))
        b = blobs[i]
        if self.rng.random() < 0.5 or b.kind == "shape":
            wrong = replace(b, colour=self.rng.choice([c for c in COLOURS if c != b.colour]), blend=None)
        else:
            wrong = replace(b, kind=self.rng.choice([k for k in KINDS if k != b.kind]))
        return [*blobs[:i], wrong, *blobs[i + 1 :]]

    def spans(self, spans: list[Span], duration: float) -> list[Span]:
        """A missed event, a span shifted by 1-3 s, or an event told with a wrong colour."""
        if not spans or not self._spend():
            return spans
        i = self.rng.randrange(len(spans))
        how = self.rng.choice(("miss", "shift", "colour") if len(spans) > 1 else ("shift", "colour"))
        if how == "miss":
            return spans[:i] + spans[i + 1 :]
        s = spans[i]
        if how == "shift":
            shift = self.rng.uniform(1.0, 3.0) * (1 if s.start < duration - s.end else -1)
            start, end = max(0.0, s.start + shift), min(duration, s.end + shift)
            wrong = replace(s, start=round(start, 2), end=round(end, 2))
        else:
            subject = s.change.subject
            bad = replace(subject, colour=self.rng.choice([c for c in COLOURS if c != subject.colour]), blend=None)
            change = replace(s.change, after=bad) if s.change.action == "appear" else replace(s.change, before=bad)
            wrong = replace(s, change=change)
        return [*spans[:i], wrong, *spans[i + 1 :]]

    def query(self, parsed: ParsedQuery) -> ParsedQuery:
        """The query read with a wrong colour (or kind, when it names no colour)."""
        if not self._spend():
            return parsed
        if parsed.colour is not None or parsed.kind is None:
            return replace(parsed, colour=self.rng.choice([c for c in COLOURS if c != parsed.colour]))
        return replace(parsed, kind=self.rng.choice([k for k in KINDS if k != parsed.kind]))


Handler = Callable[[GenerationRequest, Noise], str]
HANDLERS: Registry[Handler] = Registry("shapes narrator prompt")


def handles(prompt_id: str) -> Callable[[Handler], Handler]:
    """Register the handler of a prompt id: ``@handles("narrate_frame") def f(request, noise)``."""
    return HANDLERS.register(prompt_id)


def _frames(request: GenerationRequest) -> list[np.ndarray]:
    if not request.images:
        msg = f"prompt '{request.prompt_id}' needs at least one frame; the request has none"
        raise ValueError(msg)
    return request.images


def _timed_frames(request: GenerationRequest) -> tuple[list[np.ndarray], list[float]]:
    frames, times = _frames(request), [float(t) for t in request.variables.get("timestamps", [])]
    if len(times) != len(frames):
        msg = f"prompt '{request.prompt_id}': {len(frames)} frames but {len(times)} timestamps in variables"
        raise ValueError(msg)
    return frames, times


@handles("narrate_frame")
def narrate_frame(request: GenerationRequest, noise: Noise) -> str:
    """Two or three sentences about one frame: what is where, how many, what is mid-change."""
    blobs = noise.blobs(detect(_frames(request)[0]))
    if not blobs:
        return "A plain dark background with nothing on it. No shapes are visible in the frame."
    first = listing(blobs)
    count = "It is the only shape in the frame." if len(blobs) == 1 else f"There are {len(blobs)} shapes in the frame."
    return " ".join([f"{first[0].upper()}{first[1:]}, on a dark background.", count, *blend_notes(blobs)])


def _clip_changes(frames: list[np.ndarray], times: list[float], noise: Noise, duration: float) -> list[Span]:
    return noise.spans(events([detect(f) for f in frames], times), duration)


@handles("caption_clip")
def caption_clip(request: GenerationRequest, noise: Noise) -> str:
    """One sentence about the clip window: with one frame what is there (and what is mid-change),
    with several what changes between them."""
    frames = _frames(request)
    times = [float(t) for t in request.variables.get("timestamps", [])] or list(range(len(frames)))
    if len(frames) > 1 and len(times) == len(frames):
        spans = _clip_changes(frames, times, noise, float(request.variables.get("clip_end", times[-1])))
        if spans:
            told = list(dict.fromkeys(event_sentence(s.change) for s in spans))
            return "In the clip, " + (told[0] if len(told) == 1 else ", ".join(told[:-1]) + " and " + told[-1]) + "."
    blobs = noise.blobs(detect(frames[len(frames) // 2]))
    if not blobs:
        return "The clip shows an empty dark background with no shapes."
    moving = [f"the {b.kind} is changing colour between {b.blend[0]} and {b.blend[1]}" for b in blobs if b.blend]
    moving += [f"the {b.kind} is moving {b.slot}" for b in blobs if b.slot.startswith("between")]
    return f"In the clip, {listing(blobs, 'is')}" + (f", while {' and '.join(moving)}" if moving else "") + "."


@handles("describe_events")
def describe_events(request: GenerationRequest, noise: Noise) -> str:
    """A JSON list of {start, end, description}: the changes between the timestamped frames, or
    one whole-video item saying nothing changes (the schema wants at least one)."""
    frames, times = _timed_frames(request)
    duration = float(request.variables.get("duration", times[-1] if times else 0.0))
    spans = _clip_changes(frames, times, noise, duration)
    items = [
        {"start": s.start, "end": s.end, "description": event_sentence(s.change).capitalize() + "."}
        for s in spans
        if s.end > s.start
    ]
    if not items:
        blobs = noise.blobs(detect(frames[0]))
        what = f"{listing(blobs, 'stays')}" if blobs else "the frame stays empty"
        items = [{"start": 0.0, "end": round(duration, 2), "description": f"Nothing changes: {what}."}]
    return json.dumps(items)


@handles("rewrite_query")
def rewrite_query(request: GenerationRequest, noise: Noise) -> str:
    """Text only: the granularities the template's schema asks for (v1: coarse, original, fine),
    by rules: coarse keeps only the action, original says it in plain words, fine spells out
    every attribute."""
    query = str(request.variables.get("query", ""))
    wanted = list((request.json_schema or {}).get("required", ["coarse", "original", "fine"]))
    answer = rewrite(noise.query(parse_query(query)), query)
    unknown = [k for k in wanted if k not in answer]
    if unknown:
        msg = f"prompt '{request.prompt_id}' asks for {unknown}; the shapes narrator writes only {sorted(answer)}"
        raise ValueError(msg)
    return json.dumps({k: answer[k] for k in wanted})


@handles("caption_for_query")
def caption_for_query(request: GenerationRequest, noise: Noise) -> str:
    """The frame described with respect to the query's shape and colour, saying so when it is
    not there."""
    return _about(parse_query(str(request.variables.get("query", ""))), request, noise)


def _about(parsed: ParsedQuery, request: GenerationRequest, noise: Noise, action_note: bool = False) -> str:
    """The frame described with respect to ``parsed``'s shape and colour (and, with
    ``action_note``, whether it looks mid-way through ``parsed``'s action)."""
    blobs = noise.blobs(detect(_frames(request)[len(request.images) // 2]))
    wanted = ParsedQuery(parsed.colour, parsed.kind).noun("a").removeprefix("a ")
    found = [b for b in blobs if parsed.matches(b)] if parsed.colour or parsed.kind else []
    rest = [b for b in blobs if b not in found]
    scene = f"The frame shows {listing(rest)}." if rest else "Nothing else is in the frame."
    if not blobs:
        return f"No {wanted} is visible: the frame is an empty dark background."
    if not (parsed.colour or parsed.kind):
        return f"The frame shows {listing(blobs)} on a dark background."
    if not found:
        return f"No {wanted} is visible in this frame. {scene}"
    b = found[0]
    moving = ", as if moving" if b.slot.startswith("between") else ""
    notes = "".join(f" {n}" for n in blend_notes([b]))
    also = f" Also in the frame: {listing(rest)}." if rest else ""
    doing = f" {_mid_action(parsed, b)}" if action_note else ""
    return f"{noun_phrase(b).capitalize()} is visible {place(b)}{moving}, as in the search.{doing}{notes}{also}"


_MID = {
    "move_left": "moving sideways",
    "move_right": "moving sideways",
    "turn": "changing colour",
    "appear": "growing into view",
    "disappear": "shrinking away",
    "grow": "growing",
    "shrink": "shrinking",
}
_STILL = {
    "move_left": "standing still in its place",
    "move_right": "standing still in its place",
    "turn": "one steady, even colour",
}  # what a frame shows when the action is not under way


def _mid_action(parsed: ParsedQuery, b: Blob) -> str:
    """Whether one frame shows ``b`` mid-way through the query's action (between two places while
    moving, between two colours while turning, smaller than full size while changing size), said
    in words of its own when it is not (a negated verb reads like the verb to a sentence encoder)."""
    if parsed.action is None:
        return ""
    mid = {
        "move_left": b.slot.startswith("between"),
        "move_right": b.slot.startswith("between"),
        "turn": b.blend is not None,
    }.get(parsed.action, b.size != "big")
    if mid:
        return f"It looks to be {_MID[parsed.action]} right now."
    return f"It is {_STILL.get(parsed.action, 'at its full, steady size')} in this frame."


@handles("caption_frame")
def caption_frame(request: GenerationRequest, noise: Noise) -> str:
    """GranAlign's query-agnostic caption of a frame (``prompts/caption_frame``: what is happening
    in it): each shape and what one frame shows it doing. Between two places it is moving,
    between two colours it is changing colour, tiny it is appearing or vanishing (no shape of this
    world stays that small); otherwise it is still. A small shape is not said to change size: one
    frame cannot tell a shape mid-way through growing from one that is small."""
    blobs = noise.blobs(detect(_frames(request)[0]))
    if not blobs:
        return "Nothing is happening: the frame is an empty dark background."
    said = []
    for b in blobs:
        if b.slot.startswith("between"):
            said.append(f"{noun_phrase(b)}{f' at the {b.row}' if b.row else ''} is moving sideways, {b.slot}")
        elif b.blend is not None:
            said.append(f"{noun_phrase(b)} {place(b)} is changing colour between {b.blend[0]} and {b.blend[1]}")
        elif b.size == "tiny":
            said.append(f"{noun_phrase(b)} {place(b)} is appearing or vanishing")
        else:
            said.append(f"{noun_phrase(b)} stays still {place(b)}")
    text = "; ".join(said)
    return f"{text[0].upper()}{text[1:]}."


@handles("rewrite_query_pairs")
def rewrite_query_pairs(request: GenerationRequest, noise: Noise) -> str:
    """Text only: three (simplified, detailed) pairs and the query's entity and action, by rules
    (``pipeline.demo.language.rewrite``): simplified versions in plain words (the colour and kind
    only, or just the action), detailed ones with every attribute and the action spelled out. A
    query it cannot read keeps its own words and names no entity or action."""
    query = str(request.variables.get("query", ""))
    parsed = noise.query(parse_query(query))
    words = rewrite(parsed, query)
    if parsed.action is None:
        pair = {"simplified": query, "detailed": words["fine"]}
        return json.dumps({"pairs": [pair] * 3, "entities": [], "actions": []})
    article = "a" if parsed.action == "appear" else "the"
    subject = parsed.noun(article)
    action = words["original"][len(subject) :].strip()
    core = ParsedQuery(parsed.colour, parsed.kind).noun(article)
    pairs = [
        {"simplified": words["original"], "detailed": words["fine"]},
        {"simplified": f"{core} {action}", "detailed": f"{words['original']}, seen on the dark background"},
        {"simplified": words["coarse"], "detailed": f"in the video, {words['fine']}"},
    ]
    return json.dumps({"pairs": pairs, "entities": [subject], "actions": [action]})


@handles("caption_key_frame")
def caption_key_frame(request: GenerationRequest, noise: Noise) -> str:
    """GranAlign's query-aware caption of a key frame: the frame described with respect to the
    entities and actions in the prompt (whether the shape is there, and whether it looks mid-way
    through the action), saying so when it is absent."""
    focus = f"{request.variables.get('entities', '')} {request.variables.get('actions', '')}".replace(";", " ")
    return _about(parse_query(focus), request, noise, action_note=True)


def _fit(parsed: ParsedQuery, span: Span) -> int:
    """How well an event fits a query: -1 when its action (or the new colour / place it names)
    differs, else the number of the query's attributes the shape has (colour, kind)."""
    change, subject = span.change, span.change.subject
    if parsed.action is not None and change.action != parsed.action:
        return -1
    if parsed.action == "turn" and parsed.target is not None and change.colour != parsed.target:
        return -1
    if parsed.action == "appear" and parsed.slot is not None and subject.slot != SLOT_NAMES[parsed.slot]:
        return -1
    if not parsed.matches(subject):
        return -1
    return int(parsed.colour is not None) + int(parsed.kind is not None)


_SEEN: OrderedDict[bytes, list[Blob]] = OrderedDict()  # frame digest -> its shapes (the last SEEN_FRAMES frames)
SEEN_FRAMES = 4096


def _detect_once(frame: np.ndarray) -> list[Blob]:
    """``detect`` of a frame, remembered by its pixels: the requests of one video's queries carry
    the same frames (one temporal-reasoning request per query), so each is read once."""
    digest = hashlib.blake2b(frame.tobytes(), digest_size=16, person=str(frame.shape).encode()[:16]).digest()
    if digest not in _SEEN:
        _SEEN[digest] = detect(frame)
        if len(_SEEN) > SEEN_FRAMES:
            _SEEN.popitem(last=False)
    return _SEEN[digest]


@handles("reason_when_what")
def reason_when_what(request: GenerationRequest, noise: Noise) -> str:
    """When the query's event happens and which shape it is about: the events read from the
    timestamped frames, the one that fits the query best (its action, then its colour and kind;
    the earliest of equals); a query it cannot place gets the whole video and says so."""
    frames, times = _timed_frames(request)
    duration = float(request.variables.get("duration", times[-1] if times else 0.0))
    query = str(request.variables.get("query", ""))
    parsed = noise.query(parse_query(query))
    spans = events([_detect_once(f) for f in frames], times)
    scored = [(score, s) for s in spans if (score := _fit(parsed, s)) >= 0 and s.end > s.start]
    if not scored:
        what = f"no {parsed.noun('').strip()} that {parsed.action or 'does that'}" if parsed.action else "nothing"
        return json.dumps(
            {
                "start": 0.0,
                "end": round(duration, 2),
                "target": parsed.noun("a"),
                "reasoning": f"I saw {what} in the frames, so the whole video is my guess.",
            }
        )
    best = max(score for score, _ in scored)
    span = next(s for score, s in scored if score == best)
    subject = span.change.subject
    target = f"{noun_phrase(subject, 'the')} {place(subject)}"
    reasoning = (
        f"Between {span.start:.1f} s and {span.end:.1f} s {event_sentence(span.change)}, which is what "
        f"the sentence describes, so its target is {target}."
    )
    return json.dumps({"start": span.start, "end": span.end, "target": target, "reasoning": reasoning})


def _noise_options(options: dict[str, Any]) -> tuple[float, int]:
    unknown = sorted(set(options) - set(OPTIONS) - {"device", "batch_size"})
    if unknown:
        known = "; ".join(f"{k}: {v}" for k, v in OPTIONS.items())
        msg = f"backend 'shapes': unknown option(s) {unknown}; it takes {known}"
        raise InputError(msg)
    try:
        rate, seed = float(options.get("noise", 0.0)), int(options.get("seed", 0))
    except (TypeError, ValueError) as exc:
        msg = f"backend 'shapes': noise must be a number in [0, 1] and seed an integer: {exc}"
        raise InputError(msg) from exc
    if not 0.0 <= rate <= 1.0:
        msg = f"backend 'shapes': noise={rate} is not a rate in [0, 1]"
        raise InputError(msg)
    return rate, seed


@BACKENDS.register("shapes")
class ShapesNarrator(Backend):
    """A stand-in for an MLLM that works only on the generated demo videos: classical computer
    vision on the frames, rules for the words (see the module doc). Not a model: on real videos
    its answers would mean nothing, so runs on other datasets are refused."""

    name = "shapes"

    def __init__(self, model: str, sampling: SamplingConfig, **options: Any) -> None:
        super().__init__(model, sampling, **options)
        self.noise_rate, self.noise_seed = _noise_options(options)

    @classmethod
    def key_revision(cls, model: str, options: dict[str, Any]) -> str | None:
        rate, seed = _noise_options(options)
        return f"shapes-narrator-v{VERSION}:noise={rate!r}:seed={seed}"

    @classmethod
    def check_run(cls, dataset: str) -> None:
        if dataset not in DATASETS:
            msg = (
                f"backend 'shapes' is a stand-in for an MLLM that only works on the generated demo videos "
                f"(datasets {', '.join(DATASETS)}); it cannot describe dataset '{dataset}'. Use a real model "
                f"backend (vllm, transformers, openai) for it."
            )
            raise InputError(msg)

    def prepare(self, request: GenerationRequest) -> Handler:
        handler = HANDLERS.get(request.prompt_id or "(none)")  # InputError naming the id and the known ones
        for k, image in enumerate(request.images):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
                msg = f"image {k}: expected (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}"
                raise ValueError(msg)
        return handler

    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        out = []
        for request, handler in zip(requests, prepared, strict=True):
            start = time.perf_counter()
            text = handler(request, Noise.for_request(self.noise_rate, self.noise_seed, request.key))
            out.append(
                GenerationResult(
                    request.key,
                    text,
                    n_output_tokens=len(text.split()),
                    latency_ms=(time.perf_counter() - start) * 1000,
                )
            )
        return out
