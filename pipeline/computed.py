"""Rows of computed prior kinds (``Planner.computed``, e.g. ``key_frame``): their planner answers
each request itself (``PlannedRequest.answer``), so no model runs. The graph takes their requests
out of the generation work and writes their rows here, on the driver, with the kind's own
provenance (``planner.provenance``: the method in place of the VLM). Run again, they are cache
hits like any row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from groundwork.cache.hashing import sha256_text
from groundwork.cache.store import CacheStore
from pipeline.kinds.base import Planner
from pipeline.stages.write import prior_table


def _row(video: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    text = str(request["answer"])
    return {
        "key": request["key"],
        "kind": request["kind"],
        "video_id": video["video_id"],
        "video_sha256": video["video_sha256"],
        "query_id": request["query_id"],
        "t_start": request["t_start"],
        "t_end": request["t_end"],
        "text": text,
        "text_sha256": sha256_text(text) if text else "",
        "n_prompt_tokens": 0,
        "n_output_tokens": 0,
        "latency_ms": 0.0,
        "status": "ok",
        "error_type": "",
        "error": "",
        "raw": request.get("detail", ""),
        "sampling_used": "",
    }


def write_computed(
    todo: list[dict], planners: Mapping[str, Planner], provenance: Mapping[str, dict[str, Any]], store: CacheStore
) -> tuple[list[dict], dict[str, int]]:
    """``todo`` (video rows with their uncached ``requests`` JSON) without the requests of computed
    kinds, whose rows are written to the cache, one shard per kind; and the rows written per kind."""
    computed = {kind for kind, p in planners.items() if p.computed}
    if not computed:
        return todo, {}
    rows: dict[str, list[dict[str, Any]]] = {}
    rest = []
    for video in todo:
        requests = json.loads(video["requests"])
        for request in requests:
            if request["kind"] in computed:
                rows.setdefault(request["kind"], []).append(_row(video, request))
        left = [r for r in requests if r["kind"] not in computed]
        if left:
            rest.append({**video, "requests": json.dumps(left)})
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for kind, kind_rows in rows.items():
        own = planners[kind].provenance(dict(provenance[kind]))  # type: ignore[attr-defined]
        store.write_priors(kind, prior_table(kind_rows, own, created))
    return rest, {kind: len(kind_rows) for kind, kind_rows in rows.items()}
