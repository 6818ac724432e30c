"""Work claims (``groundwork.cache.claims``): one owner per unit, lapse by age or by a dead owner on
this host, take-over, renewal, release, and a race of several processes over the same units."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from groundwork.cache.claims import ClaimBook, Owner, claim_id, stale_claims


def _book(root: Path, run: str | None = None, ttl_s: float = 60.0) -> ClaimBook:
    return ClaimBook(root, Owner.this_process(run), ttl_s)


def _other_host(run: str = "far") -> Owner:
    return Owner(run, "elsewhere/pid:[1]", 1, "1")


def test_a_unit_has_one_owner(tmp_path: Path) -> None:
    a, b = _book(tmp_path, "a"), _book(tmp_path, "b")
    cid = claim_id("narrative", ["k2", "k1"])
    assert cid == claim_id("narrative", ["k1", "k2"]) != claim_id("clip_caption", ["k1", "k2"])
    assert a.claim("narrative", cid, "vid0")
    assert a.claim("narrative", cid)  # already ours
    assert not b.claim("narrative", cid)
    assert (a.state("narrative", cid), b.state("narrative", cid)) == ("mine", "held")
    path = a.path("narrative", cid)
    assert path.parent == tmp_path / "claims" / "narrative" and not list(path.parent.glob(".tmp-*"))
    assert b.release([path]) == 0 and path.exists()  # not b's to release
    assert a.release([path]) == 1 and not path.exists()
    assert b.claim("narrative", cid) and b.state("narrative", cid) == "mine"


def test_a_claim_lapses_after_its_ttl_and_is_taken_over(tmp_path: Path) -> None:
    far = ClaimBook(tmp_path, _other_host(), ttl_s=30.0)
    near = _book(tmp_path, "near")
    assert far.claim("event", "u1")
    assert near.state("event", "u1") == "held" and not near.claim("event", "u1")  # another host: age decides
    old = time.time() - 31.0
    os.utime(far.path("event", "u1"), (old, old))
    assert near.state("event", "u1") == "lapsed" and stale_claims(tmp_path) == [far.path("event", "u1")]
    assert near.claim("event", "u1") and near.state("event", "u1") == "mine"
    assert far.state("event", "u1") == "held"
    assert stale_claims(tmp_path) == []


def test_a_dead_owner_on_this_host_lapses_at_once(tmp_path: Path) -> None:
    code = (
        "import sys, time; from groundwork.cache.claims import ClaimBook, Owner; "
        "b = ClaimBook(sys.argv[1], Owner.this_process('dead'), 3600.0); "
        "print(b.claim('narrative', 'u'), flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    me = _book(tmp_path, "me")
    assert me.state("narrative", "u") == "held"  # its owner runs: held whatever its age
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert me.state("narrative", "u") == "lapsed"  # well inside its hour of ttl
    assert me.claim("narrative", "u")


def test_a_new_run_clears_the_claims_of_a_gone_owner_on_this_host(tmp_path: Path) -> None:
    code = "import json, time; from dataclasses import asdict; from groundwork.cache.claims import Owner; "
    code += "print(json.dumps(asdict(Owner.this_process('dead'))), flush=True); time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()}
    )
    assert proc.stdout is not None
    dead = Owner(**json.loads(proc.stdout.readline()))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    gone = ClaimBook(tmp_path, dead, 3600.0)  # a killed run's book, on this host
    assert gone.claim("narrative", "u1") and gone.claim("narrative", "u2") and gone.claim("event", "u3")
    gone.finish([gone.path("narrative", "u2")])  # a done marker: kept
    far = ClaimBook(tmp_path, _other_host(), 3600.0)
    assert far.claim("narrative", "u4")  # another host's: its ttl decides, not this host
    live = _book(tmp_path, "live")
    assert live.claim("narrative", "u5")
    run = _book(tmp_path, "run")
    assert run.clear_gone(["narrative"]) == 1  # u1 only; u3 is of a kind this run does not make
    left = sorted(p.stem for p in (tmp_path / "claims").glob("*/*.json"))
    assert left == ["u2", "u3", "u4", "u5"] and run.state("narrative", "u1") == "free"
    assert run.clear_gone(["narrative", "event"]) == 1 and run.clear_gone(["event"]) == 0


def test_a_reused_pid_is_not_the_owner(tmp_path: Path) -> None:
    me = Owner.this_process("x")
    assert not me.gone()
    impostor = Owner("y", me.host, me.pid, "0")  # this pid, another start time: a different process
    assert impostor.gone() == bool(me.pid_start)


def test_heartbeat_keeps_claims_fresh_and_stops(tmp_path: Path) -> None:
    book = _book(tmp_path, "beat", ttl_s=0.4)
    assert book.claim("narrative", "u")
    path = book.path("narrative", "u")
    with book.heartbeat([path]):
        for _ in range(8):
            time.sleep(0.15)
            assert not book.read(path).lapsed()  # type: ignore[union-attr]  # 1.2 s, 3 ttls, still fresh
    time.sleep(0.6)
    assert book.read(path).lapsed()  # type: ignore[union-attr]  # no beat since: lapsed by age, owner alive


def test_a_done_marker_stops_runs_that_planned_before_it(tmp_path: Path) -> None:
    first = _book(tmp_path, "first")
    planned_before = time.time()
    assert first.claim("narrative", "u")
    path = first.path("narrative", "u")
    assert first.finish([path]) == 1 and first.read(path).done_at >= planned_before  # type: ignore[operator,union-attr]
    assert first.release([path]) == 0 and path.exists()  # a marker is nobody's claim
    late = ClaimBook(tmp_path, Owner.this_process("late"), done_since=planned_before)
    assert late.state("narrative", "u") == "done" and not late.claim("narrative", "u")  # rows written since its plan
    assert late.claim("narrative", "u", honour_done=False)  # its keys are missing after all: take it
    assert first.finish([path]) == 0 and late.state("narrative", "u") == "mine"
    late.finish([path])
    fresh = ClaimBook(tmp_path, Owner.this_process("fresh"), done_since=time.time() + 1.0)
    assert fresh.state("narrative", "u") == "free" and fresh.claim("narrative", "u")  # an older marker: stale
    assert stale_claims(tmp_path) == []
    fresh.finish([path])
    assert stale_claims(tmp_path, done_older_than_s=-1.0) == [path]


def test_putting_back_a_claim_taken_in_between(tmp_path: Path) -> None:
    live = ClaimBook(tmp_path, _other_host("live"), ttl_s=60.0)
    assert live.claim("narrative", "u")
    me = _book(tmp_path, "me")
    # as if this run had seen a lapsed claim of run 'old' and 'live' claimed the unit meanwhile
    seen = live.read(live.path("narrative", "u"))
    assert seen is not None
    assert not me._remove(me.path("narrative", "u"), replace(seen, owner=Owner("old", "x/y", 1, "1")))
    assert live.state("narrative", "u") == "mine" and me.state("narrative", "u") == "held"


def _race(root: str, run: str, units: list[str], out: mp.Queue) -> None:
    book = ClaimBook(root, Owner.this_process(run), 60.0)
    out.put((run, [u for u in dict.fromkeys(units) if book.claim("narrative", u)]))


def test_racing_processes_get_each_unit_once(tmp_path: Path) -> None:
    units = [f"u{i:03d}" for i in range(60)]
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), f"r{i}", units[i::2] + units, out)) for i in range(4)]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    won = [u for _, us in got for u in us]
    assert sorted(won) == units  # every unit once, none twice
    book = _book(tmp_path)
    owners = {book.read(book.path("narrative", u)).owner.run for u in units}  # type: ignore[union-attr]
    assert owners <= {f"r{i}" for i in range(4)}
