"""The generation pass of ``run_priors`` around its Ray graph: videos without a file, and work
claims in a shared cache.

Missing videos: a video the adapter found no file for cannot give frames. Each of its prior kinds
that needs frames gets one error row (``missing_video``, on the kind's first planned key) instead
of one per request, and its frame requests never reach Ray; text-only requests (query rewrites)
still run. ``prepare`` has already refused a run where no video at all was found.

Claims (``groundwork.cache.claims``): every request carries the claim id of its unit (one kind on
one video); ``ClaimingDecodeStage`` claims units as their videos reach decode and leaves out the
units another run holds. After the graph, the driver looks at those units: done when all their
keys are in the cache (the other run wrote them), taken over when their claim lapsed (or was
released) without them, and after ``claim_wait_s`` generated anyway. Every pass is the same graph
(``generate``), so the rows are those an uninterrupted run on its own would write."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from groundwork.cache.claims import ClaimBook, Owner, claim_id
from groundwork.cache.store import CacheStore
from pipeline.config import PriorsConfig
from pipeline.prepare import Prepared
from pipeline.report import RunReport
from pipeline.stages.write import WriteStage, prior_table

Planned = dict[str, dict[str, list]]  # video id -> kind -> [[key, query_id], ...]


def drop_missing_videos(
    prep: Prepared, todo: list[dict], planned: Planned, store: CacheStore, write: WriteStage, report: RunReport
) -> list[dict]:
    """``todo`` without the frame requests of videos that have no file; one error row per such
    video and kind goes to ``write`` (unless the cache has it from an earlier run)."""
    report.videos_missing = len(prep.missing_videos)
    missing = set(prep.missing_videos)
    out, present = [], {}
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for row in todo:
        if row["video_id"] not in missing:
            out.append(row)
            continue
        requests = json.loads(row["requests"])
        frames = [r for r in requests if r["frame_times"]]
        for kind in sorted({r["kind"] for r in frames}):
            key = planned[row["video_id"]][kind][0][0]
            if kind not in present:
                present[kind] = store.prior_keys(kind)
            if key in present[kind]:
                continue
            n = sum(r["kind"] == kind for r in frames)
            msg = (
                f"video '{row['video_id']}' has no file ({prep.video_root_note}): its {n} {kind} requests were "
                "not generated; give --video-root and run again"
            )
            error = {
                "key": key,
                "kind": kind,
                "video_id": row["video_id"],
                "video_sha256": "",
                "query_id": "",
                "t_start": 0.0,
                "t_end": float(row["duration"]),
                "text": "",
                "text_sha256": "",
                "n_prompt_tokens": 0,
                "n_output_tokens": 0,
                "latency_ms": 0.0,
                "status": "error",
                "error_type": "missing_video",
                "error": msg,
                "raw": "",
                "sampling_used": "",
            }
            write.add(("priors", kind), prior_table([error], prep.provenance[kind], created))
            report.add_error_rows(kind, "missing_video", 1)
        rest = [r for r in requests if not r["frame_times"]]
        if rest:
            out.append({**row, "requests": json.dumps(rest)})
    return out


@dataclass
class Unit:
    """One kind on one video: the claimed amount of work."""

    kind: str
    video_id: str
    claim: str
    keys: set[str] = field(default_factory=set)  # its requests' keys this run would generate
    row: int = 0  # index in todo


def _units(todo: list[dict], planned: Planned) -> tuple[list[dict], list[Unit]]:
    """``todo`` with each request's claim id set, and the units."""
    rows, units = [], []
    for i, row in enumerate(todo):
        requests = json.loads(row["requests"])
        by_kind: dict[str, Unit] = {}
        for r in requests:
            unit = by_kind.get(r["kind"])
            if unit is None:
                keys = [k for k, _ in planned[row["video_id"]][r["kind"]]]
                unit = by_kind[r["kind"]] = Unit(r["kind"], row["video_id"], claim_id(r["kind"], keys), row=i)
            unit.keys.add(r["key"])
            r["claim"] = unit.claim
        units.extend(by_kind.values())
        rows.append({**row, "requests": json.dumps(requests)})
    return rows, units


def _subset(rows: list[dict], units: list[Unit], claimed: bool) -> list[dict]:
    """The rows of ``units`` with only their requests; ``claimed=False`` clears the claim ids
    (units generated without a claim, after waiting too long)."""
    wanted = {(u.row, u.kind) for u in units}
    out = []
    for i, row in enumerate(rows):
        requests = [
            r if claimed else {**r, "claim": ""} for r in json.loads(row["requests"]) if (i, r["kind"]) in wanted
        ]
        if requests:
            out.append({**row, "requests": json.dumps(requests)})
    return out


def _done(store: CacheStore, units: list[Unit], retry_errors: bool) -> list[Unit]:
    """The units whose keys are all in the cache (ok rows only when errors are retried)."""
    have = {}
    for kind in {u.kind for u in units}:
        ok, errors = store.prior_key_status(kind)
        have[kind] = ok if retry_errors else ok | errors
    return [u for u in units if u.keys <= have[u.kind]]


def generate_claimed(
    config: PriorsConfig,
    store: CacheStore,
    todo: list[dict],
    planned: Planned,
    report: RunReport,
    generate: Callable[[list[dict], ClaimBook], None],
) -> None:
    """Run ``generate(rows, claims)`` (the graph; it writes every row it is given before it
    returns) over ``todo`` under work claims, then wait for, or take over, the units other runs
    held, until every unit is in the cache. Units finished by another run since ``todo`` was
    planned are not generated again (their keys are read once more here; after that, their
    done markers say so)."""
    since = time.time()
    rows, units = _units(todo, planned)
    book = ClaimBook(store.root, Owner.this_process(), config.claim_ttl_s, done_since=since)
    meanwhile = {id(u) for u in _done(store, units, config.retry_errors)}
    report.claims_waited += len(meanwhile)
    units = [u for u in units if id(u) not in meanwhile]
    paths = [book.path(u.kind, u.claim) for u in units]
    poll = max(0.2, min(5.0, config.claim_ttl_s / 4))
    try:
        with book.heartbeat(paths):
            first = _subset(rows, units, True) if meanwhile else rows
            if first:
                generate(first, book)
            theirs = [u for u in units if book.state(u.kind, u.claim) != "mine"]
            report.claims_generated = len(units) - len(theirs)
            start = time.monotonic()
            while theirs:
                done = {id(u) for u in _done(store, theirs, config.retry_errors)}
                report.claims_waited += len(done)
                theirs = [u for u in theirs if id(u) not in done]
                overdue = time.monotonic() - start > config.claim_wait_s
                take = [
                    u
                    for u in theirs
                    if book.state(u.kind, u.claim) != "held" and book.claim(u.kind, u.claim, honour_done=False)
                ]
                late = {id(u) for u in _done(store, take, config.retry_errors)}  # written just before it finished
                report.claims_waited += len(late)
                book.release(book.path(u.kind, u.claim) for u in take if id(u) in late)
                take = [u for u in take if id(u) not in late]
                taken = {id(u) for u in take} | late
                forced = [u for u in theirs if overdue and id(u) not in taken]
                if take or forced:
                    report.claims_taken_over += len(take)
                    report.claims_forced += len(forced)
                    generate(_subset(rows, take, True) + _subset(rows, forced, False), book)
                theirs = [] if overdue else [u for u in theirs if id(u) not in taken]
                if theirs:
                    time.sleep(poll)
            report.claim_wait_seconds = round(time.monotonic() - start, 3)
    except BaseException:
        book.release(paths)  # not finished: free for the next run at once
        raise
    book.finish(paths)
