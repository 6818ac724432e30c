"""``priors gc``: remove the ``.tmp-*`` files killed runs left in the cache, once they are older
than a threshold (default an hour), so a running writer's temp file is never touched
(``groundwork.cache.temp_files``)."""

from __future__ import annotations

import json

import typer

from groundwork.cache.store import CacheStore
from groundwork.cache.temp_files import DEFAULT_OLDER_THAN_S, MIN_OLDER_THAN_S, collect_garbage
from groundwork.errors import MissingInputError
from pipeline.config import CACHE_HELP


def command(
    cache: str | None = typer.Option(
        None,
        "--cache",
        help=CACHE_HELP,
    ),
    older_than: float = typer.Option(
        DEFAULT_OLDER_THAN_S,
        "--older-than",
        help=f"seconds since a temp file was last written (at least {MIN_OLDER_THAN_S:g})",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be removed; remove nothing"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a list"),
) -> None:
    """Remove the .tmp-* files (and temp folders) a killed run left in the cache, and list them.

    Reads the cache folder tree; deletes only temp files nobody wrote to for --older-than seconds
    (default 3600: a writer finishes a shard in seconds, so such a file has no running writer);
    younger ones are listed as kept. Example: priors gc --cache /mnt/cache --older-than 7200"""
    store = CacheStore(cache)
    if not store.root.is_dir():
        msg = f"the cache {store.root} does not exist (pass --cache PATH)"
        raise MissingInputError(msg)
    report = collect_garbage(store.root, older_than, dry_run)
    if as_json:
        print(json.dumps({"cache": str(store.root), **report.as_dict()}, indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    size = sum(f.bytes for f in report.removed)
    print(
        f"cache {store.root}: {verb} {len(report.removed)} temp files ({size:,} bytes) older than {older_than:g} s; "
        f"kept {len(report.kept)} younger ones"
    )
    for f in report.removed:
        print(f"  {verb}  {f.path.relative_to(store.root)}  {f.bytes:,} bytes, {f.age_s / 3600:.1f} h old")
    for f in report.kept:
        print(f"  kept     {f.path.relative_to(store.root)}  {f.age_s:.0f} s old")


def register(app: typer.Typer) -> None:
    app.command("gc")(command)
