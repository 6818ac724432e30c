"""``RunReport``: what one ``priors run`` did, written as JSON next to the manifest and printed
as a table. It is built from the slim summary batches the graph's last stage returns."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from groundwork.atomic import atomic_write_text
from pipeline.stages.base import Batch

SCALARS = (
    "videos",
    "videos_missing",
    "frames",
    "requests",
    "cache_hits",
    "hit_rate",
    "model_calls",
    "rows_written",
    "ok_rows",
    "retries",
    "events_parsed",
    "events_clipped",
    "events_dropped",
    "events_merged",
    "tokens_in",
    "tokens_out",
    "texts_embedded",
    "visual_videos",
    "patch_videos",
    "shards_written",
    "rows_per_shard",
    "shard_bytes",
    "wall_seconds",
    "frames_per_s",
)  # the table's first block, in this order
CLAIMS = (
    "claims_generated",
    "claims_waited",
    "claims_taken_over",
    "claims_forced",
    "claims_cleared",
    "claim_wait_seconds",
)


class RunReport(BaseModel):
    dataset: str = ""
    cache_dir: str = ""
    manifest: str = ""
    videos: int = 0
    videos_missing: int = 0  # selected videos without a file: one missing_video error row per frame kind
    queries_read: dict[str, int] = Field(default_factory=dict)  # annotation entries read per split, before policies
    policies: dict[str, dict[str, int]] = Field(default_factory=dict)  # split -> rule -> queries changed or dropped
    frames: int = 0  # frames decoded for generation
    requests: int = 0  # prior rows planned (cached or not)
    cache_hits: int = 0
    model_calls: int = 0
    rows_written: int = 0
    ok_rows: int = 0
    errors: dict[str, int] = Field(default_factory=dict)  # error rows written, by error_type
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    items_by_kind: dict[str, int] = Field(default_factory=dict)  # rows expanded from valid JSON answers
    events_parsed: int = 0  # events in valid answers, before dropping
    events_clipped: int = 0  # spans clipped to [0, duration]
    events_dropped: int = 0  # zero-length after clipping, dropped
    events_merged: int = 0  # exact duplicates (same description, overlapping spans) merged into one event
    invalid_answers: dict[str, int] = Field(default_factory=dict)  # every invalid attempt, by error_type
    retries: int = 0  # re-asks of invalid answers (model calls beyond model_calls)
    tokens_in: int = 0
    tokens_out: int = 0
    texts_embedded: int = 0
    visual_videos: int = 0
    patch_videos: int = 0  # STVG: videos whose per-frame patch grids were encoded (pipeline.stvg.patch_pass)
    shards_written: int = 0  # prior and text-feature shards this run wrote
    shard_rows: int = 0  # rows in them (rows per shard = shard_rows / shards_written)
    shard_bytes: int = 0
    claims_generated: int = 0  # units (a kind on a video) this run claimed and generated
    claims_waited: int = 0  # units another run held and wrote while this run waited
    claims_taken_over: int = 0  # units whose claim lapsed (a killed run) or was released without rows: generated here
    claims_forced: int = 0  # units still held after claim_wait_s: generated here too (paid twice)
    claims_cleared: int = 0  # claims of a killed run on this host, removed at the start (ClaimBook.clear_gone)
    claim_wait_seconds: float = 0.0
    computed_rows: dict[str, int] = Field(default_factory=dict)  # rows of computed kinds (key_frame) written, by kind
    # split -> kind -> distinct rows the manifest lists for that split's queries (GranAlign: rewrites,
    # selected key frames, query-aware captions per split)
    rows_by_split: dict[str, dict[str, int]] = Field(default_factory=dict)
    kind_splits: dict[str, list[str]] = Field(default_factory=dict)  # kinds made only for these splits (--kind-splits)
    stage_seconds: dict[str, float] = Field(default_factory=dict)  # summed worker time per stage
    wall_seconds: float = 0.0

    @property
    def hit_rate(self) -> float:
        return self.cache_hits / self.requests if self.requests else 0.0

    @property
    def rows_per_shard(self) -> float:
        return self.shard_rows / self.shards_written if self.shards_written else 0.0

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds else 0.0

    def add_generation(self, batch: Batch) -> None:
        """Fold one summary batch of the generation graph into the counts."""
        n = len(batch["key"])
        self.rows_written += n
        self.frames += int(sum(batch["n_decoded"]))
        self.model_calls += int(sum(bool(x) for x in batch["model_called"]))
        self.tokens_in += int(sum(batch["n_prompt_tokens"]))
        self.tokens_out += int(sum(batch["n_output_tokens"]))
        self.texts_embedded += int(sum(bool(x) for x in batch["embedded"]))
        errs = Counter(str(t) for s, t in zip(batch["status"], batch["error_type"], strict=True) if s != "ok")
        kinds = Counter(str(k) for s, k in zip(batch["status"], batch["kind"], strict=True) if s != "ok")
        self.ok_rows += n - sum(errs.values())
        for name, table in ((errs, self.errors), (kinds, self.errors_by_kind)):
            for k, v in name.items():
                table[k] = table.get(k, 0) + v
        self._add_structured(batch)
        self.add_times(batch)

    def add_error_rows(self, kind: str, error_type: str, n: int) -> None:
        """Error rows written outside the graph (a missing video's one row per kind)."""
        self.rows_written += n
        self.errors[error_type] = self.errors.get(error_type, 0) + n
        self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + n

    def add_computed(self, rows: dict[str, int]) -> None:
        """Rows of computed kinds written on the driver (``pipeline.computed``)."""
        self.rows_written += sum(rows.values())
        self.ok_rows += sum(rows.values())
        for kind, n in rows.items():
            self.computed_rows[kind] = self.computed_rows.get(kind, 0) + n

    def add_manifest(self, rows: list[dict[str, Any]], kinds: list[str]) -> None:
        """Per split, the distinct keys of each kind the manifest lists for its queries."""
        keys: dict[str, dict[str, set[str]]] = {}
        for row in rows:
            for kind in kinds:
                keys.setdefault(row["split"], {}).setdefault(kind, set()).update(row[f"{kind}_keys"] or [])
        self.rows_by_split = {split: {kind: len(k) for kind, k in by_kind.items()} for split, by_kind in keys.items()}

    def add_shards(self, sizes: list[tuple[int, int]]) -> None:
        """(rows, bytes) of shards written."""
        self.shards_written += len(sizes)
        self.shard_rows += sum(r for r, _ in sizes)
        self.shard_bytes += sum(b for _, b in sizes)

    def _add_structured(self, batch: Batch) -> None:
        if "n_items" not in batch:
            return
        self.retries += int(sum(batch["n_retries"]))
        for kind, status, n_items, clipped, dropped, merged, invalid in zip(
            batch["kind"],
            batch["status"],
            batch["n_items"],
            batch["n_clipped"],
            batch["n_dropped"],
            batch["n_merged"],
            batch["invalid"],
            strict=True,
        ):
            for etype, count in json.loads(str(invalid)).items():
                self.invalid_answers[etype] = self.invalid_answers.get(etype, 0) + int(count)
            if status != "ok" or not (n_items or dropped or merged):
                continue
            self.items_by_kind[str(kind)] = self.items_by_kind.get(str(kind), 0) + int(n_items)
            if kind == "event":
                self.events_parsed += int(n_items) + int(dropped) + int(merged)
                self.events_clipped += int(clipped)
                self.events_dropped += int(dropped)
                self.events_merged += int(merged)

    def add_times(self, batch: Batch) -> None:
        for col, values in batch.items():
            if col.startswith("_s_"):
                stage = col[3:]
                self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + float(sum(values))

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.model_dump(),
            "hit_rate": round(self.hit_rate, 4),
            "frames_per_s": round(self.frames_per_s, 3),
            "rows_per_shard": round(self.rows_per_shard, 1),
        }

    def write(self, path: Path) -> Path:
        return atomic_write_text(path, json.dumps(self.as_dict(), indent=2, sort_keys=True))

    def table(self) -> str:
        d = self.as_dict()
        lines = [f"priors run: {self.dataset}"]
        for k in SCALARS:
            v = d[k]
            lines.append(f"  {k:<16} {v:.3f}" if isinstance(v, float) else f"  {k:<16} {v}")
        for title, table in (
            ("errors by type", self.errors),
            ("errors by kind", self.errors_by_kind),
            ("invalid answers", self.invalid_answers),
            ("items by kind", self.items_by_kind),
            ("computed rows", self.computed_rows),
            (
                "manifest rows by split",
                {f"{split}/{kind}": n for split, by_kind in self.rows_by_split.items() for kind, n in by_kind.items()},
            ),
            ("kinds made for some splits only", {k: ",".join(v) for k, v in self.kind_splits.items()}),
            ("claims", {k: d[k] for k in CLAIMS if any(d[c] for c in CLAIMS)}),
            ("queries read", self.queries_read),
            (
                "dataset policies",
                {f"{split}/{rule}": n for split, rules in self.policies.items() for rule, n in rules.items()},
            ),
            ("seconds per stage", {k: round(v, 3) for k, v in self.stage_seconds.items()}),
        ):
            lines.append(f"  {title}:" + ("" if table else " none"))
            lines.extend(f"    {k:<20} {v}" for k, v in sorted(table.items()))
        if self.manifest:
            lines.append(f"  manifest         {self.manifest}")
        return "\n".join(lines)
