"""A cache on an object store (``groundwork.cache.fs``): pyarrow's real S3 client against moto's S3
server on localhost (``tests.s3_server``). The same cache code as on a local disk: shards written
whole with no ``.tmp-*`` objects left, filtered reads, compaction, ``priors gc`` / ``status``
listings, and best-effort work claims; plus the local side of ``cache_location``."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from groundwork.atomic import TMP_PREFIX, atomic_write
from groundwork.cache.claims import ClaimBook, Owner, stale_claims
from groundwork.cache.compact import cache_folders, compact_folder
from groundwork.cache.fs import StorePath, cache_location, is_uri, location_text, readable
from groundwork.cache.layout import PRIOR_SCHEMA
from groundwork.cache.store import TEXT_ROW_GROUP_ROWS, CacheStore, read_matching, read_parquet
from groundwork.cache.temp_files import collect_garbage, temp_files
from tests.groundwork.test_compact import folder_of, prior_rows
from tests.groundwork.test_store import ENCODER, text_rows
from tests.s3_server import s3_endpoint, s3_uri  # noqa: F401 - fixtures


def test_local_locations_stay_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_location("~/c") == tmp_path / "c"
    assert cache_location(f"file://{tmp_path}/c") == tmp_path / "c"
    assert cache_location(tmp_path) == tmp_path
    assert not is_uri("/a/b") and not is_uri("file:///a") and is_uri("s3://b/p") and is_uri("gs://b")
    assert location_text(tmp_path / "c") == str(tmp_path / "c")
    with pytest.raises(ValueError, match="pyarrow cannot open it"):
        cache_location("nosuchscheme://bucket/x")


def _objects(root: StorePath) -> list[str]:
    return [p.path[len(root.path) + 1 :] for p in root.rglob("*") if p.is_file()]


def test_a_store_path_acts_like_a_path(s3_uri) -> None:  # noqa: ANN001, F811
    root = cache_location(s3_uri())
    assert isinstance(root, StorePath) and root.object_store
    assert cache_location(str(root)) == root and pickle.loads(pickle.dumps(root)) == root  # the URI survives
    assert location_text(root) == str(root) and "endpoint_override=" in str(root)
    assert not root.exists()
    note = root / "a" / "note.txt"
    note.write_text("hello")
    assert note.read_text() == "hello" and note.is_file() and (root / "a").is_dir() and root.is_dir()
    assert (note.name, note.stem, note.suffix, note.parent) == ("note.txt", "note", ".txt", root / "a")
    assert note.stat().st_size == 5 and abs(note.stat().st_mtime - time.time()) < 120
    (root / "a" / "b" / "deep.json").write_text("{}")
    assert [p.name for p in root.glob("*/*.txt")] == ["note.txt"]
    assert [p.name for p in root.glob("*/*/*.json")] == ["deep.json"]
    assert [p.name for p in (root / "a").iterdir()] == ["b", "note.txt"]
    with pytest.raises(FileNotFoundError):
        (root / "missing").read_bytes()
    with pytest.raises(FileNotFoundError):
        (root / "missing").stat()
    note.unlink()
    note.unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        note.unlink()
    assert _objects(root) == ["a/b/deep.json"]


def test_a_write_lands_whole_and_leaves_no_temp_object(s3_uri) -> None:  # noqa: ANN001, F811
    root = cache_location(s3_uri())
    target = root / "visual" / "clip" / "v1.npz"
    atomic_write(target, lambda tmp: np.savez(tmp, features=np.ones((3, 2), np.float32)))
    with np.load(readable(target)) as data:
        assert data["features"].shape == (3, 2)

    def fails(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(root / "visual" / "clip" / "v2.npz", fails)
    assert _objects(root) == ["visual/clip/v1.npz"]  # nothing of the failed write, no .tmp-* object
    assert temp_files(root) == [] and collect_garbage(root).removed == []


def test_where_renames_exist_a_write_goes_through_a_temp_name() -> None:
    root = StorePath.from_uri("mock:///cache")  # pyarrow's in-memory test file system: not an object store
    assert not root.object_store
    target = root / "visual" / "clip" / "v1.npy"
    atomic_write(target, lambda tmp: np.save(tmp, np.arange(3)))
    assert np.load(readable(target)).tolist() == [0, 1, 2]

    def fails(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(root / "visual" / "clip" / "v2.npy", fails)
    assert _objects(root) == ["visual/clip/v1.npy"] and temp_files(root) == []


def test_priors_and_text_features_round_trip_on_s3(s3_uri) -> None:  # noqa: ANN001, F811
    store = CacheStore(s3_uri())
    store.write_priors("narrative", prior_rows(["a", "b"]))
    store.write_priors("narrative", prior_rows(["b", "c"], status="error"))
    assert store.prior_kinds() == ["narrative"]
    assert store.prior_key_status("narrative") == ({"a", "b"}, {"c"})
    got = {r["key"]: r["status"] for r in store.priors("narrative", keys=["b", "c", "zz"]).to_pylist()}
    assert got == {"b": "ok", "c": "error"}  # the ok row of b wins over its error row

    shas = [f"s{i:04d}" for i in range(TEXT_ROW_GROUP_ROWS + 10)]
    store.write_text_features(ENCODER, text_rows(shas))
    assert store.text_hashes(ENCODER) == set(shas)
    wanted = store.text_features(ENCODER, ["s0003", f"s{TEXT_ROW_GROUP_ROWS + 2:04d}"])  # one per row group
    assert [r[0] for r in wanted.column("sentence").to_pylist()] == [3.0, TEXT_ROW_GROUP_ROWS + 2.0]
    assert not any(name.split("/")[-1].startswith(TMP_PREFIX) for name in _objects(store.root))
    gone = store.prior_dir("narrative") / "part-compacted-away.parquet"  # read_shards lists again on this error
    with pytest.raises(FileNotFoundError):
        read_parquet(gone)
    with pytest.raises(FileNotFoundError):
        read_matching(gone, PRIOR_SCHEMA, "key", pa.array(["a"]))


def test_compaction_on_s3_keeps_every_row(s3_uri) -> None:  # noqa: ANN001, F811
    store = CacheStore(s3_uri())
    for i in range(5):
        store.write_priors("narrative", prior_rows([f"k{i}", f"k{i + 1}"], created_at=f"2026-01-0{i + 1}T00:00:00"))
    before = store.priors("narrative").sort_by("key")
    assert [f.label for f in cache_folders(store)] == ["priors/narrative"]
    report = compact_folder(folder_of(store))
    assert (report.shards_before, report.shards_after, report.rows_in, report.rows_out) == (5, 1, 10, 6)
    assert report.bytes_after < report.bytes_before
    after = store.priors("narrative").sort_by("key")
    assert after.column("key").to_pylist() == before.column("key").to_pylist()
    [shard] = store.prior_dir("narrative").glob("*.parquet")
    assert read_parquet(shard, columns=["key"]).num_rows == 6


def test_claims_on_s3_give_a_unit_to_one_run(s3_uri) -> None:  # noqa: ANN001, F811
    root = s3_uri()
    mine = ClaimBook(root, Owner.this_process("mine"), ttl_s=60.0)
    theirs = ClaimBook(root, Owner("theirs", "elsewhere/pid:[1]", 1, "1"), ttl_s=60.0)
    assert mine.claim("narrative", "u1", "v1")
    assert mine.claim("narrative", "u1")  # already ours
    assert not theirs.claim("narrative", "u1") and theirs.state("narrative", "u1") == "held"
    path = mine.path("narrative", "u1")
    assert isinstance(path, StorePath) and mine.renew([path]) == 1
    assert mine.finish([path]) == 1
    assert theirs.state("narrative", "u1") == "done"  # any marker counts when done_since is None
    late = ClaimBook(root, Owner("late", "elsewhere/pid:[2]", 2, "2"), done_since=time.time() + 60)
    assert late.state("narrative", "u1") == "free" and late.claim("narrative", "u1")  # a stale marker is taken over

    short = ClaimBook(root, Owner("short", "elsewhere/pid:[3]", 3, "3"), ttl_s=1.0)
    assert short.claim("narrative", "u2")
    time.sleep(2.5)  # object times have a resolution of one second
    assert theirs.state("narrative", "u2") == "lapsed" and theirs.claim("narrative", "u2")
    assert stale_claims(root) == []  # u1 is late's live claim, u2 theirs
    assert theirs.release([theirs.path("narrative", "u2")]) == 1 and theirs.state("narrative", "u2") == "free"
