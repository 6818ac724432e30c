"""``priors errors``: list the cached rows that failed (and have no ok row since), with the
key, video, time, error type and message. Rerun with ``priors run ... --retry-errors``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from groundwork.cache.store import CacheStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("errors", help="list failed prior rows", description=__doc__)
    p.add_argument("--kind", help="only this prior kind")
    p.add_argument("--cache", type=Path, help="cache root (default $GROUNDWORK_CACHE, else ~/.cache/groundwork)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=main)


def failed_rows(store: CacheStore, kinds: tuple[str, ...] | None = None) -> list[dict]:
    rows = []
    for kind in store.prior_kinds() if kinds is None else kinds:
        _, errors = store.prior_key_status(kind)
        if errors:
            table = store.priors(kind, keys=errors).select(["key", "kind", "video_id", "t_start", "t_end",
                                                            "error_type", "error"])
            rows.extend(table.to_pylist())
    return rows


def main(args: argparse.Namespace) -> int:
    rows = failed_rows(CacheStore(args.cache), (args.kind,) if args.kind else None)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{len(rows)} failed rows")
    for r in rows:
        print(f"{r['key'][:12]}  {r['kind']:<12} {r['video_id']:<16} t={r['t_start']:.2f}  {r['error_type']}: {r['error']}")
    return 0
