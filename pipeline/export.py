"""Priors as a Hugging Face dataset: one clean table per split, built from a manifest and its cache.

The cache is made for writers (write-once shards, the same key in several shards, error rows
kept on purpose, structured answers as a request row plus item rows), so ``datasets`` cannot
load it as it is. An export has one row per query: its windows and, per prior kind the manifest
has, the priors the manifest lists for it (video-level ones and its own, in manifest order, so a
query rewrite keeps its coarse / original / fine order), each key once, ok rows only, with the
texts and, on request, the sentence vectors of the text encoder. The rows that failed are
counted in the dataset card, not exported.

``priors_dataset`` returns a ``datasets.DatasetDict`` and writes nothing; ``write_export``
(``priors export``) writes a folder that both ``datasets.load_from_disk(DIR)`` and
``datasets.load_dataset("parquet", data_files=...)`` (``DIR/data/<split>-*.parquet``) read,
with a ``README.md`` dataset card (model, prompt versions, encoder, counts, error counts), ready
to push to a hub as it is. ``datasets`` is imported here only (the cache stays pyarrow).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from groundwork.atomic import atomic_replace_dir
from groundwork.cache.manifest import ManifestInfo, read_manifest
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError, MissingInputError

SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # what `datasets` accepts as a split name
CARD_MARK = "<!-- written by `priors export` -->"
PROVENANCE = ("model", "model_revision", "backend", "prompt_id", "prompt_version", "sampling")
IDENTITY = ("model", "model_revision", "prompt_id", "prompt_version")  # a re-ask's sampling differs: not in it


def prior_type(vectors: bool) -> pa.DataType:
    fields = [("key", pa.string()), ("t_start", pa.float64()), ("t_end", pa.float64()), ("text", pa.string())]
    return pa.list_(pa.struct(fields + ([("vector", pa.list_(pa.float32()))] if vectors else [])))


def export_schema(kinds: list[str], vectors: bool) -> pa.Schema:
    """One row per query; a ``<kind>`` column (list of {key, t_start, t_end, text[, vector]}) per kind."""
    head = [
        ("query_id", pa.string()),
        ("video_id", pa.string()),
        ("query", pa.string()),
        ("windows", pa.list_(pa.list_(pa.float64()))),
        ("duration", pa.float64()),
        ("video_sha256", pa.string()),
    ]
    tail = [("query_vector", pa.list_(pa.float32()))] if vectors else []
    return pa.schema(head + tail + [(kind, prior_type(vectors)) for kind in kinds] + [("extra", pa.string())])


@dataclass
class Export:
    """What an export holds: a pyarrow table per split, its counts and its dataset card."""

    dataset: str
    tables: dict[str, pa.Table]
    counts: dict[str, Any]
    card: str = ""
    provenance: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _kind_rows(store: CacheStore, info: ManifestInfo, kind: str) -> dict[str, dict[str, Any]]:
    """The ok row of every key the manifest lists for ``kind`` (the store keeps one per key)."""
    keys = {k for row in info.rows for k in info.keys(row, kind)}
    table = store.priors(kind, keys=keys)
    rows = {r["key"]: r for r in table.to_pylist() if r["status"] == "ok"}
    missing = sorted(keys - set(rows))
    if missing:
        msg = (
            f"manifest {info.path}: {len(missing)} of its {len(keys)} {kind} keys have no ok row in the cache "
            f"{info.cache_dir} (first: {missing[0]}); is it the cache the manifest was built with (--cache-dir)?"
        )
        raise MissingInputError(msg)
    return rows


def _vectors(store: CacheStore, info: ManifestInfo, hashes: set[str]) -> dict[str, list[float]]:
    table = store.text_features(info.text_encoder, hashes, columns=["sentence"])  # no token vectors
    found = dict(zip(table.column("text_sha256").to_pylist(), table.column("sentence").to_pylist(), strict=True))
    missing = sorted(hashes - set(found))
    if missing:
        msg = (
            f"the cache {info.cache_dir} has no {info.text_encoder} features for {len(missing)} of the "
            f"{len(hashes)} texts (first text_sha256: {missing[0]}); run `priors run` again to embed them"
        )
        raise MissingInputError(msg)
    return found


def _errors(store: CacheStore, info: ManifestInfo, kind: str, identities: set[tuple]) -> Counter:
    """Rows of the manifest's videos that failed and have no ok row, by (model, prompt, error
    type); only those of the model (and revision) and prompt version of the exported rows, when
    the kind has exported rows (other experiments' failures stay out)."""
    _, failed = store.prior_key_status(kind)
    if not failed:
        return Counter()
    videos = {(r["video_id"], r["video_sha256"]) for r in info.rows} | {(r["video_id"], "") for r in info.rows}
    out: Counter = Counter()
    for r in store.priors(kind, keys=failed).to_pylist():
        if (r["video_id"], r["video_sha256"] or "") not in videos:
            continue
        if identities and tuple(r[c] for c in IDENTITY) not in identities:
            continue
        out[(r["model"] or "", f"{r['prompt_id']}@{r['prompt_version']}", r["error_type"] or "error")] += 1
    return out


def build_export(manifest: str | Path, cache_dir: str | Path | None = None, vectors: bool = False) -> Export:
    """Read the manifest and the cache into one table per split (see the module docstring)."""
    info = read_manifest(manifest, cache_dir)
    store = CacheStore(info.cache_dir)
    bad = sorted({r["split"] for r in info.rows if not SPLIT_NAME.match(r["split"] or "")})
    if bad:
        msg = f"manifest {info.path}: split names {bad} are not valid dataset split names (letters, digits, _ and .)"
        raise InputError(msg)
    by_kind = {kind: _kind_rows(store, info, kind) for kind in info.kinds}
    sentence: dict[str, list[float]] = {}
    if vectors:
        hashes = {r["query_sha256"] for r in info.rows}
        hashes |= {p["text_sha256"] for rows in by_kind.values() for p in rows.values()}
        sentence = _vectors(store, info, hashes)
    schema = export_schema(info.kinds, vectors)
    columns: dict[str, dict[str, list]] = defaultdict(lambda: {f.name: [] for f in schema})
    per_kind: dict[str, Counter] = {kind: Counter() for kind in info.kinds}
    for row in info.rows:
        cols = columns[row["split"]]
        for name in ("query_id", "video_id", "query", "windows", "duration", "video_sha256", "extra"):
            cols[name].append(row[name])
        if vectors:
            cols["query_vector"].append(sentence[row["query_sha256"]])
        for kind in info.kinds:
            priors = []
            for key in dict.fromkeys(info.keys(row, kind)):  # each key once, manifest order
                p = by_kind[kind][key]
                item = {"key": key, "t_start": p["t_start"], "t_end": p["t_end"], "text": p["text"]}
                if vectors:
                    item["vector"] = sentence[p["text_sha256"]]
                priors.append(item)
            cols[kind].append(priors)
            per_kind[kind][row["split"]] += len(priors)
    tables = {split: pa.table(cols, schema=schema) for split, cols in sorted(columns.items())}
    provenance: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, Counter] = {}
    for kind, rows in by_kind.items():
        idents = Counter(tuple(p[c] for c in PROVENANCE) for p in rows.values())
        provenance[kind] = [{**dict(zip(PROVENANCE, ident, strict=True)), "rows": n} for ident, n in idents.items()]
        errors[kind] = _errors(store, info, kind, {tuple(p[c] for c in IDENTITY) for p in rows.values()})
    counts = {
        "queries": {split: t.num_rows for split, t in tables.items()},
        "videos": {split: len(set(t.column("video_id").to_pylist())) for split, t in tables.items()},
        "priors": {kind: dict(sorted(c.items())) for kind, c in per_kind.items()},
        "unique_prior_rows": {kind: len(rows) for kind, rows in by_kind.items()},
        "errors": {
            kind: [{"model": m, "prompt": p, "error_type": e, "rows": n} for (m, p, e), n in sorted(c.items())]
            for kind, c in errors.items()
        },
    }
    export = Export(info.dataset, tables, counts, provenance=provenance)
    export.card = dataset_card(export, info, vectors)
    return export


def dataset_card(export: Export, info: ManifestInfo, vectors: bool) -> str:
    """The ``README.md`` of an export: hub metadata (the parquet files of each split), then what
    made the priors, the counts and how to load it."""
    splits = list(export.tables)
    yaml_lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        yaml_lines += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    yaml_lines += ["tags:", "- video-temporal-grounding", "- groundwork-priors", "---", ""]
    c = export.counts
    lines = [
        CARD_MARK,
        f"# {export.dataset}: Groundwork priors",
        "",
        f"Exported by `priors export` on {datetime.now(timezone.utc).isoformat(timespec='seconds')} from the "
        f"manifest `{info.path.name}` (cache `{info.cache_dir}`). One row per query: its ground-truth windows "
        "(seconds) and, per prior kind, the priors of its video and its own, each "
        "`{key, t_start, t_end, text" + (", vector" if vectors else "") + "}` in the order the pipeline "
        "wrote them. Only rows generated without error are included; failures are counted below.",
        "",
        f"- text encoder: `{info.text_encoder}`"
        + (
            " (sentence vectors included: `query_vector`, `<kind>[].vector`)"
            if vectors
            else " (vectors not included; export with `--vectors` to add them)"
        ),
        f"- visual features (not included): `{info.visual_features or 'none'}`",
        "",
        "## What generated the priors",
        "",
        "| kind | model | revision | backend | prompt | sampling | rows |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, idents in export.provenance.items():
        for p in idents or [{}]:
            rev = str(p.get("model_revision", "-"))
            lines.append(
                f"| {kind} | {p.get('model', '-')} | {rev if len(rev) <= 20 else rev[:12] + '…'} | "
                f"{p.get('backend', '-')} | {p.get('prompt_id', '-')}@{p.get('prompt_version', '-')} | "
                f"`{p.get('sampling', '-')}` | {p.get('rows', 0)} |"
            )
    header = "| split | videos | queries | " + " | ".join(f"{k} priors" for k in info.kinds) + " |"
    lines += ["", "## Counts", "", header, "|---|---|---|" + "---|" * len(info.kinds)]
    for split in splits:
        per = " | ".join(str(c["priors"][k].get(split, 0)) for k in info.kinds)
        lines.append(f"| {split} | {c['videos'][split]} | {c['queries'][split]} | {per} |")
    lines.append("")
    lines.append(
        "Video-level priors (narrative, clip_caption, event) repeat on every query of their video; "
        "unique prior rows: " + ", ".join(f"{k} {n}" for k, n in c["unique_prior_rows"].items()) + "."
    )
    lines += [
        "",
        "## Errors (rows not exported)",
        "",
        "Rows of these videos that failed and have no ok row in the cache (for a structured kind, one per "
        "failed request), by model, prompt and error type:",
        "",
    ]
    any_error = False
    for kind, rows in c["errors"].items():
        for e in rows:
            lines.append(f"- {kind}: {e['rows']} × `{e['error_type']}` ({e['model']}, {e['prompt']})")
            any_error = True
    if not any_error:
        lines.append("- none")
    lines += [
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_from_disk("PATH")  # this folder',
        'ds = datasets.load_dataset("parquet", data_files={'
        + ", ".join(f'"{s}": "PATH/data/{s}-*.parquet"' for s in splits)
        + "})",
        "```",
        "",
    ]
    return "\n".join(yaml_lines + lines)


def to_dataset_dict(export: Export):  # -> datasets.DatasetDict (imported lazily: a slow import)
    import datasets

    out = {}
    for split, table in export.tables.items():
        info = datasets.DatasetInfo(description=export.card, features=datasets.Features.from_arrow_schema(table.schema))
        out[split] = datasets.Dataset(table, info=info, split=datasets.NamedSplit(split))
    return datasets.DatasetDict(out)


def priors_dataset(manifest: str | Path, cache_dir: str | Path | None = None, vectors: bool = False):
    """The export of ``manifest`` as a ``datasets.DatasetDict`` (one ``Dataset`` per split, the
    card as each split's ``info.description``); writes nothing."""
    return to_dataset_dict(build_export(manifest, cache_dir, vectors))


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier export (the export replaces ``out``)."""
    if not out.exists():
        return
    if not out.is_dir():
        msg = f"--out {out}: a file is there; give a folder path"
        raise InputError(msg)
    card = out / "README.md"
    ours = card.is_file() and CARD_MARK in card.read_text(encoding="utf-8", errors="replace")
    if any(out.iterdir()) and not ours:
        msg = f"--out {out}: the folder holds files that are not an earlier `priors export`; give a new or empty folder"
        raise InputError(msg)


def write_export(
    manifest: str | Path, out: str | Path, cache_dir: str | Path | None = None, vectors: bool = False
) -> Export:
    """Write the export of ``manifest`` to ``out`` (replaced as a whole, atomically): the
    ``datasets`` folder (``dataset_dict.json``, ``<split>/``), ``data/<split>-00000-of-00001.parquet``
    and ``README.md``."""
    import datasets

    out = Path(out)
    _check_out(out)
    export = build_export(manifest, cache_dir, vectors)
    dsd = to_dataset_dict(export)
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # a few small tables: the bars only clutter the command's output

    def fill(tmp: Path) -> None:
        dsd.save_to_disk(str(tmp))
        (tmp / "data").mkdir()
        for split, ds in dsd.items():
            ds.to_parquet(str(tmp / "data" / f"{split}-00000-of-00001.parquet"))
        (tmp / "README.md").write_text(export.card, encoding="utf-8")
        (tmp / "export.json").write_text(json.dumps(export.counts, indent=2), encoding="utf-8")

    try:
        atomic_replace_dir(out, fill)
    finally:
        if bars:
            datasets.enable_progress_bars()
    return export
