"""Per-split statistics of a dataset's annotations (``priors stats``)."""

from __future__ import annotations

import re
from collections import defaultdict
from statistics import fmean
from typing import Any

from pipeline.datasets.base import Annotations, Query
from pipeline.datasets.policies import RULES

WORD = re.compile(r"[\w']+")

FIELDS: tuple[str, ...] = (
    "videos",
    "queries",
    "queries_kept",
    "mean_moment_s",
    "mean_video_s",
    "mean_query_words",
    "vocabulary",
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, apostrophes); punctuation is not a word."""
    return WORD.findall(text.lower())


def split_stats(ann: Annotations, split: str, queries: list[Query]) -> dict[str, Any]:
    """``videos`` counts the distinct videos of the kept queries; ``queries`` the entries read;
    means are over kept queries (moment: every window; video: each distinct video once)."""
    videos = {q.video_id for q in queries}
    tokens = [words(q.text) for q in queries]
    moments = [end - start for q in queries for start, end in q.windows]
    counts = ann.policies.counts.get(split, {})
    return {
        "videos": len(videos),
        "queries": ann.queries_read.get(split, len(queries)),
        "queries_kept": len(queries),
        "mean_moment_s": _mean(moments),
        "mean_video_s": _mean([ann.videos[v].duration for v in videos]),
        "mean_query_words": _mean([len(t) for t in tokens]),
        "vocabulary": len({w for t in tokens for w in t}),
        "policies": {rule: int(counts.get(rule, 0)) for rule in _rules(ann)},
    }


def dataset_stats(ann: Annotations) -> dict[str, Any]:
    """``{"dataset": name, "splits": {split: {FIELDS..., "policies": {rule: count}}}}``; every
    split lists every policy rule, zero included. Splits whose entries were all dropped appear."""
    by_split: dict[str, list[Query]] = defaultdict(list)
    for q in ann.queries:
        by_split[q.split].append(q)
    splits = sorted(set(by_split) | set(ann.queries_read) | set(ann.policies.counts))
    return {"dataset": ann.name, "splits": {s: split_stats(ann, s, by_split[s]) for s in splits}}


def format_stats(stats: dict[str, Any]) -> str:
    """A plain table: one row per field and policy rule, one column per split."""
    splits = list(stats["splits"])
    rows: list[list[str]] = [["", *splits]]
    for field in FIELDS:
        rows.append([field, *(_cell(stats["splits"][s][field]) for s in splits)])
    rules = next(iter(stats["splits"].values()))["policies"] if splits else {}
    for rule in rules:
        rows.append([rule, *(_cell(stats["splits"][s]["policies"][rule]) for s in splits)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"dataset: {stats['dataset']}"]
    for r in rows:
        lines.append("  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:]))]))
    return "\n".join(lines)


def _rules(ann: Annotations) -> list[str]:
    extra = {r for c in ann.policies.counts.values() for r in c if r not in RULES}
    return [*RULES, *sorted(extra)]


def _mean(values: list[float] | list[int]) -> float | None:
    return round(fmean(values), 4) if values else None


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
