"""``key_frame_caption``: GranAlign's query-aware captions (Step C), the second version of
``query_caption`` (which stays: a caption per query and fixed segment, prompt
``caption_for_query`` v1). Only the query's key frames (``key_frame`` rows) are captioned, each
with the entities and actions the query's rewrite extracted (``query_rewrite_pairs``' answer,
``focus_of``) in the prompt (``prompts/caption_key_frame``), which asks the model to say when
they are absent.

A query whose rewrite failed has nothing to guide its captions and gets none (the scorer then
falls back to its agnostic channel). A key holds the request's own key (video, frame time, query,
model, prompt, sampling), the key-frame row's key (the selection method and its inputs) and the
entity / action strings, so a new selection or a new rewrite captions again."""

from __future__ import annotations

from groundwork.cache.hashing import cache_key
from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput
from pipeline.kinds.query_rewrite_pairs import focus_of

KEY_FRAMES, REWRITES = "key_frame", "query_rewrite_pairs"


@PLANNERS.register("key_frame_caption")
class KeyFrameCaptionPlanner(Planner):
    kind = "key_frame_caption"
    prompt = "caption_key_frame"
    depends_on = (KEY_FRAMES, REWRITES)

    def fingerprint(self, video: VideoInput) -> str:
        upstream = self.context.upstream(video, self.depends_on)
        return cache_key({"base": super().fingerprint(video), "upstream": upstream})

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        focus = {row.query_id: focus_of(row.raw) for row in self.context.requests(REWRITES, video)}
        queries = {q.query_id: q for q in video.queries}
        out = []
        for frame in self.context.rows(KEY_FRAMES, video):
            found = focus.get(frame.query_id)
            if found is None or frame.query_id not in queries:
                continue
            t = frame.t_start
            request = self.request(
                video,
                t_start=t,
                t_end=t,
                frame_times=[t],
                query=queries[frame.query_id],
                entities=found.entities_text,
                actions=found.actions_text,
                timestamp=t,
            )
            request.key = cache_key(
                {"request": request.key, "key_frame": frame.key, "focus": [found.entities_text, found.actions_text]}
            )
            out.append(request)
        return out
