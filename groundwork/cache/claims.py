"""Work claims in a shared cache, so that two runs over overlapping videos generate each key once.

What is claimed: one *unit* of work, a prior kind on one video (the graph works video by video).
Claims cover generation, the model calls that cost GPU hours; the text encoder's pass over query
texts is not claimed (two runs may both embed a query, which readers dedupe).
Its claim id is the hash of the kind and the unit's full planned key list (cached or not), so two
runs with the same model, prompt, sampling and plan settings name the same unit the same way,
and runs that would produce different keys never block each other.

Where claims live: ``<cache>/claims/<kind>/<claim id>.json`` (beside ``priors/``, never inside it,
so shard readers, ``priors compact`` and ``priors gc`` of shards do not see them). A claim file
holds its owner: the run (a random id), the host (hostname and pid namespace), the driver's pid
and that process's start time, the time-to-live, and the video.

How a claim is taken: the file is written under a ``.tmp-*`` name and hard-linked to its final
name, which fails when the name exists; so exactly one run gets a free unit and nobody ever reads
half a claim (where the file system has no hard links: ``O_CREAT | O_EXCL``).

When a claim lapses: its file was not touched for ``ttl_s`` seconds (the owner's driver touches
every claim it holds every ``ttl_s / 4`` s while it runs: ``ClaimBook.heartbeat``), or its owner
ran on this host and that process is gone (a killed run's claims lapse at once for a rerun on
the same machine; elsewhere after ``ttl_s``). Times come from the files' modification times, so
hosts sharing a cache over NFS compare the server's clock with their own: keep ``ttl_s`` well
above their clock skew.

Taking over a lapsed claim: rename it to a ``.tmp-*`` name (one run wins the rename), check that
what was renamed is still the lapsed claim (else put it back), then claim the unit as if free.
Two runs that both find the same lapsed claim in the same instant can, rarely, both generate that
unit: the result is unchanged (readers keep one row per key), only that unit is paid twice.

On an object store (a ``StorePath`` cache, ``groundwork.cache.fs``) there are no hard links, no
exclusive creates and no atomic renames, so claims there are best effort: a run writes its claim
where none is, waits ``STORE_SETTLE_S`` and reads it back, and has the unit when the claim read
back is its own (the store keeps the last write). Two runs whose writes straddle that wait can
both generate a unit, as can two that take over the same lapsed claim at once: the result is
unchanged (readers keep one row per key), only that unit is paid twice. Renewing rewrites the
claim (an object's time is its last write, by the store's clock).

Finishing: when a run's rows for its units are written, it turns its claims into *done markers*
(the same file with the time it finished). A run that read the cache's keys before that time
(``ClaimBook.done_since``) and so planned the unit as missing skips it instead of generating it
twice; a marker older than that is stale (the run saw the rows, or they were deleted since) and
is claimed over. A run that fails removes its claims; a run that was killed cannot, so each run
starts by removing the claims of its kinds whose owner ran on its host and is gone
(``ClaimBook.clear_gone``). Markers are tiny, one per unit; a clean-up may remove old ones
(``stale_claims``).

What a run does with units another run holds (``pipeline.generation``): it generates the rest
first, then polls the cache: a unit whose keys all appeared was done by the other run; a unit whose
claim lapsed, or was finished or removed without its keys, is taken over and generated; after
``wait_s`` of waiting, units still held are generated anyway (paid twice, never missing). The run
report counts each case.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from groundwork.atomic import atomic_write_text, temp_name
from groundwork.cache.fs import CachePath, StorePath, cache_location
from groundwork.cache.hashing import cache_key
from groundwork.cache.layout import KIND_NAME

CLAIMS_DIR = "claims"
STORE_SETTLE_S = 0.25  # object stores: how long a claim written is left before it is read back
State = Literal["free", "done", "mine", "held", "lapsed"]


def _host() -> str:
    """This machine as claims name it: hostname plus pid namespace (containers on one host that
    share a hostname still tell their pids apart)."""
    try:
        ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        ns = ""
    return f"{socket.gethostname()}/{ns}"


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, from ``/proc``), "" where unknown:
    with the pid it tells a live owner from a new process that reuses a dead one's pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        pass
    return not start or _start_time(pid) in ("", start)


@dataclass(frozen=True)
class Owner:
    """Who holds a claim: a run, on a host, driven by a process."""

    run: str
    host: str
    pid: int
    pid_start: str

    @classmethod
    def this_process(cls, run: str | None = None) -> Owner:
        pid = os.getpid()
        return cls(run or uuid.uuid4().hex, _host(), pid, _start_time(pid))

    def gone(self) -> bool:
        """True when the owner ran on this host and its process no longer exists."""
        return self.host == _host() and not _alive(self.pid, self.pid_start)


def claim_id(kind: str, keys: Iterable[str]) -> str:
    """The unit's name: the kind and its full planned key list (order does not matter)."""
    return cache_key({"claim": kind, "keys": sorted(keys)})


@dataclass(frozen=True)
class Claim:
    """A claim file's content and age; ``done_at`` is set once its owner wrote the unit's rows."""

    owner: Owner
    ttl_s: float
    video_id: str
    age_s: float  # seconds since its owner last touched it
    done_at: float | None = None  # wall-clock time the unit was finished (a done marker)

    def lapsed(self) -> bool:
        """A claim whose owner stopped renewing it, or is gone (a done marker never lapses)."""
        return self.done_at is None and (self.age_s > self.ttl_s or self.owner.gone())

    def done_since(self, since: float | None) -> bool:
        """A done marker written at or after ``since`` (any, when ``since`` is None)."""
        return self.done_at is not None and (since is None or self.done_at >= since)


class ClaimBook:
    """The claims of one cache, seen by one run (``owner``). Picklable: Ray workers of the run
    take claims in its name, and the run's driver renews them. ``done_since``: the time the run
    last read the cache's keys; a unit finished (done marker) after it is not claimed again,
    since its rows were written after the run planned it."""

    def __init__(
        self, cache_root: str | os.PathLike, owner: Owner, ttl_s: float = 120.0, done_since: float | None = None
    ) -> None:
        if ttl_s <= 0:
            msg = f"claim time-to-live {ttl_s}: give a positive number of seconds"
            raise ValueError(msg)
        self.root = cache_location(cache_root) / CLAIMS_DIR
        self.owner = owner
        self.ttl_s = float(ttl_s)
        self.done_since = done_since

    def kind_dir(self, kind: str) -> Path:
        """The folder of ``kind``'s claims."""
        if not KIND_NAME.match(kind):
            msg = f"prior kind {kind!r} is not a valid name (lower-case letters, digits and '_')"
            raise ValueError(msg)
        return self.root / kind

    def path(self, kind: str, cid: str) -> Path:
        return self.kind_dir(kind) / f"{cid}.json"

    # -- reading ----------------------------------------------------------------------
    def read(self, path: Path) -> Claim | None:
        """The claim at ``path``, None when there is none. An unreadable file counts as a fresh
        claim of an unknown owner (it lapses after the default time-to-live)."""
        try:
            st = path.stat()
            data = json.loads(path.read_text(encoding="utf-8"))
            owner = Owner(**data["owner"])
            ttl, video = float(data["ttl_s"]), str(data.get("video_id", ""))
            done = None if data.get("done_at") is None else float(data["done_at"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            owner, ttl, video, done = Owner("?", "?", -1, ""), self.ttl_s, "", None
        return Claim(owner, ttl, video, max(0.0, time.time() - st.st_mtime), done)

    def state(self, kind: str, cid: str) -> State:
        """free (no claim, or a done marker older than ``done_since``), done (a newer marker), mine,
        held (another run's live claim) or lapsed."""
        claim = self.read(self.path(kind, cid))
        if claim is None:
            return "free"
        if claim.done_at is not None:
            return "done" if claim.done_since(self.done_since) else "free"
        if claim.owner.run == self.owner.run:
            return "mine"
        return "lapsed" if claim.lapsed() else "held"

    # -- taking, renewing, finishing ---------------------------------------------------------
    def claim(self, kind: str, cid: str, video_id: str = "", honour_done: bool = True) -> bool:
        """Take the unit: True when it is this run's now (free, already ours, or taken over from a
        lapsed claim or an old done marker), False while another run holds it or, with
        ``honour_done``, when it was finished since ``done_since``."""
        path = self.path(kind, cid)
        for _ in range(3):
            if self._create(path, video_id):
                return True
            current = self.read(path)
            if current is None:
                continue  # released between the two looks: try again
            if current.done_at is None and current.owner.run == self.owner.run:
                return True
            if honour_done and current.done_since(self.done_since):
                return False
            if not self._takeable(current) or not self._remove(path, current):
                return False
        return False

    def _takeable(self, claim: Claim) -> bool:
        return claim.done_at is not None or claim.lapsed()

    def _create(self, path: CachePath, video_id: str) -> bool:
        body = json.dumps(
            {"owner": asdict(self.owner), "ttl_s": self.ttl_s, "video_id": video_id, "created": time.time()}
        ).encode()
        if isinstance(path, StorePath):
            return self._create_in_store(path, body)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(path)
        try:
            tmp.write_bytes(body)
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                return False
            except OSError:  # no hard links here: exclusive create (a reader may see it empty briefly)
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                return True
        finally:
            tmp.unlink(missing_ok=True)

    def _create_in_store(self, path: StorePath, body: bytes) -> bool:
        """Best effort where nothing is exclusive (module docstring): write, settle, read back."""
        if path.exists():
            return False
        path.write_bytes(body)
        time.sleep(STORE_SETTLE_S)
        current = self.read(path)
        return current is not None and current.done_at is None and current.owner.run == self.owner.run

    def _remove(self, path: CachePath, seen: Claim) -> bool:
        """Move a lapsed claim or a done marker (``seen``) out of the way; False when what moved
        was something else, taken in between (it is put back). On an object store: delete it
        when it is still the claim seen (best effort, module docstring)."""
        if isinstance(path, StorePath):
            now = self.read(path)
            if now is None:
                return True
            if now.owner.run != seen.owner.run or now.done_at != seen.done_at or not self._takeable(now):
                return False
            path.unlink(missing_ok=True)
            return True
        tomb = temp_name(path)
        try:
            os.rename(path, tomb)
        except FileNotFoundError:
            return True  # someone else removed it: the name is free
        moved = self.read(tomb)
        if (
            moved is not None
            and moved.owner.run == seen.owner.run
            and moved.done_at == seen.done_at
            and (self._takeable(moved))
        ):
            tomb.unlink(missing_ok=True)
            return True
        with contextlib.suppress(OSError):
            os.link(tomb, path)  # a live claim taken in between: give it back (unless the name is taken again)
        tomb.unlink(missing_ok=True)
        return False

    def _mine(self, paths: Iterable[Path]) -> Iterator[Path]:
        for path in paths:
            claim = self.read(path)
            if claim is not None and claim.done_at is None and claim.owner.run == self.owner.run:
                yield path

    def renew(self, paths: Iterable[Path]) -> int:
        """Touch each of ``paths`` that is this run's claim; returns how many."""
        n = 0
        for path in self._mine(paths):
            with contextlib.suppress(FileNotFoundError):
                if isinstance(path, StorePath):  # an object's time is its last write
                    path.write_bytes(path.read_bytes())
                else:
                    os.utime(path)
                n += 1
        return n

    def finish(self, paths: Iterable[Path]) -> int:
        """Turn each of ``paths`` that is this run's claim into a done marker (its rows are in the
        cache): a run that planned the unit before now does not generate it again."""
        n = 0
        for path in self._mine(paths):
            claim = self.read(path)
            body = json.dumps(
                {
                    "owner": asdict(self.owner),
                    "ttl_s": self.ttl_s,
                    "video_id": claim.video_id if claim else "",
                    "done_at": time.time(),
                }
            )
            atomic_write_text(path, body)
            n += 1
        return n

    def release(self, paths: Iterable[Path]) -> int:
        """Remove each of ``paths`` that is this run's claim (the unit was not finished)."""
        n = 0
        for path in self._mine(paths):
            path.unlink(missing_ok=True)
            n += 1
        return n

    def clear_gone(self, kinds: Iterable[str]) -> int:
        """Remove the claims (not done markers) of ``kinds`` whose owner ran on this host and is
        gone; returns how many. A run killed after it wrote a unit's rows but before it marked the
        unit done leaves such a claim, and no rerun plans that unit again to take it over. On an
        object store nothing is removed here: claims there lapse after their time-to-live."""
        if isinstance(self.root, StorePath):
            return 0
        n = 0
        for kind in kinds:
            for path in sorted(self.kind_dir(kind).glob("*.json")):
                claim = self.read(path)
                if claim is not None and claim.done_at is None and claim.owner.gone() and self._remove(path, claim):
                    n += 1
        return n

    @contextlib.contextmanager
    def heartbeat(self, paths: Iterable[Path]) -> Iterator[None]:
        """While the block runs, a thread touches every claim of ``paths`` that is ours every
        ``ttl_s / 4`` seconds (claims taken by Ray workers in this run's name included)."""
        watched = list(paths)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl_s / 4):
                self.renew(watched)

        thread = threading.Thread(target=beat, name="claims-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def stale_claims(cache_root: str | os.PathLike, done_older_than_s: float = 7 * 86400.0) -> list[Path]:
    """Claim files a clean-up may remove: lapsed claims, and done markers older than
    ``done_older_than_s`` (a marker only matters to runs that planned before it was written)."""
    book = ClaimBook(cache_root, Owner("", "", -1, ""))
    now = time.time()
    return sorted(
        p
        for p in book.root.glob("*/*.json")
        if (c := book.read(p)) is not None
        and (c.lapsed() or (c.done_at is not None and now - c.done_at > done_older_than_s))
    )
