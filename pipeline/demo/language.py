"""The narrator's English: reading a query about the demo's shapes (``parse_query``) and saying
what it sees (``noun_phrase``, ``place``, ``event_sentence``). It knows the words for colours and
kinds (``pipeline.demo.shapes``) and a set of verbs, as a language model would; it never sees
how the generator words its queries beyond what is in the query text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.demo.shapes import COLOUR_WORDS, KIND_WORDS, SLOT_NAMES
from pipeline.demo.vision import Blob, Change

_COLOUR = {w: c for c, words in COLOUR_WORDS.items() for w in words}
_KIND = sorted(((w, k) for k, words in KIND_WORDS.items() for w in words), key=lambda p: -len(p[0]))
_SLOTS = (
    ("on the left", 0),
    ("at the left", 0),
    ("in the middle", 1),
    ("in the centre", 1),
    ("on the right", 2),
    ("at the right", 2),
)
_ROWS = (
    ("at the top", "top"),
    ("in the top row", "top"),
    ("in the upper row", "top"),
    ("at the bottom", "bottom"),
    ("in the bottom row", "bottom"),
    ("in the lower row", "bottom"),
)
_ACTIONS = (  # first match wins: "grows into view" is an appearance, "grows" alone is not
    (r"\b(appears?|shows? up|comes? into view|grows? into view|pops? up)\b", "appear"),
    (r"\b(disappears?|vanish(es)?|shrinks? away|goes away|go away)\b", "disappear"),
    (r"\b(turns?|becomes?|changes? colou?r|changes? from)\b(?! (bigger|smaller|larger)\b)", "turn"),
    (r"\b(grows?|gets? bigger|becomes? bigger|expands?|grows? larger)\b", "grow"),
    (r"\b(shrinks?|gets? smaller|becomes? smaller)\b", "shrink"),
    (r"\b(moves?|slides?|goes|go|shifts?|travels?)\b", "move"),
)
_PLAIN_VERB = {
    "move_left": "moves to the left",
    "move_right": "moves to the right",
    "disappear": "disappears",
    "grow": "grows",
    "shrink": "shrinks",
}
SLOT_PHRASE = {"left": "on the left", "middle": "in the middle", "right": "on the right"}
_LOOKS = {"circle": "round", "square": "four-sided, with straight edges", "triangle": "pointed, three-sided"}


@dataclass(frozen=True)
class ParsedQuery:
    """What a query says about a shape and what it does; None where it says nothing."""

    colour: str | None = None
    kind: str | None = None
    big: bool | None = None
    slot: int | None = None  # for appear: where it appears
    row: str | None = None
    action: str | None = None
    target: str | None = None  # turn: the new colour

    def matches(self, blob: Blob) -> bool:
        colour_ok = self.colour is None or blob.colour == self.colour or self.colour in (blob.blend or ())
        return colour_ok and (self.kind is None or blob.kind == self.kind)

    def noun(self, article: str = "the") -> str:
        words = [article, *(["big" if self.big else "small"] if self.big is not None else [])]
        words += [self.colour] if self.colour else []
        words.append(self.kind or "shape")
        if self.slot is not None and self.action != "appear":
            words.append(SLOT_PHRASE[SLOT_NAMES[self.slot]])
        words += [f"at the {self.row}"] if self.row else []
        return " ".join(words)


def _take(text: str, phrases: tuple[tuple[str, object], ...]) -> tuple[str, object | None]:
    for phrase, value in phrases:
        if re.search(rf"\b{re.escape(phrase)}\b", text):
            return re.sub(rf"\b{re.escape(phrase)}\b", " ", text, count=1), value
    return text, None


def parse_query(query: str) -> ParsedQuery:
    """Read colour, kind, size, slot, row and action from a query such as "a scarlet disc slides
    leftwards" or "the circle on the right goes left"."""
    text = " " + re.sub(r"[^a-z\- ]", " ", query.lower()) + " "
    action, verb_at = None, len(text)
    for pattern, name in _ACTIONS:
        m = re.search(pattern, text)
        if m:
            action, verb_at = name, m.start()
            break
    head, tail = text[:verb_at], text[verb_at:]
    head, slot = _take(head, _SLOTS)
    tail, appear_slot = _take(tail, _SLOTS)
    head, row = _take(head, _ROWS)
    kind = next((k for w, k in _KIND if re.search(rf"\b{re.escape(w)}\b", head)), None)
    colours = [_COLOUR[w] for w in re.findall(r"[a-z]+", head) if w in _COLOUR]
    after = [_COLOUR[w] for w in re.findall(r"[a-z]+", tail) if w in _COLOUR]
    words = set(re.findall(r"[a-z]+", head))
    big = True if "big" in words else False if "small" in words else None
    target = None
    if action == "turn":
        target = after[-1] if after else None
        if not colours and re.search(r"\bfrom\b", tail) and len(after) >= 2:
            colours = [after[0]]
    if action == "move":
        action = (
            "move_left"
            if re.search(r"\bleft(wards)?\b", tail)
            else "move_right"
            if re.search(r"\bright(wards)?\b", tail)
            else None
        )
    if action == "appear":
        slot = appear_slot if appear_slot is not None else slot
    return ParsedQuery(colours[0] if colours else None, kind, big, slot, row, action, target)


def place(blob: Blob) -> str:
    text = SLOT_PHRASE.get(blob.slot, blob.slot)
    return f"{text} at the {blob.row}" if blob.row else text


def noun_phrase(blob: Blob, article: str = "a") -> str:
    size = "" if blob.size == "big" else f"{blob.size} "
    kind = "shape" if blob.size == "tiny" else blob.kind  # a few pixels: no telling its kind
    return f"{article} {size}{blob.colour} {kind}"


def listing(blobs: list[Blob], verb: str = "") -> str:
    """ "a red circle on the left and a blue square in the middle" (``verb``: "is" -> "a red
    circle is on the left")."""
    parts = [f"{noun_phrase(b)} {verb + ' ' if verb else ''}{place(b)}" for b in blobs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def blend_notes(blobs: list[Blob]) -> list[str]:
    return [
        f"The {b.kind} {place(b)} is changing colour between {b.blend[0]} and {b.blend[1]}."
        for b in blobs
        if b.blend is not None
    ]


def event_sentence(change: Change) -> str:
    """ "the red circle moves to the left", "a blue square appears on the right"."""
    s = change.subject
    if change.action == "appear":
        return f"{noun_phrase(s, 'a')} appears {SLOT_PHRASE.get(s.slot, s.slot)}"
    if change.action == "turn":
        return f"{noun_phrase(s, 'the')} turns {change.colour}"
    return f"{noun_phrase(s, 'the')} {_PLAIN_VERB[change.action]}"


def rewrite(parsed: ParsedQuery, query: str) -> dict[str, str]:
    """coarse (the action only), original (the query in plain words) and fine (every attribute
    spelled out) versions of a query; an unreadable query is kept as it is."""
    if parsed.action is None:
        return {"coarse": query, "original": query, "fine": f"{query}, on a dark background"}
    target, at = (
        parsed.target or "another colour",
        SLOT_PHRASE[SLOT_NAMES[parsed.slot]] if parsed.slot is not None else "",
    )
    plain = {"appear": f"appears {at}".strip(), "turn": f"turns {target}", **_PLAIN_VERB}[parsed.action]
    coarse_verb = {"appear": "appears", "turn": "changes colour"}.get(parsed.action, plain)
    detail = {
        "move_left": "slides sideways until it is further to the left of the frame",
        "move_right": "slides sideways until it is further to the right of the frame",
        "appear": f"grows from nothing into view {at or 'in the frame'}",
        "disappear": "shrinks until nothing of it is left",
        "turn": f"gradually changes its colour to {target}",
        "grow": "grows from small to big",
        "shrink": "shrinks from big to small",
    }[parsed.action]
    looks = ", ".join(x for x in (_LOOKS.get(parsed.kind or ""), parsed.colour) if x)
    article = "a" if parsed.action == "appear" else "the"
    subject = parsed.noun(article)
    on = "on the dark background"
    fine_subject = f"{subject}, a {looks} shape {on}," if looks else f"{subject} {on}"
    return {"coarse": f"a shape {coarse_verb}", "original": f"{subject} {plain}", "fine": f"{fine_subject} {detail}"}
