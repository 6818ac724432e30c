"""``priors compact``: merge the cache's small shards into larger ones (every prior kind, every
text encoder, the plan index), safe while other runs read and write the same cache
(``groundwork.cache.compact``)."""

from __future__ import annotations

import json

import typer

from groundwork.cache.compact import (
    SMALL_BYTES,
    TARGET_BYTES,
    FolderCompaction,
    MiB,
    ShardFolder,
    cache_folders,
    compact_folder,
)
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError, MissingInputError
from pipeline.cache.plan_index import PLAN_INDEX_SCHEMA, plan_index_dir
from pipeline.config import CACHE_HELP


def shard_folders(store: CacheStore, kinds: list[str] | None = None) -> list[ShardFolder]:
    """The folders ``priors compact`` merges: the prior kinds (all, or ``kinds``), then, when no
    kind is named, the text encoders and the plan index."""
    folders = cache_folders(store)
    if kinds:
        known = {f.label.removeprefix("priors/") for f in folders if f.label.startswith("priors/")}
        unknown = sorted(set(kinds) - known)
        if unknown:
            msg = (
                f"--kind {', '.join(unknown)}: the cache {store.root} has no such prior kind (it has: "
                f"{', '.join(sorted(known)) or 'none'})"
            )
            raise InputError(msg)
        return [f for f in folders if f.label.removeprefix("priors/") in kinds and f.label.startswith("priors/")]
    plans = plan_index_dir(store.root)
    return folders + ([ShardFolder(plans, PLAN_INDEX_SCHEMA, "fingerprint", "plans")] if plans.is_dir() else [])


def compact_cache(
    store: CacheStore,
    kinds: list[str] | None = None,
    small_bytes: int = SMALL_BYTES,
    target_bytes: int = TARGET_BYTES,
    dry_run: bool = False,
) -> list[FolderCompaction]:
    if not store.root.is_dir():
        msg = f"the cache {store.root} does not exist (pass --cache PATH)"
        raise MissingInputError(msg)
    return [compact_folder(f, small_bytes, target_bytes, dry_run) for f in shard_folders(store, kinds)]


def totals(reports: list[FolderCompaction]) -> dict:
    after = [r.bytes_after for r in reports]
    return {
        "shards_before": sum(r.shards_before for r in reports),
        "shards_after": sum(r.shards_after for r in reports),
        "bytes_before": sum(r.bytes_before for r in reports),
        "bytes_after": None if None in after else sum(after),
        "rows_in": sum(r.rows_in for r in reports),
        "rows_out": sum(r.rows_out for r in reports),
    }


def format_compaction(reports: list[FolderCompaction], dry_run: bool) -> str:
    def size(n: int | None) -> str:
        return "-" if n is None else f"{n / MiB:.2f} MiB" if n >= MiB else f"{n / 1024:.1f} KiB"

    head = "would merge (dry run)" if dry_run else "compacted"
    lines = [f"{head}: folder, shards before -> after, bytes before -> after, rows merged -> kept"]
    for r in reports:
        lines.append(
            f"  {r.folder:<28} {r.shards_before:>6} -> {r.shards_after:<6} {size(r.bytes_before):>11} -> "
            f"{size(r.bytes_after):<11} {r.rows_in:>8} -> {r.rows_out}"
        )
        lines += [f"    skipped {s}" for s in r.skipped]
    t = totals(reports)
    lines.append(
        f"  {'total':<28} {t['shards_before']:>6} -> {t['shards_after']:<6} {size(t['bytes_before']):>11} -> "
        f"{size(t['bytes_after']):<11} {t['rows_in']:>8} -> {t['rows_out']}"
    )
    return "\n".join(lines)


def command(
    cache: str | None = typer.Option(
        None,
        "--cache",
        help=CACHE_HELP,
    ),
    kind: list[str] | None = typer.Option(
        None, "--kind", help="only this prior kind (repeatable); default: every kind, text encoder, plans"
    ),
    small_mb: float = typer.Option(SMALL_BYTES / MiB, "--small-mb", help="shards under this size are merged"),
    target_mb: float = typer.Option(
        TARGET_BYTES / MiB, "--target-mb", help="a merged shard gathers shards up to this size"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what would be merged; write nothing"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Merge each cache folder's small shards into larger ones; reports shards and bytes before / after.

    Reads and rewrites the cache's prior, text-feature and plan shards: each merged shard keeps
    the newest ok row of every key (an error row only where its key has no ok row) and is written
    atomically before the shards it replaces are deleted, so runs reading or writing the same
    cache meanwhile lose nothing. Example: priors compact --cache /mnt/cache --dry-run"""
    if small_mb <= 0 or target_mb <= 0:
        msg = f"--small-mb {small_mb:g} / --target-mb {target_mb:g}: give sizes above 0"
        raise InputError(msg)
    store = CacheStore(cache)
    reports = compact_cache(store, kind or None, int(small_mb * MiB), int(target_mb * MiB), dry_run)
    if as_json:
        print(
            json.dumps(
                {
                    "cache": str(store.root),
                    "dry_run": dry_run,
                    "folders": [r.as_dict() for r in reports],
                    "total": totals(reports),
                },
                indent=2,
            )
        )
    else:
        print(f"cache {store.root}\n{format_compaction(reports, dry_run)}")


def register(app: typer.Typer) -> None:
    app.command("compact")(command)
