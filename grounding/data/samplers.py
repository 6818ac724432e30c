"""Video-grouped training batches: each batch holds whole videos with all their queries (MESM:
12 videos a batch), so the queries of one video see each other (MESM's segment-sentence loss
takes its positives among them) and the other videos of the batch give every query its
negatives (QD-DETR's negative pair: a query from another video run against this video).

``VideoBatchSampler`` yields lists of dataset indices. Videos are shuffled per epoch (``seed``);
a video with more than ``max_queries_per_video`` queries is cut into chunks of at most that many
(its queries shuffled first; MESM's TACoS recipe: chunks of 10), and a batch never holds two
chunks of one video while another video is waiting. A last batch with a single video joins the
batch before it (which then holds one video more than asked) unless that batch holds another
chunk of the same video, so a query nearly always has a negative (the models skip the negative
terms for a batch of one video).
Used by the DETR models by default (``GroundingModel.batch_sampler``) and by any model with
``DataConfig.video_batches``; with ``collate(share_videos=True)`` each video is also held once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


class VideoBatchSampler:
    def __init__(self, video_ids: Sequence[str], videos_per_batch: int, seed: int,
                 max_queries_per_video: int | None = None) -> None:
        """``video_ids[i]``: the video of dataset item i."""
        if videos_per_batch < 1:
            msg = f"videos_per_batch must be >= 1, got {videos_per_batch}"
            raise ValueError(msg)
        if max_queries_per_video is not None and max_queries_per_video < 1:
            msg = f"max_queries_per_video must be >= 1 or None, got {max_queries_per_video}"
            raise ValueError(msg)
        self.video_ids = list(video_ids)
        self.videos_per_batch = videos_per_batch
        self.seed = seed
        self.max_queries = max_queries_per_video
        self._batches: list[list[int]] | None = None

    @classmethod
    def from_dataset(cls, dataset: Any, videos_per_batch: int, seed: int,
                     max_queries_per_video: int | None = None) -> VideoBatchSampler:
        """From a ``GroundingDataset`` (its ``rows``) or any dataset of items with ``video_id``."""
        rows = getattr(dataset, "rows", None)
        ids = [r["video_id"] for r in rows] if rows is not None else [dataset[i]["video_id"] for i in range(len(dataset))]
        return cls(ids, videos_per_batch, seed, max_queries_per_video)

    def _units(self, rng: np.random.Generator) -> list[tuple[str, list[int]]]:
        """(video, query indices) units: whole videos, or chunks of at most ``max_queries``."""
        by_video: dict[str, list[int]] = {}
        for i, vid in enumerate(self.video_ids):
            by_video.setdefault(vid, []).append(i)
        units = []
        for vid, idx in by_video.items():
            if self.max_queries is None or len(idx) <= self.max_queries:
                units.append((vid, idx))
                continue
            idx = [idx[j] for j in rng.permutation(len(idx))]
            units += [(vid, idx[k:k + self.max_queries]) for k in range(0, len(idx), self.max_queries)]
        return [units[j] for j in rng.permutation(len(units))]

    def batches(self) -> list[list[int]]:
        if self._batches is not None:
            return self._batches
        rng = np.random.default_rng(self.seed)
        waiting = self._units(rng)
        out: list[list[tuple[str, list[int]]]] = []
        while waiting:
            batch, held, rest = [], set(), []
            for unit in waiting:
                if len(batch) < self.videos_per_batch and unit[0] not in held:
                    batch.append(unit)
                    held.add(unit[0])
                else:
                    rest.append(unit)
            out.append(batch)
            waiting = rest
        lone = out[-1][0][0] if len(out) > 1 and len(out[-1]) == 1 else None
        if lone is not None and lone not in {v for v, _ in out[-2]}:  # a lone video would have no negative
            last = out.pop()
            out[-1] = out[-1] + last
        self._batches = [[i for _, idx in batch for i in idx] for batch in out]
        return self._batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
