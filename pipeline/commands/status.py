"""``priors status``: what the cache holds (rows per prior kind, ok / error, text and visual
features) and what the last run did (hit rate, model calls, errors)."""

from __future__ import annotations

import json

import typer

from groundwork.cache.store import CacheStore
from groundwork.cache.temp_files import DEFAULT_OLDER_THAN_S, temp_files
from pipeline.config import CACHE_HELP
from pipeline.kinds import structured_kinds
from pipeline.kinds.structured import split_request_and_item_keys


def cache_status(store: CacheStore) -> dict:
    """Unique keys per prior kind. Structured kinds (event, query_rewrite) count their requests
    (``ok`` / ``error``) apart from the ``items`` rows the ok answers expanded into."""
    kinds = {}
    structured = set(structured_kinds())
    for kind in store.prior_kinds():
        ok, errors = store.prior_key_status(kind)
        if not (ok or errors):
            continue
        if kind in structured:
            requests, items = split_request_and_item_keys(ok)
            kinds[kind] = {"ok": len(requests), "error": len(errors), "items": len(items)}
        else:
            kinds[kind] = {"ok": len(ok), "error": len(errors)}
    text = {p.name: len(store.text_hashes(p.name)) for p in sorted((store.root / "text").glob("*")) if p.is_dir()}
    visual = {p.name: len(list(p.glob("*.npz"))) for p in sorted((store.root / "visual").glob("*")) if p.is_dir()}
    runs = sorted((store.root / "runs").glob("*.json"))
    last = json.loads(runs[-1].read_text()) if runs else None
    temps = temp_files(store.root) if store.root.is_dir() else []
    stale = [t for t in temps if t.age_s >= DEFAULT_OLDER_THAN_S]
    return {
        "cache": str(store.root),
        "priors": kinds,
        "text_features": text,
        "visual_features": visual,
        "temp_files": {"count": len(temps), "bytes": sum(t.bytes for t in temps), "older_than_1h": len(stale)},
        "last_run": last,
    }


def format_status(status: dict) -> str:
    lines = [f"cache {status['cache']}", "priors (unique keys; event / query_rewrite: requests, then their items):"]
    lines += [
        f"  {k:<14} ok {v['ok']:>8}  error {v['error']:>6}" + (f"  items {v['items']:>8}" if "items" in v else "")
        for k, v in status["priors"].items()
    ] or ["  none"]
    lines.append("text features: " + (", ".join(f"{k} {v}" for k, v in status["text_features"].items()) or "none"))
    lines.append(
        "visual features: " + (", ".join(f"{k} {v} videos" for k, v in status["visual_features"].items()) or "none")
    )
    temps = status["temp_files"]
    lines.append(
        f"temp files (.tmp-*): {temps['count']} ({temps['bytes']:,} bytes), {temps['older_than_1h']} older "
        "than 1 h" + (" (`priors gc` removes those)" if temps["older_than_1h"] else "")
    )
    last = status["last_run"]
    if last:
        lines.append(
            f"last run ({last['dataset']}): {last['requests']} requests, hit rate {last['hit_rate']:.1%}, "
            f"{last['model_calls']} model calls, errors {last['errors'] or 'none'}"
        )
    else:
        lines.append("last run: none recorded")
    return "\n".join(lines)


def command(
    cache: str | None = typer.Option(
        None,
        "--cache",
        help=CACHE_HELP,
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Rows per prior kind (ok / error), text and visual features, and the last run's hit rate.

    Reads the cache; writes nothing. Example: priors status --cache .cache/groundwork"""
    status = cache_status(CacheStore(cache))
    print(json.dumps(status, indent=2) if as_json else format_status(status))


def register(app: typer.Typer) -> None:
    app.command("status")(command)
