"""``pipeline.export`` and ``priors export``: a manifest and its cache as a Hugging Face dataset.

The cache here is written through ``CacheStore`` the way the pipeline writes it (duplicate keys
across shards, error rows, a structured request row beside its item rows, text features) and the
manifest through ``pipeline.manifest.write_manifest``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA, manifest_schema
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError, MissingInputError
from pipeline.cli import main
from pipeline.export import build_export, priors_dataset, write_export
from pipeline.manifest import write_manifest

REPO = Path(__file__).resolve().parents[2]
ENCODER = "fake-encoder"
MODEL = {
    "model": "llava-x",
    "model_revision": "rev1",
    "backend": "transformers",
    "prompt_version": 2,
    "sampling": '{"temperature":0.0}',
}


def prior(
    key: str, kind: str, video: str, text: str, t: float, status: str = "ok", query_id: str = "", **over: object
) -> dict:
    row = {f.name: None for f in PRIOR_SCHEMA}
    prompt = {"narrative": "narrate_frame", "query_rewrite": "rewrite_query"}[kind]
    row.update(
        MODEL,
        key=key,
        kind=kind,
        video_id=video,
        video_sha256=f"sha-{video}",
        query_id=query_id,
        t_start=t,
        t_end=t + 1.0,
        text=text,
        text_sha256=sha256_text(text),
        prompt_id=prompt,
        status=status,
        error_type="" if status == "ok" else "model_error",
        error="" if status == "ok" else "boom",
        created_at="2026-01-01T00:00:00+00:00",
    )
    row.update(over)
    return row


def write_rows(store: CacheStore, kind: str, rows: list[dict]) -> None:
    store.write_priors(kind, pa.Table.from_pylist(rows, schema=PRIOR_SCHEMA))


def vector(text: str) -> list[float]:
    seed = int(sha256_text(text)[:8], 16)
    return np.random.default_rng(seed).standard_normal(4).astype(np.float32).tolist()


QUERIES = [
    ("q1", "v1", "train", "a man opens a door"),
    ("q2", "v1", "train", "he closes it"),
    ("q3", "v2", "test", "a dog barks"),
]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A cache and its manifest: narratives of v1 and v2 (one key in two shards, one failed row,
    one failed row of another model), query rewrites of q1 (a request row and its 3 items)."""
    store = CacheStore(tmp_path / "cache")
    write_rows(
        store,
        "narrative",
        [prior("n1", "narrative", "v1", "a door", 0.0), prior("n2", "narrative", "v1", "a man", 1.0)],
    )
    write_rows(
        store,
        "narrative",
        [
            prior("n2", "narrative", "v1", "a man", 1.0),  # the same key again
            prior("n3", "narrative", "v2", "a dog", 0.0),
            prior("e1", "narrative", "v1", "", 2.0, status="error"),
            prior("e2", "narrative", "v1", "", 3.0, status="error", model="other-model"),
            prior("e3", "narrative", "v9", "", 0.0, status="error"),
        ],
    )  # not this dataset
    rewrites = ["coarse: a man opens a door", "a man opens a door", "fine: a man opens a door"]
    write_rows(
        store,
        "query_rewrite",
        [prior("r", "query_rewrite", "v1", "", 0.0, query_id="q1")]
        + [prior(f"r{i}", "query_rewrite", "v1", t, 0.0, query_id="q1") for i, t in enumerate(rewrites)],
    )
    texts = ["a door", "a man", "a dog", *rewrites, *(q for *_, q in QUERIES)]
    store.write_text_features(
        ENCODER,
        pa.Table.from_pylist(
            [
                {
                    "text_sha256": sha256_text(t),
                    "encoder": ENCODER,
                    "text": t,
                    "dim": 4,
                    "sentence": vector(t),
                    "n_tokens": 0,
                    "tokens": [],
                }
                for t in texts
            ],
            schema=TEXT_FEATURE_SCHEMA,
        ),
    )
    keys = {
        "q1": (["n1", "n2", "n2"], ["r2", "r0", "r1"]),  # a key listed twice; rewrites in the order listed
        "q2": (["n1", "n2"], []),
        "q3": (["n3"], []),
    }
    rows = [
        {
            "query_id": q,
            "video_id": v,
            "split": s,
            "query": text,
            "windows": [[1.0, 2.5]],
            "duration": 10.0,
            "video_sha256": f"sha-{v}",
            "query_sha256": sha256_text(text),
            "narrative_keys": keys[q][0],
            "query_rewrite_keys": keys[q][1],
            "context_query_ids": [],
            "extra": "{}",
        }
        for q, v, s, text in QUERIES
    ]
    table = pa.Table.from_pylist(rows, schema=manifest_schema(["narrative", "query_rewrite"]))
    return write_manifest(tmp_path / "demo.parquet", table, dataset="demo", cache_dir=store.root, text_encoder=ENCODER)


def test_one_clean_row_per_query(built: Path) -> None:
    export = build_export(built, vectors=True)
    assert list(export.tables) == ["test", "train"]
    train = export.tables["train"].to_pylist()
    assert [r["query_id"] for r in train] == ["q1", "q2"]
    q1 = train[0]
    assert q1["windows"] == [[1.0, 2.5]] and q1["duration"] == 10.0
    assert [(p["key"], p["text"], p["t_start"]) for p in q1["narrative"]] == [
        ("n1", "a door", 0.0),
        ("n2", "a man", 1.0),
    ]
    assert [p["text"] for p in q1["query_rewrite"]] == [
        "fine: a man opens a door",
        "coarse: a man opens a door",
        "a man opens a door",
    ]  # manifest order, r2 r0 r1
    assert q1["query_vector"] == pytest.approx(vector("a man opens a door"))
    assert q1["narrative"][1]["vector"] == pytest.approx(vector("a man"))
    assert train[1]["query_rewrite"] == []
    assert export.counts["queries"] == {"test": 1, "train": 2}
    assert export.counts["priors"] == {"narrative": {"test": 1, "train": 4}, "query_rewrite": {"test": 0, "train": 3}}
    assert export.counts["unique_prior_rows"] == {"narrative": 3, "query_rewrite": 3}
    # e1 (this model, this dataset's video) counts; e2 (another model) and e3 (another video) do not
    assert export.counts["errors"]["narrative"] == [
        {"model": "llava-x", "prompt": "narrate_frame@2", "error_type": "model_error", "rows": 1}
    ]
    card = export.card
    for needle in (
        "llava-x",
        "narrate_frame@2",
        "rewrite_query@2",
        ENCODER,
        "| train | 1 | 2 | 4 | 3 |",
        "1 × `model_error`",
        "- split: train",
        "path: data/train-*.parquet",
    ):
        assert needle in card, needle


def test_without_vectors_there_are_no_vector_columns(built: Path) -> None:
    table = build_export(built).tables["train"]
    assert "query_vector" not in table.column_names
    assert set(table.column("narrative").type.value_type.names) == {"key", "t_start", "t_end", "text"}


def test_written_folder_loads_with_datasets_both_ways(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    write_export(built, out, vectors=True)
    from_disk = datasets.load_from_disk(str(out))
    parquet = datasets.load_dataset(
        "parquet",
        data_files={s: str(out / "data" / f"{s}-*.parquet") for s in ("train", "test")},
        cache_dir=str(tmp_path / "hf"),
    )
    helper = priors_dataset(built, vectors=True)
    assert set(from_disk) == set(parquet) == set(helper) == {"train", "test"}
    for split in ("train", "test"):
        assert from_disk[split].to_list() == parquet[split].to_list() == helper[split].to_list()
        assert from_disk[split].features == helper[split].features
    assert from_disk["train"][0]["query_rewrite"][0]["text"] == "fine: a man opens a door"
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "| test | 1 | 1 | 1 | 0 |" in card
    assert helper["train"].info.description.startswith("---\nconfigs:")  # the same card (made a moment later)
    assert json.loads((out / "export.json").read_text())["queries"] == {"test": 1, "train": 2}
    write_export(built, out)  # an earlier export is replaced as a whole
    assert "query_vector" not in datasets.load_from_disk(str(out))["train"].column_names


def test_cli_writes_and_reports(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(built), "--out", str(tmp_path / "e"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["queries"] == {"test": 1, "train": 2} and printed["errors"]["narrative"][0]["rows"] == 1
    assert main(["export", str(built), "--out", str(tmp_path / "e")]) == 0
    assert "1 error rows not exported" in capsys.readouterr().out


def test_refuses_a_folder_that_is_not_an_export(built: Path, tmp_path: Path, capsys) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an earlier `priors export`"):
        write_export(built, mine)
    assert main(["export", str(built), "--out", str(mine)]) == 2
    assert (mine / "notes.txt").read_text() == "keep me"


def test_a_key_missing_from_the_cache_names_it(built: Path, tmp_path: Path) -> None:
    other = tmp_path / "empty-cache"
    other.mkdir()
    with pytest.raises(MissingInputError, match="narrative keys have no ok row in the cache .*first: n1"):
        build_export(built, cache_dir=other)


def test_only_the_export_module_imports_datasets() -> None:
    users = []
    for path in sorted(p for part in ("pipeline", "groundwork", "grounding") for p in REPO.glob(f"{part}/**/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        if any(n == "datasets" or n.startswith("datasets.") for n in names):
            users.append(str(path.relative_to(REPO)))
    assert users == ["pipeline/export.py"]
