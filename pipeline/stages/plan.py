"""``plan``: expand each video into its generation requests (one planner per prior kind) and
drop the keys already in the cache, so cached work never reaches ``decode``."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import ClassVar

from pipeline.kinds.base import Planner, QueryInput, VideoInput
from pipeline.stages.base import Batch, Resources, Stage


def video_inputs(batch: Batch) -> list[VideoInput]:
    """Rows of a video batch (video_id, path, duration, video_sha256, queries JSON)."""
    out = []
    for i, vid in enumerate(batch["video_id"]):
        queries = json.loads(batch["queries"][i]) if "queries" in batch else []
        out.append(
            VideoInput(
                str(vid),
                str(batch["path"][i] or ""),
                float(batch["duration"][i]),
                str(batch["video_sha256"][i] or ""),
                tuple(QueryInput(**q) for q in queries),
            )
        )
    return out


class PlanStage(Stage):
    """Writes ``requests`` (JSON list of the uncached requests) and ``planned`` (JSON
    ``{kind: [[key, query_id], ...]}`` of every request, cached or not, for the manifest)."""

    name: ClassVar[str] = "plan"
    reads: ClassVar[tuple[str, ...]] = ("video_id", "path", "duration", "video_sha256", "queries")
    writes: ClassVar[tuple[str, ...]] = ("requests", "planned", "n_planned", "n_cached", "index_new")

    def __init__(
        self,
        planners: Mapping[str, Planner],
        cached: Mapping[str, Collection[str]],
        index: Mapping[str, list[tuple[str, str]]] | None = None,
        resources: Resources = Resources(cpus=0.25, batch_size=64),
    ) -> None:
        """``cached[kind]``: keys to skip (ok rows, plus error rows unless errors are retried).
        ``index``: the plan index (fingerprint -> planned keys); a video and kind whose keys are
        all cached is answered from it without planning. New entries go to ``index_new``."""
        self.planners = dict(planners)
        self.cached = cached
        self.index = index or {}
        self.resources = resources

    def process_batch(self, batch: Batch) -> Batch:
        requests, planned, n_planned, n_cached, index_new = [], [], [], [], []
        for video in video_inputs(batch):
            todo, keys, new = [], {}, {}
            for kind, planner in self.planners.items():
                scoped = planner.scoped(video)  # only the queries of the kind's splits
                if scoped is None:
                    keys[kind] = []
                    continue
                skip = self.cached.get(kind, ())
                fp = planner.fingerprint(scoped)
                known = self.index.get(fp)
                if known is not None and all(k in skip for k, _ in known):
                    keys[kind] = [[k, q] for k, q in known]
                    continue
                reqs = planner.plan(scoped)
                keys[kind] = [[r.key, r.query_id] for r in reqs]
                if known is None:
                    new[fp] = keys[kind]
                todo.extend(r.as_dict() for r in reqs if r.key not in skip)
            total = sum(len(k) for k in keys.values())
            requests.append(json.dumps(todo))
            planned.append(json.dumps(keys))
            n_planned.append(total)
            n_cached.append(total - len(todo))
            index_new.append(json.dumps(new))
        return {
            **batch,
            "requests": requests,
            "planned": planned,
            "n_planned": n_planned,
            "n_cached": n_cached,
            "index_new": index_new,
        }
