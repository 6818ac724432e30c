"""Compaction (``groundwork.cache.compact``) and the temp files a killed writer leaves
(``groundwork.cache.temp_files``), on small real caches written through ``CacheStore``."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from groundwork.atomic import TMP_PREFIX
from groundwork.cache.compact import ShardFolder, cache_folders, compact_folder, keep_rows
from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA
from groundwork.cache.store import CacheStore, _shards, conform
from groundwork.cache.temp_files import collect_garbage, temp_files
from groundwork.errors import InputError


def prior_rows(
    keys: list[str], status: str = "ok", created_at: str = "2026-01-01T00:00:00+00:00", text: str = "t"
) -> pa.Table:
    n = len(keys)
    cols = {f.name: pa.nulls(n, f.type) for f in PRIOR_SCHEMA}
    cols.update(
        key=pa.array(keys),
        kind=pa.array(["narrative"] * n),
        video_id=pa.array(["v"] * n),
        t_start=pa.array([float(i) for i in range(n)]),
        t_end=pa.array([float(i) for i in range(n)]),
        text=pa.array([f"{text} {k}" for k in keys]),
        status=pa.array([status] * n),
        error_type=pa.array(["" if status == "ok" else "model_error"] * n),
        created_at=pa.array([created_at] * n),
    )
    return pa.table(cols, schema=PRIOR_SCHEMA)


def folder_of(store: CacheStore, kind: str = "narrative") -> ShardFolder:
    """The kind's folder as ``cache_folders`` lists it (built directly while it does not exist yet)."""
    listed = [f for f in cache_folders(store) if f.label == f"priors/{kind}"]
    return listed[0] if listed else ShardFolder(store.prior_dir(kind), PRIOR_SCHEMA, "key", f"priors/{kind}")


def test_keep_rows_prefers_newest_ok_then_error_without_ok() -> None:
    table = pa.concat_tables(
        [
            prior_rows(["a", "b"], created_at="2026-01-01T00:00:00+00:00", text="old"),
            prior_rows(["a"], created_at="2026-03-01T00:00:00+00:00", text="new"),
            prior_rows(["a", "c"], status="error", created_at="2026-05-01T00:00:00+00:00", text="failed"),
            prior_rows(["c"], status="error", created_at="2026-06-01T00:00:00+00:00", text="failed again"),
        ]
    )
    kept = {r["key"]: r for r in keep_rows(table, "key").to_pylist()}
    assert set(kept) == {"a", "b", "c"}
    assert (kept["a"]["status"], kept["a"]["text"]) == ("ok", "new a")  # a newer error does not win over ok
    assert kept["b"]["text"] == "old b"
    assert (kept["c"]["status"], kept["c"]["text"]) == ("error", "failed again c")  # newest of its errors


def test_compaction_merges_small_shards_and_keeps_what_readers_read(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    for i in range(12):
        store.write_priors("narrative", prior_rows([f"k{i}", f"k{i + 1}"], created_at=f"2026-01-{i + 1:02d}T00:00:00"))
    store.write_priors("narrative", prior_rows(["bad", "k3"], status="error"))
    before = store.priors("narrative").sort_by("key")
    ok_before, err_before = store.prior_key_status("narrative")

    report = compact_folder(folder_of(store), target_bytes=10**9)
    assert (report.shards_before, report.shards_after, report.merged, report.written) == (13, 1, 13, 1)
    assert (report.rows_in, report.rows_out) == (26, 14)  # k0..k12 and bad, once each
    assert report.bytes_after == sum(p.stat().st_size for p in _shards(store.prior_dir("narrative")))
    assert report.bytes_after < report.bytes_before
    assert store.prior_key_status("narrative") == (ok_before, err_before)
    after = store.priors("narrative").sort_by("key")
    assert after.column("key").to_pylist() == before.column("key").to_pylist()
    rows = {r["key"]: r for r in after.to_pylist()}
    assert rows["k3"]["status"] == "ok" and rows["bad"]["status"] == "error"
    assert rows["k5"]["created_at"] == "2026-01-06T00:00:00"  # k5 is in shards 4 (01-05) and 5 (01-06): newest kept

    again = compact_folder(folder_of(store))
    assert (again.merged, again.written, again.shards_after) == (0, 0, 1)  # one shard: nothing to merge


def test_target_and_small_sizes_bound_the_groups(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    for i in range(6):
        store.write_priors("narrative", prior_rows([f"k{i}"]))
    size = max(p.stat().st_size for p in _shards(store.prior_dir("narrative")))
    dry = compact_folder(folder_of(store), target_bytes=2 * size, dry_run=True)
    assert (dry.merged, dry.written, dry.shards_after, dry.bytes_after) == (6, 3, 3, None)
    assert len(_shards(store.prior_dir("narrative"))) == 6  # a dry run writes nothing
    report = compact_folder(folder_of(store), target_bytes=2 * size)
    assert (report.shards_after, report.written) == (3, 3)
    assert compact_folder(folder_of(store), small_bytes=1).merged == 0  # nothing is small
    assert len(store.priors("narrative")) == 6


def test_text_features_and_older_shards_missing_a_column(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    folder = store.text_dir("enc")
    folder.mkdir(parents=True)
    # a shard from before the schema gained its newest column(s): written with only the first ones
    old_schema = pa.schema(list(TEXT_FEATURE_SCHEMA)[:4])
    pq.write_table(
        pa.table({"text_sha256": ["h0"], "encoder": ["enc"], "text": ["zero"], "dim": [2]}, schema=old_schema),
        folder / "part-old.parquet",
    )
    for i in (1, 2, 1):
        row = {f.name: [None] for f in TEXT_FEATURE_SCHEMA}
        row.update(text_sha256=[f"h{i}"], encoder=["enc"], text=[f"t{i}"], dim=[2], sentence=[[0.5, float(i)]])
        store.write_text_features("enc", pa.table(row, schema=TEXT_FEATURE_SCHEMA))
    (text_folder,) = [f for f in cache_folders(store) if f.label == "text/enc"]
    report = compact_folder(text_folder)
    assert (report.shards_before, report.shards_after, report.rows_out) == (4, 1, 3)
    got = {r["text_sha256"]: r for r in store.text_features("enc").to_pylist()}
    assert set(got) == {"h0", "h1", "h2"} and got["h2"]["sentence"] == [0.5, 2.0] and got["h0"]["sentence"] is None
    assert conform(pq.read_table(_shards(folder)[0]), TEXT_FEATURE_SCHEMA).schema == TEXT_FEATURE_SCHEMA


def test_a_shard_gone_before_the_merge_read_it_leaves_the_group_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CacheStore(tmp_path)
    for i in range(3):
        store.write_priors("narrative", prior_rows([f"k{i}"]))
    victim = _shards(store.prior_dir("narrative"))[0]
    real_read = pq.read_table

    def racing_read(path, *args, **kwargs):  # another compaction merged this shard away meanwhile
        if Path(path) == victim:
            raise FileNotFoundError(2, "No such file", str(victim))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", racing_read)
    report = compact_folder(folder_of(store))
    assert report.merged == 0 and len(report.skipped) == 1 and victim.name in report.skipped[0]
    monkeypatch.undo()
    assert len(_shards(store.prior_dir("narrative"))) == 3  # nothing deleted


def test_readers_and_a_writer_beside_repeated_compactions(tmp_path: Path) -> None:
    """A writer adds shards and a reader reads the whole kind while compaction runs in a loop: the
    reader never fails and never sees fewer rows than were complete before its read began; in
    the end every written row is there once."""
    store = CacheStore(tmp_path)
    n_writes, written, errors, seen = 120, [], [], []
    done = threading.Event()

    def write() -> None:
        for i in range(n_writes):
            store.write_priors("narrative", prior_rows([f"w{i}", f"w{i}-b"]))
            written.append(i)
        done.set()

    def read() -> None:
        while not done.is_set():
            floor = 2 * len(written)
            try:
                n = len(store.priors("narrative"))
                ok, _ = store.prior_key_status("narrative")
            except Exception as exc:  # noqa: BLE001 - the test reports any failure of a reader
                errors.append(repr(exc))
                return
            if n < floor or len(ok) < floor:
                errors.append(f"read {n} rows ({len(ok)} ok keys) after {floor} were written")
            seen.append(n)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    merged = 0
    while not done.is_set():
        merged += compact_folder(folder_of(store)).merged
        time.sleep(0.01)
    for t in threads:
        t.join(timeout=60)
    merged += compact_folder(folder_of(store)).merged
    assert errors == []
    assert merged > 0 and len(seen) > 0
    keys = store.priors("narrative").column("key").to_pylist()
    assert sorted(keys) == sorted(k for i in range(n_writes) for k in (f"w{i}", f"w{i}-b"))
    assert len(_shards(store.prior_dir("narrative"))) == 1


def test_temp_files_older_than_the_threshold_are_removed(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    store.write_priors("narrative", prior_rows(["k"]))
    folder = store.prior_dir("narrative")
    old = folder / f"{TMP_PREFIX}aaaa-part-x.parquet"
    old.write_bytes(b"12345")
    young = tmp_path / "text" / "enc" / f"{TMP_PREFIX}bbbb-part-y.parquet"
    young.parent.mkdir(parents=True)
    young.write_bytes(b"1")
    old_dir = tmp_path / "runs" / f"{TMP_PREFIX}cccc-ckpt"
    (old_dir / "sub").mkdir(parents=True)
    (old_dir / "sub" / "w.bin").write_bytes(b"123")
    hour_ago = time.time() - 2 * 3600
    for p in (old, old_dir / "sub" / "w.bin", old_dir / "sub", old_dir):
        os.utime(p, (hour_ago, hour_ago))

    found = {f.path: f for f in temp_files(tmp_path)}
    assert set(found) == {old, young, old_dir}
    assert (found[old].bytes, found[old_dir].bytes, found[old_dir].folder) == (5, 3, True)
    dry = collect_garbage(tmp_path, dry_run=True)
    assert {f.path for f in dry.removed} == {old, old_dir} and old.exists()
    report = collect_garbage(tmp_path)
    assert {f.path for f in report.removed} == {old, old_dir} and [f.path for f in report.kept] == [young]
    assert not old.exists() and not old_dir.exists() and young.exists()
    assert report.as_dict()["removed_bytes"] == 8
    assert len(store.priors("narrative")) == 1  # shards are never touched
    with pytest.raises(InputError, match="running writer"):
        collect_garbage(tmp_path, older_than_s=5)


def test_a_temp_folder_with_a_fresh_file_is_young(tmp_path: Path) -> None:
    folder = tmp_path / f"{TMP_PREFIX}dddd-ckpt"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"1")  # being written now
    hour_ago = time.time() - 2 * 3600
    os.utime(folder, (hour_ago, hour_ago))
    assert collect_garbage(tmp_path).removed == [] and folder.exists()
