"""The claim protocol of the generation pass (``pipeline.generation.generate_claimed``) without Ray:
the real ``ClaimingDecodeStage`` over text-only requests (nothing to decode) and a stand-in for
the rest of the graph that writes one row per request it is given, as the graph does. Another run
is played by a second ``ClaimBook`` with its own owner (another host: only age lapses it)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from groundwork.cache.claims import ClaimBook, Owner, claim_id
from groundwork.cache.store import CacheStore
from pipeline.config import PriorsConfig
from pipeline.generation import generate_claimed
from pipeline.report import RunReport
from pipeline.stages.claim import ClaimingDecodeStage
from pipeline.stages.write import prior_table

KIND = "query_rewrite"
PROV = {
    "model": "m",
    "model_revision": "r",
    "prompt_id": "rewrite_query",
    "prompt_version": 1,
    "prompt_sha256": "s",
    "sampling": "{}",
    "backend": "fake",
}
VIDEOS = ("v0", "v1", "v2")


def _plan() -> tuple[list[dict], dict]:
    todo, planned = [], {}
    for vid in VIDEOS:
        reqs = [
            {
                "kind": KIND,
                "key": f"{vid}-k{i}",
                "query_id": f"{vid}-q{i}",
                "t_start": 0.0,
                "t_end": 0.0,
                "frame_times": [],
                "prompt_vars": {},
            }
            for i in range(3)
        ]
        planned[vid] = {KIND: [[r["key"], r["query_id"]] for r in reqs]}
        todo.append({"video_id": vid, "path": "", "duration": 10.0, "video_sha256": "", "requests": json.dumps(reqs)})
    return todo, planned


def _unit(vid: str) -> str:
    return claim_id(KIND, [f"{vid}-k{i}" for i in range(3)])


def _write(store: CacheStore, keys: list[str], who: str) -> None:
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = [
        {
            "key": k,
            "kind": KIND,
            "video_id": k.split("-")[0],
            "video_sha256": "",
            "query_id": "",
            "t_start": 0.0,
            "t_end": 0.0,
            "text": f"{who} {k}",
            "text_sha256": "",
            "n_prompt_tokens": 0,
            "n_output_tokens": 0,
            "latency_ms": 0.0,
            "status": "ok",
            "error_type": "",
            "error": "",
            "raw": "",
            "sampling_used": "",
        }
        for k in keys
    ]
    store.write_priors(KIND, prior_table(rows, PROV, created))


class GraphStandIn:
    """Claims like the graph (its real decode stage), then writes a row per request it kept."""

    def __init__(self, store: CacheStore) -> None:
        self.store = store
        self.generated: list[str] = []

    def __call__(self, rows: list[dict], claims: ClaimBook) -> None:
        batch = {c: [r[c] for r in rows] for c in ("video_id", "path", "video_sha256", "requests")}
        out = ClaimingDecodeStage(sampler=None, claims=claims).process_batch(batch)  # type: ignore[arg-type]
        if out["key"]:
            _write(self.store, list(out["key"]), "me")
            self.generated.extend(out["key"])


def _config(tmp: Path, **kw) -> PriorsConfig:  # noqa: ANN003
    return PriorsConfig(dataset="demo", annotations=tmp, model="m", claim_ttl_s=kw.pop("ttl", 0.8), **kw)


def _other(store: CacheStore, ttl_s: float = 0.8) -> ClaimBook:
    return ClaimBook(store.root, Owner("other-run", "elsewhere/pid:[1]", 1, "1"), ttl_s)


def _all_keys_once(store: CacheStore) -> dict[str, str]:
    table = store.priors(KIND)
    raw = sum(1 for _ in (store.root / "priors" / KIND).glob("*.parquet"))
    assert raw >= 1
    keys = table.column("key").to_pylist()
    assert sorted(keys) == sorted(f"{v}-k{i}" for v in VIDEOS for i in range(3))
    return dict(zip(keys, table.column("text").to_pylist(), strict=True))


def test_waits_for_the_units_a_live_run_holds(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    other = _other(store)
    assert other.claim(KIND, _unit("v1"))
    path = other.path(KIND, _unit("v1"))

    def the_other_run() -> None:  # renews its claim, writes its rows after a second, finishes
        with other.heartbeat([path]):
            time.sleep(1.0)
            _write(store, [f"v1-k{i}" for i in range(3)], "other")
        other.finish([path])

    thread = threading.Thread(target=the_other_run)
    thread.start()
    todo, planned = _plan()
    graph, report = GraphStandIn(store), RunReport()
    generate_claimed(_config(tmp_path), store, todo, planned, report, graph)
    thread.join()
    texts = _all_keys_once(store)
    assert sorted(graph.generated) == sorted(f"{v}-k{i}" for v in ("v0", "v2") for i in range(3))
    assert {texts[f"v1-k{i}"] for i in range(3)} == {f"other v1-k{i}" for i in range(3)}
    assert (report.claims_generated, report.claims_waited, report.claims_taken_over, report.claims_forced) == (
        2,
        1,
        0,
        0,
    )
    assert report.claim_wait_seconds < 10
    book = ClaimBook(store.root, Owner.this_process("later"), done_since=0.0)
    assert {book.state(KIND, _unit(v)) for v in VIDEOS} == {"done"}  # every unit finished


def test_takes_over_a_claim_that_lapses_without_rows(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    crashed = _other(store, ttl_s=0.8)  # a run on another host that died holding v2: nobody renews it
    assert crashed.claim(KIND, _unit("v2"))
    _write(store, ["v2-k0"], "crashed")  # it wrote one row before it died
    todo, planned = _plan()
    todo = [
        {**r, "requests": json.dumps([q for q in json.loads(r["requests"]) if q["key"] != "v2-k0"])} for r in todo
    ]  # the plan saw that row
    graph, report = GraphStandIn(store), RunReport()
    start = time.monotonic()
    generate_claimed(_config(tmp_path, ttl=0.8), store, todo, planned, report, graph)
    assert time.monotonic() - start < 8.0  # not blocked beyond the expiry (and a poll)
    texts = _all_keys_once(store)
    assert texts["v2-k0"] == "crashed v2-k0" and "v2-k0" not in graph.generated
    assert {"v2-k1", "v2-k2"} <= set(graph.generated) and len(graph.generated) == len(set(graph.generated)) == 8
    assert (report.claims_generated, report.claims_taken_over) == (2, 1)
    assert report.claim_wait_seconds >= 0.5


def test_a_unit_finished_after_the_plan_is_not_generated_again(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    todo, planned = _plan()  # planned while nothing was cached ...
    other = _other(store)
    assert other.claim(KIND, _unit("v0"))
    _write(store, [f"v0-k{i}" for i in range(3)], "other")  # ... then another run did v0
    other.finish([other.path(KIND, _unit("v0"))])
    graph, report = GraphStandIn(store), RunReport()
    generate_claimed(_config(tmp_path), store, todo, planned, report, graph)
    assert not any(k.startswith("v0") for k in graph.generated)
    assert (report.claims_generated, report.claims_waited) == (2, 1)
    _all_keys_once(store)


def test_after_claim_wait_s_the_held_units_are_generated_anyway(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    other = _other(store, ttl_s=60.0)
    assert other.claim(KIND, _unit("v1"))  # held, fresh for a minute, never written
    todo, planned = _plan()
    graph, report = GraphStandIn(store), RunReport()
    generate_claimed(_config(tmp_path, claim_wait_s=0.5), store, todo, planned, report, graph)
    assert (report.claims_generated, report.claims_forced) == (2, 1) and len(graph.generated) == 9
    _all_keys_once(store)
    assert other.state(KIND, _unit("v1")) == "mine"  # its claim is still its own


def test_a_failed_pass_frees_its_claims(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    todo, planned = _plan()

    def dies(rows: list[dict], claims: ClaimBook) -> None:
        GraphStandIn(store)(rows[:1], claims)  # v0 claimed and written, then the engine dies
        msg = "engine died"
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="engine died"):
        generate_claimed(_config(tmp_path), store, todo, planned, RunReport(), dies)
    assert not list((tmp_path / "claims").rglob("*.json"))  # nothing left for the next run to wait on
