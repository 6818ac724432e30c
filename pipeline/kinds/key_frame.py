"""``key_frame``: the key frames of each query (GranAlign Step C's frame filter), a computed kind.

For each query of a video it scores the video's frames, those that have a query-agnostic
caption (the rows of ``source``: GranAlign's own ``frame_caption`` rows when the run makes them,
else the ``narrative`` rows; ``PlanSettings.key_frame_source`` names one), against the text of
``prompts/select_key_frames`` (the original query, notes #4) and keeps the top K %
(``pipeline.features.frame_selection.key_frame_count``).
No generative model runs: the planner answers its own requests (``computed``), one row per
(query, key frame), ``t_start == t_end ==`` the frame's time, its text the frame's agnostic
caption (already embedded), its ``raw`` JSON the method, score and rank, and its ``model`` column
the method (``clip-image-text``, or the ``caption-similarity`` fallback). A key holds the method's
spec, the count, the frame's time and the keys of every caption of the video (the ranking depends
on all of them), so any change selects again."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import numpy as np

from groundwork.cache.hashing import cache_key, canonical_json
from pipeline.features.frame_selection import frame_scorer, key_frame_count
from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput


@PLANNERS.register("key_frame")
class KeyFramePlanner(Planner):
    kind = "key_frame"
    prompt = "select_key_frames"
    computed = True

    @property
    def depends_on(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.source,)

    @property
    def source(self) -> str:
        """The kind whose frames are ranked: ``PlanSettings.key_frame_source``, where ``auto`` is
        GranAlign's own frame captions when the run makes them (``settle``), else the narratives."""
        chosen = self.settings.key_frame_source
        return chosen if chosen != "auto" else getattr(self, "_auto", "narrative")

    def settle(self, kinds: Collection[str]) -> None:
        self._auto = "frame_caption" if "frame_caption" in kinds else "narrative"

    def fingerprint(self, video: VideoInput) -> str:
        upstream = self.context.upstream(video, self.depends_on)
        return cache_key(
            {"base": super().fingerprint(video), "upstream": upstream, "scorer": frame_scorer(self.context).spec()}
        )

    def provenance(self, base: dict[str, Any]) -> dict[str, Any]:
        """The row provenance of a computed kind: the selection method instead of the VLM."""
        scorer = frame_scorer(self.context)
        settings = {
            "percent": self.settings.key_frame_percent,
            "min": self.settings.key_frame_min,
            "max": self.settings.key_frame_max,
        }
        return {
            **base,
            "model": scorer.name,
            "model_revision": cache_key(scorer.spec())[:16],
            "sampling": canonical_json(settings),
            "backend": "computed",
        }

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        frames = self.context.rows(self.source, video)
        if not frames or not video.queries:
            return []
        scorer = frame_scorer(self.context)
        spec, count = scorer.spec(), key_frame_count(len(frames), self.settings)
        inputs = cache_key([f.key for f in frames])
        template = self.context.template(self.kind)
        times, shas = [f.t_start for f in frames], [f.text_sha256 for f in frames]
        out = []
        for query in video.queries:
            scores = np.asarray(scorer.scores(video, template.render(query=query.text), times, shas), np.float64)
            ranked = np.argsort(-scores, kind="stable")[:count]
            for rank, i in sorted(enumerate(ranked.tolist()), key=lambda pair: pair[1]):  # time order
                t = frames[i].t_start
                request = self.request(video, t_start=t, t_end=t, frame_times=[t], query=query)
                request.key = cache_key({"request": request.key, "scorer": spec, "inputs": inputs, "count": count})
                request.answer = frames[i].text
                request.detail = json.dumps(
                    {
                        "method": scorer.name,
                        "score": round(float(scores[i]), 6),
                        "rank": rank + 1,
                        "selected": count,
                        "frames": len(frames),
                        "caption_key": frames[i].key,
                    },
                    sort_keys=True,
                )
                out.append(request)
        return out
