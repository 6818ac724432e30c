"""Queries for the demo's events, paraphrased as annotators write them.

A sentence is a *referring expression* for the shape plus a *verb phrase* for what it does:
"the red circle" + "moves to the left", "a scarlet disc" + "slides leftwards", "the circle on the
right" + "goes left". What a sentence means is a ``Meaning``: a ``Referent`` (the attributes it
names: colour, kind, size, slot, row; any may be left out) and the action with its argument
(the new colour of ``turn``, the slot of ``appear``). A meaning *fits* an event when the action
and argument agree and the referent matches the shape as the event starts (for ``appear``: as it
ends up).

Each query starts from an event's full meaning (colour + kind + action); all events that meaning
fits become its windows (the same thing twice in a video: one query, two windows). Then one
wording is drawn, from the seed, among those that (1) fit exactly the same events, so the query
still identifies its windows, and (2) pick the shape out among every shape on screen during each
window (no "the circle" while two circles are visible). The draws: which attributes the
referring expression keeps (all of colour + kind, optionally with size; only the colour; only
the kind; the slot or row, with or without the kind), a word for each (``COLOUR_WORDS``,
``KIND_WORDS``: "disc", "box", "wedge", ...; a generic noun "shape" / "thing" / "one" when the
kind is left out), the article, and one of several verb phrases per action (``VERBS``). So two
queries about the same kind of event seldom share their words, and none copies the narrator's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.demo.shapes import COLOUR_WORDS, GENERIC_NOUNS, KIND_WORDS
from pipeline.demo.world import Event, Script, ShapeState

ROW_PHRASES = {
    "top": ("at the top", "in the top row", "in the upper row"),
    "bottom": ("at the bottom", "in the bottom row", "in the lower row"),
}
SLOT_WORDS = (("on the left", "at the left"), ("in the middle", "in the centre"), ("on the right", "at the right"))
VERBS = {  # {c}: the new colour, {b}: the old one, {at}: where it appears
    "move_left": (
        "moves to the left",
        "slides leftwards",
        "goes left",
        "shifts to the left",
        "travels left",
        "moves left",
    ),
    "move_right": (
        "moves to the right",
        "slides rightwards",
        "goes right",
        "shifts to the right",
        "travels right",
        "moves right",
    ),
    "appear": ("appears {at}", "shows up {at}", "comes into view {at}", "grows into view {at}", "pops up {at}"),
    "disappear": ("disappears", "vanishes", "shrinks away to nothing", "goes away", "disappears from view"),
    "turn": ("turns {c}", "changes colour to {c}", "becomes {c}", "changes from {b} to {c}"),
    "grow": ("grows", "gets bigger", "grows larger", "expands", "becomes bigger"),
    "shrink": ("shrinks", "gets smaller", "becomes smaller", "shrinks down"),
}


@dataclass(frozen=True)
class Referent:
    colour: str | None = None
    kind: str | None = None
    big: bool | None = None
    slot: int | None = None
    row: str | None = None  # "top" / "bottom"

    def matches(self, s: ShapeState, row: str | None) -> bool:
        return (
            (self.colour is None or s.colour == self.colour)
            and (self.kind is None or s.kind == self.kind)
            and (self.big is None or s.big == self.big)
            and (self.slot is None or s.slot == self.slot)
            and (self.row is None or row == self.row)
        )


@dataclass(frozen=True)
class Meaning:
    referent: Referent
    action: str
    argument: str | int | None  # turn: new colour; appear: slot

    def fits(self, script: Script, e: Event) -> bool:
        return (
            e.action == self.action
            and argument(e) == self.argument
            and self.referent.matches(e.subject, row_name(script, e.shape))
        )


def argument(e: Event) -> str | int | None:
    return {"turn": e.after.colour, "appear": e.after.slot}.get(e.action)


def row_name(script: Script, i: int) -> str | None:
    n = len(script.initial)
    return None if n == 1 else "top" if i == 0 else "bottom" if i == n - 1 else None


def fit_set(script: Script, meaning: Meaning) -> tuple[Event, ...]:
    return tuple(e for e in script.events if meaning.fits(script, e))


def picks_out(script: Script, referent: Referent, e: Event) -> bool:
    """No other shape matches ``referent`` in any state it is in while ``e`` runs."""
    for j in range(len(script.initial)):
        if j != e.shape and any(
            s.visible and referent.matches(s, row_name(script, j)) for s in script.states_during(j, e.start, e.end)
        ):
            return False
    return True


def referents(script: Script, e: Event) -> list[Referent]:
    """Every referring expression one could try for the subject of ``e``."""
    s, row = e.subject, row_name(script, e.shape)
    out = [
        Referent(s.colour, s.kind),
        Referent(s.colour, s.kind, s.big),
        Referent(colour=s.colour),
        Referent(kind=s.kind),
    ]
    if e.action != "appear":  # where it appears is said by the verb
        out += [Referent(kind=s.kind, slot=s.slot), Referent(slot=s.slot)]
        if row is not None:
            out += [Referent(kind=s.kind, row=row), Referent(row=row), Referent(colour=s.colour, row=row)]
    return out


def _noun_phrase(r: Referent, article: str, rng: random.Random) -> str:
    words = [article]
    if r.big is not None:
        words.append("big" if r.big else "small")
    if r.colour is not None:
        words.append(rng.choice(COLOUR_WORDS[r.colour]))
    if r.kind is not None:
        words.append(rng.choice(KIND_WORDS[r.kind]))
    else:
        words.append(rng.choice(GENERIC_NOUNS if r.colour is not None else GENERIC_NOUNS[:3]))
    if r.slot is not None:
        words.append(rng.choice(SLOT_WORDS[r.slot]))
    if r.row is not None:
        words.append(rng.choice(ROW_PHRASES[r.row]))
    return " ".join(words)


def verb_phrase(e: Event, rng: random.Random) -> str:
    template = rng.choice(VERBS[e.action])
    return template.format(
        c=rng.choice(COLOUR_WORDS[e.after.colour]),
        b=rng.choice(COLOUR_WORDS[e.before.colour]),
        at=rng.choice(SLOT_WORDS[e.after.slot]),
    )


def wordings(script: Script, events: tuple[Event, ...]) -> list[Referent]:
    """The referring expressions usable for a query whose windows are ``events``: they fit
    exactly those events and pick the shape out in each."""
    e = events[0]
    out = []
    for r in referents(script, e):
        if fit_set(script, Meaning(r, e.action, argument(e))) == events and all(
            picks_out(script, r, x) for x in events
        ):
            out.append(r)
    return out


def sentence(script: Script, events: tuple[Event, ...], rng: random.Random) -> str:
    """One paraphrase for the query whose windows are ``events`` (see the module doc)."""
    options = wordings(script, events)
    full = Referent(events[0].subject.colour, events[0].subject.kind)
    r = rng.choice(options) if options else full  # the full meaning always fits; it may not pick out
    article = "a" if events[0].action == "appear" or rng.random() < 0.25 else "the"
    return f"{_noun_phrase(r, article, rng)} {verb_phrase(events[0], rng)}"


def queries(script: Script, rng: random.Random) -> list[tuple[str, list[list[float]]]]:
    """(sentence, windows) per distinct full meaning, in order of first occurrence."""
    out, seen = [], set()
    for e in script.events:
        meaning = Meaning(Referent(e.subject.colour, e.subject.kind), e.action, argument(e))
        if meaning in seen:
            continue
        seen.add(meaning)
        events = fit_set(script, meaning)
        out.append((sentence(script, events, rng), [[x.start, x.end] for x in events]))
    return out


def declarative_with(referent: Referent, e: Event, rng: random.Random) -> str:
    """A VidSTG-style declarative sentence: "the red circle that moves to the left"."""
    return f"{_noun_phrase(referent, 'the', rng)} that {verb_phrase(e, rng)}"


def _question(e: Event, noun: str, rng: random.Random) -> str:
    return f"{noun} {verb_phrase(e, rng)}?"


def questions(script: Script, e: Event, segment: tuple[float, float], rng: random.Random) -> list[str]:
    """Interrogative sentences about ``e`` whose answer is its shape alone within ``segment``:
    "what moves to the left?" when nothing else there does, "which circle moves to the left?"
    when another circle is there but does not (text alone cannot find the box)."""
    inside = [x for x in script.events if x.start < segment[1] and x.end > segment[0]]
    out = []
    bare = Meaning(Referent(), e.action, argument(e))
    if [x for x in inside if bare.fits(script, x)] == [e]:
        out.append(_question(e, rng.choice(("what", "which shape")), rng))
    for r in (Referent(kind=e.subject.kind), Referent(colour=e.subject.colour)):
        meaning = Meaning(r, e.action, argument(e))
        shared = any(
            j != e.shape and any(r.matches(s, None) and s.visible for s in script.states_during(j, *segment))
            for j in range(len(script.initial))
        )
        if shared and [x for x in inside if meaning.fits(script, x)] == [e] and len(out) < 2:
            noun = f"which {KIND_WORDS[r.kind][0]}" if r.kind else f"which {COLOUR_WORDS[r.colour][0]} shape"
            out.append(_question(e, noun, rng))
            break
    return out
