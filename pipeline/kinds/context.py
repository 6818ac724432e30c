"""Kinds that read other kinds: planning rounds and ``PlanContext``, a dependent planner's view of
the cached outputs it reads.

A planner that ``depends_on`` other kinds (``pipeline.kinds.base.Planner``) is planned only once
those kinds are generated and embedded: the graph plans a run's kinds in rounds
(``planning_rounds``: a kind goes in the first round after every kind it reads) and, before each
round, binds the round's planners to a fresh ``PlanContext``. GranAlign's chain is three rounds:
narratives and query rewrites, then the key-frame selection (``key_frame``, which reads the
narratives), then the query-aware captions of those key frames (``key_frame_caption``, which
reads the selection and the rewrites' entities and actions).

The context finds an upstream kind's rows for a video the way the manifest does: the keys that
kind's planner gives the video (from the plan index when it holds them, else planned again),
structured requests expanded to their item rows (``pipeline.kinds.structured``), only ok rows, in
plan order. It reads each kind's rows from the cache once, and the text vectors of a block of
``CHUNK`` videos at a time (sentence column only), in the order the plan stage visits them.
``upstream(video, kinds)`` lists the ok keys a planner reads: its fingerprint includes them, so a
regenerated input re-plans the dependent kind and an unchanged one is answered from the index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from groundwork.cache.hashing import sha256_text
from groundwork.cache.store import CacheStore, read_parquet, read_shards
from groundwork.errors import InputError
from pipeline.cache.plan_index import read_plan_index
from pipeline.kinds.base import Planner, VideoInput
from pipeline.kinds.structured import item_keys

CHUNK = 256  # videos whose text vectors are read together
ROW_COLUMNS = ["key", "video_id", "query_id", "t_start", "t_end", "text", "text_sha256", "status", "raw"]


@dataclass(frozen=True)
class Row:
    """One ok cached row of an upstream kind (the columns planners read)."""

    key: str
    query_id: str
    t_start: float
    t_end: float
    text: str
    text_sha256: str
    raw: str


def planning_rounds(planners: Mapping[str, Planner]) -> list[list[str]]:
    """The run's kinds in rounds, each kind in the first round after all the kinds it depends on
    (the run's order kept inside a round), once each planner has settled on its inputs given the
    run's kinds (``Planner.settle``). A dependency missing from the run is an ``InputError``."""
    for planner in planners.values():
        planner.settle(planners.keys())
    missing = {kind: [d for d in p.depends_on if d not in planners] for kind, p in planners.items()}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        named = "; ".join(f"'{k}' reads {', '.join(repr(d) for d in v)}" for k, v in missing.items())
        msg = f"prior kinds: {named}: add them to --kinds (they are generated first, in an earlier round)"
        raise InputError(msg)
    for kind, planner in planners.items():
        for upstream in planner.depends_on:
            made = planners[upstream].splits  # None: every split
            if made is not None and (planner.splits is None or not set(planner.splits) <= set(made)):
                msg = (
                    f"kind_splits: '{kind}' reads '{upstream}', which is made only for {', '.join(made)}: "
                    f"give '{kind}' those splits or fewer (--kind-splits {kind}={','.join(made)})"
                )
                raise InputError(msg)
    rounds: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(planners):
        ready = [k for k, p in planners.items() if k not in placed and set(p.depends_on) <= placed]
        if not ready:
            cycle = sorted(set(planners) - placed)
            msg = f"prior kinds {cycle} depend on each other in a cycle; no order can generate them"
            raise InputError(msg)
        rounds.append(ready)
        placed.update(ready)
    return rounds


class PlanContext:
    """What the planners of one round read of the kinds planned before it (see the module doc)."""

    def __init__(
        self,
        planners: Mapping[str, Planner],
        templates: Mapping[str, Any],
        store: CacheStore,
        encoder_name: str,
        make_encoder: Callable[[], Any],
        videos: Sequence[VideoInput],
        parsers: Mapping[str, Any] | None = None,
        sampler: Any = None,
        visual_encoder: str | None = None,
        device: str = "cpu",
        round_kinds: Sequence[str] | None = None,
    ) -> None:
        """``planners`` / ``templates``: every kind of the run; ``videos``: the run's videos in plan
        order; ``parsers``: kind -> parser (structured kinds have one); ``sampler``,
        ``visual_encoder``, ``device``: for planners that look at frames (CLIP key-frame selection);
        ``round_kinds``: the kinds planned with this context (default all): the vectors read ahead
        are those of the kinds they depend on."""
        self.planners, self.templates, self.store = dict(planners), dict(templates), store
        self.encoder_name, self.make_encoder = encoder_name, make_encoder
        self.parsers = dict(parsers or {})
        self.sampler, self.visual_encoder, self.device = sampler, visual_encoder, device
        self.videos = list(videos)
        ahead = self.planners if round_kinds is None else round_kinds
        self._ahead = sorted({d for k in ahead for d in self.planners[k].depends_on})
        self._position = {v.video_id: i for i, v in enumerate(self.videos)}
        self._index: dict[str, list[tuple[str, str]]] | None = None
        self._ok: dict[str, dict[str, Row]] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._chunk: int | None = None
        self._encoder: Any = None
        self._shared: dict[str, Any] = {}

    # -- keys and rows -----------------------------------------------------------------------
    def keys(self, kind: str, video: VideoInput) -> list[tuple[str, str]]:
        """(request key, query id) of every request ``kind``'s planner makes for ``video``."""
        if self._index is None:
            self._index = read_plan_index(self.store.root)
        planner = self.planners[kind]
        scoped = planner.scoped(video)
        if scoped is None:  # outside the kind's splits
            return []
        known = self._index.get(planner.fingerprint(scoped))
        return [tuple(k) for k in known] if known is not None else [(r.key, r.query_id) for r in planner.plan(scoped)]

    def _ok_rows(self, kind: str) -> dict[str, Row]:
        if kind not in self._ok:
            table = self.store.priors(kind).select(ROW_COLUMNS)
            table = table.filter(pc.equal(table.column("status"), "ok"))
            self._ok[kind] = {
                r["key"]: Row(
                    r["key"],
                    r["query_id"],
                    r["t_start"],
                    r["t_end"],
                    r["text"] or "",
                    r["text_sha256"] or "",
                    r["raw"] or "",
                )
                for r in table.to_pylist()
            }
        return self._ok[kind]

    def requests(self, kind: str, video: VideoInput) -> list[Row]:
        """The ok request rows of ``kind`` for ``video`` (a structured kind's answer is in ``raw``)."""
        ok = self._ok_rows(kind)
        return [ok[k] for k, _ in self.keys(kind, video) if k in ok]

    def rows(self, kind: str, video: VideoInput) -> list[Row]:
        """The ok rows of ``kind`` for ``video`` as a reader sees them (structured: the item rows)."""
        ok = self._ok_rows(kind)
        keys = [k for k, _ in self.keys(kind, video)]
        if self.parsers.get(kind) is not None:
            present = set(ok)
            keys = [item for k in keys if k in ok for item in item_keys(k, present)]
        return [ok[k] for k in keys if k in ok]

    def upstream(self, video: VideoInput, kinds: Sequence[str]) -> dict[str, list[str]]:
        """The ok request keys ``kinds`` give ``video``: what a dependent planner's output depends on."""
        return {kind: sorted(k for k, _ in self.keys(kind, video) if k in self._ok_rows(kind)) for kind in kinds}

    def template(self, kind: str) -> Any:
        return self.templates[kind]

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """One object per context under ``name`` (a frame selector and its loaded model)."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    # -- text vectors ------------------------------------------------------------------------
    def vectors(self, video: VideoInput, shas: Sequence[str]) -> np.ndarray:
        """(n, D) sentence vectors of cached texts: the block of videos around ``video`` is read at
        once (its upstream rows and queries). A text the cache lacks is a ``InputError``."""
        self._load_chunk(video)
        missing = [s for s in shas if s not in self._vectors]
        if missing:
            self._vectors.update(self._read(set(missing)))
        lacking = [s for s in shas if s not in self._vectors]
        if lacking:
            where = self.store.text_dir(self.encoder_name)
            msg = (
                f"video {video.video_id!r}: {len(lacking)} texts have no '{self.encoder_name}' features under "
                f"{where} (their kind was generated but not embedded; run `priors run` again)"
            )
            raise InputError(msg)
        return np.stack([self._vectors[s] for s in shas]) if shas else np.zeros((0, 0), np.float32)

    def embed(self, video: VideoInput, texts: Sequence[str]) -> np.ndarray:
        """(n, D) vectors of ``texts``: cached ones read, others encoded here on the driver."""
        shas = [sha256_text(t) for t in texts]
        self._load_chunk(video)
        new = [(s, t) for s, t in zip(shas, texts, strict=True) if s not in self._vectors]
        if new:
            self._vectors.update(self._read({s for s, _ in new}))
        todo = [(s, t) for s, t in new if s not in self._vectors]
        if todo:
            if self._encoder is None:
                self._encoder = self.make_encoder()
                self._encoder.setup()
            for (s, _), enc in zip(todo, self._encoder.encode([t for _, t in todo]), strict=True):
                self._vectors[s] = np.asarray(enc.sentence, np.float32)
        return np.stack([self._vectors[s] for s in shas])

    def _load_chunk(self, video: VideoInput) -> None:
        chunk = self._position.get(video.video_id, -1) // CHUNK
        if chunk == self._chunk:
            return
        videos = self.videos[chunk * CHUNK : (chunk + 1) * CHUNK] if chunk >= 0 else [video]
        shas = {q.text_sha256 for v in videos for q in v.queries}
        for v in videos:
            for kind in self._ahead:
                shas.update(r.text_sha256 for r in self.rows(kind, v) if r.text_sha256)
        self._vectors = self._read(shas)
        self._chunk = chunk

    def _read(self, shas: set[str]) -> dict[str, np.ndarray]:
        if not shas:
            return {}
        wanted = list(shas)

        def read(path: Any) -> Any:
            table = read_parquet(path, columns=["text_sha256", "sentence"])
            return table.filter(pc.is_in(table.column("text_sha256"), value_set=pa.array(wanted, pa.string())))

        out: dict[str, np.ndarray] = {}
        for part in read_shards(self.store.text_dir(self.encoder_name), read):
            for sha, vec in zip(
                part.column("text_sha256").to_pylist(), part.column("sentence").to_pylist(), strict=True
            ):
                out.setdefault(sha, np.asarray(vec, np.float32))
        return out


def bind_round(
    prep: Any,
    kinds: Sequence[str],
    rows: Sequence[dict],
    store: CacheStore,
    encoder_name: str,
    make_encoder: Callable[[], Any],
    visual_encoder: str | None = None,
    device: str = "cpu",
) -> None:
    """Bind the planners of one round that read other kinds to a fresh ``PlanContext`` (``prep``:
    the run's ``pipeline.prepare.Prepared``; ``rows``: its video rows, in plan order)."""
    from pipeline.kinds import parser_of
    from pipeline.stages.plan import video_inputs

    dependent = [kind for kind in kinds if prep.planners[kind].depends_on]
    if not dependent or not rows:
        return
    videos = video_inputs({k: [r[k] for r in rows] for k in rows[0]})
    context = PlanContext(
        prep.planners,
        prep.templates,
        store,
        encoder_name,
        make_encoder,
        videos,
        {kind: parser_of(kind) for kind in prep.planners},
        prep.sampler,
        visual_encoder,
        device,
        round_kinds=kinds,
    )
    for kind in dependent:
        prep.planners[kind].bind(context)
