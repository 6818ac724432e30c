"""Statistics of a dataset's annotations (``priors stats``): per split, and for the whole dataset."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from statistics import fmean
from typing import Any

from groundwork.stvg import SENTENCE_TYPE_KEY as SENTENCE_TYPE
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
    return _block(ann, queries, ann.queries_read.get(split, len(queries)), ann.policies.counts.get(split, {}))


def all_stats(ann: Annotations, splits: list[str]) -> dict[str, Any]:
    """The whole dataset as papers' dataset tables report it: each video counted once however many
    splits hold it, means over every kept query (moments: every window) and every unique video,
    ``queries`` and the policy counts summed over ``splits``."""
    read = sum(ann.queries_read.get(s, sum(q.split == s for q in ann.queries)) for s in splits)
    counts: dict[str, int] = defaultdict(int)
    for s in splits:
        for rule, n in ann.policies.counts.get(s, {}).items():
            counts[rule] += int(n)
    return _block(ann, [q for q in ann.queries if q.split in set(splits)], read, counts)


def _block(ann: Annotations, queries: list[Query], queries_read: int, counts: dict[str, int]) -> dict[str, Any]:
    videos = {q.video_id for q in queries}
    tokens = [words(q.text) for q in queries]
    moments = [end - start for q in queries for start, end in q.windows]
    return {
        "videos": len(videos),
        "queries": queries_read,
        "queries_kept": len(queries),
        "mean_moment_s": _mean(moments),
        "mean_video_s": _mean([ann.videos[v].duration for v in videos]),
        "mean_query_words": _mean([len(t) for t in tokens]),
        "vocabulary": len({w for t in tokens for w in t}),
        "policies": {rule: int(counts.get(rule, 0)) for rule in _rules(ann)},
        **_sentence_types(ann, queries),
    }


def _sentence_types(ann: Annotations, queries: list[Query]) -> dict[str, Any]:
    """``{"sentence_types": {type: kept queries}}`` when the dataset labels its sentences (VidSTG:
    declarative / interrogative, in ``extra["sentence_type"]``), else nothing."""
    if not any(SENTENCE_TYPE in q.extra for q in ann.queries):
        return {}
    counts = Counter(str(q.extra.get(SENTENCE_TYPE, "unlabelled")) for q in queries)
    return {"sentence_types": dict(sorted(counts.items()))}


def dataset_stats(ann: Annotations) -> dict[str, Any]:
    """``{"dataset": name, "splits": {split: {FIELDS..., "policies": {rule: count}}}, "all": {...}}``
    (plus ``"sentence_types": {type: kept queries}`` per block for datasets that label their
    sentences, VidSTG); every split lists every policy rule, zero included. Splits whose entries
    were all dropped appear. ``all`` is the whole dataset (``all_stats``): videos once, means over everything."""
    by_split: dict[str, list[Query]] = defaultdict(list)
    for q in ann.queries:
        by_split[q.split].append(q)
    splits = sorted(set(by_split) | set(ann.queries_read) | set(ann.policies.counts))
    return {
        "dataset": ann.name,
        "splits": {s: split_stats(ann, s, by_split[s]) for s in splits},
        "all": all_stats(ann, splits),
    }


def format_stats(stats: dict[str, Any]) -> str:
    """A plain table: one row per field and policy rule, one column per split, then ``all``."""
    blocks = {**stats["splits"], "all": stats["all"]} if "all" in stats else dict(stats["splits"])
    names = list(blocks)
    rows: list[list[str]] = [["", *names]]
    for field in FIELDS:
        rows.append([field, *(_cell(blocks[s][field]) for s in names)])
    types = sorted({t for b in blocks.values() for t in b.get("sentence_types", {})})
    for t in types:
        rows.append([f"sentences: {t}", *(_cell(blocks[s].get("sentence_types", {}).get(t, 0)) for s in names)])
    rules = next(iter(blocks.values()))["policies"] if names else {}
    for rule in rules:
        rows.append([rule, *(_cell(blocks[s]["policies"][rule]) for s in names)])
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
