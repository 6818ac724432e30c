"""``priors errors``: list the cached rows that failed (and have no ok row since), with the
key, video, time, error type and message. Rerun with ``priors run ... --retry-errors``."""

from __future__ import annotations

import json

import typer

from groundwork.cache.store import CacheStore
from pipeline.config import CACHE_HELP


def failed_rows(store: CacheStore, kinds: tuple[str, ...] | None = None) -> list[dict]:
    rows = []
    for kind in store.prior_kinds() if kinds is None else kinds:
        _, errors = store.prior_key_status(kind)
        if errors:
            table = store.priors(kind, keys=errors).select(
                ["key", "kind", "video_id", "t_start", "t_end", "error_type", "error"]
            )
            rows.extend(table.to_pylist())
    return rows


def command(
    kind: str | None = typer.Option(None, "--kind", help="only this prior kind"),
    cache: str | None = typer.Option(
        None,
        "--cache",
        help=CACHE_HELP,
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """The failed prior rows that have no ok row since: key, video, time, error type and message.

    Reads the cache; writes nothing. Redo them with `priors run ... --retry-errors`.
    Example: priors errors --kind event --json"""
    rows = failed_rows(CacheStore(cache), (kind,) if kind else None)
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    print(f"{len(rows)} failed rows")
    for r in rows:
        print(
            f"{r['key'][:12]}  {r['kind']:<12} {r['video_id']:<16} t={r['t_start']:.2f}  "
            f"{r['error_type']}: {r['error']}"
        )


def register(app: typer.Typer) -> None:
    app.command("errors")(command)
