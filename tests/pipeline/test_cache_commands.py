"""``priors compact``, ``priors gc`` and the temp-file line of ``priors status``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from groundwork.atomic import TMP_PREFIX
from groundwork.cache.layout import TEXT_FEATURE_SCHEMA
from groundwork.cache.store import CacheStore, _shards
from pipeline.cache.plan_index import plan_index_dir, read_plan_index, write_plan_index
from pipeline.cli import main
from tests.groundwork.test_compact import prior_rows


def small_cache(root: Path) -> CacheStore:
    store = CacheStore(root)
    for i in range(5):
        store.write_priors("narrative", prior_rows([f"n{i}"]))
        store.write_priors("clip_caption", prior_rows([f"c{i}", "c-shared"]))
        row = {f.name: [None] for f in TEXT_FEATURE_SCHEMA}
        row.update(text_sha256=[f"h{i}"], encoder=["enc"], text=[f"t{i}"], dim=[1], sentence=[[float(i)]])
        store.write_text_features("enc", pa.table(row, schema=TEXT_FEATURE_SCHEMA))
        write_plan_index(root, {f"fp{i}": [(f"n{i}", "")]})
    return store


def test_compact_every_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = small_cache(tmp_path)
    plans = read_plan_index(tmp_path)
    assert main(["compact", "--cache", str(tmp_path), "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["total"]["shards_before"] == 20 and dry["total"]["shards_after"] == 4
    assert len(_shards(store.prior_dir("narrative"))) == 5
    assert main(["compact", "--cache", str(tmp_path), "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    folders = {f["folder"]: f for f in done["folders"]}
    assert set(folders) == {"priors/clip_caption", "priors/narrative", "text/enc", "plans"}
    assert {f: (r["shards_before"], r["shards_after"]) for f, r in folders.items()} == dict.fromkeys(folders, (5, 1))
    assert (folders["priors/clip_caption"]["rows_in"], folders["priors/clip_caption"]["rows_out"]) == (10, 6)
    assert done["total"]["bytes_after"] < done["total"]["bytes_before"]
    assert len(store.priors("clip_caption")) == 6 and len(store.text_features("enc")) == 5
    assert read_plan_index(tmp_path) == plans and len(_shards(plan_index_dir(tmp_path))) == 1
    assert main(["compact", "--cache", str(tmp_path)]) == 0
    assert "total" in capsys.readouterr().out


def test_compact_one_kind_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = small_cache(tmp_path)
    assert main(["compact", "--cache", str(tmp_path), "--kind", "narrative", "--json"]) == 0
    assert [f["folder"] for f in json.loads(capsys.readouterr().out)["folders"]] == ["priors/narrative"]
    assert len(_shards(store.prior_dir("clip_caption"))) == 5
    assert main(["compact", "--cache", str(tmp_path), "--kind", "narativ"]) == 2
    assert "has no such prior kind (it has: clip_caption, narrative)" in capsys.readouterr().err
    assert main(["compact", "--cache", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_gc_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_cache(tmp_path)
    stale = tmp_path / "priors" / "narrative" / f"{TMP_PREFIX}dead-part-1.parquet"
    stale.write_bytes(b"x" * 10)
    past = time.time() - 3 * 3600
    os.utime(stale, (past, past))
    fresh = tmp_path / f"{TMP_PREFIX}live-video_hashes.json"
    fresh.write_text("{}")
    assert main(["status", "--cache", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["temp_files"] == {"count": 2, "bytes": 12, "older_than_1h": 1}
    assert main(["status", "--cache", str(tmp_path)]) == 0
    assert "temp files (.tmp-*): 2 (12 bytes), 1 older than 1 h (`priors gc` removes those)" in capsys.readouterr().out
    assert main(["gc", "--cache", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in report["removed"]] == [str(stale)] and report["removed_bytes"] == 10
    assert [r["path"] for r in report["kept_young"]] == [str(fresh)]
    assert not stale.exists() and fresh.exists()
    assert main(["gc", "--cache", str(tmp_path), "--older-than", "1"]) == 2
    assert "may be a running writer's" in capsys.readouterr().err
