"""Event, query-rewrite and query-caption priors: planners, the generate stage's parse/retry loop,
write expansion, the manifest and the warm rerun (plain Python stages), then one small run of
the real graph on Ray with the tiny random LLaVA (invalid JSON: the error path for real)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.keys import GenerationIdentity
from groundwork.cache.store import CacheStore
from pipeline.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.commands.errors import failed_rows
from pipeline.datasets.base import Annotations, PolicyReport, Query, Video
from pipeline.graph import _missing_texts
from pipeline.kinds import parser_of
from pipeline.kinds.base import PLANNERS, PlanSettings, QueryInput, VideoInput
from pipeline.kinds.structured import item_key, structurers
from pipeline.manifest import build_manifest, expand_structured
from pipeline.prompts import load_prompt
from pipeline.report import RunReport
from pipeline.stages.decode import NO_IMAGES
from pipeline.stages.generate import GenerateStage, RetryPolicy
from pipeline.stages.plan import PlanStage
from pipeline.stages.write import WriteStage
from tests.pipeline.priors_fixtures import demo_dir, priors_config, tiny_llava  # noqa: F401

KINDS = ("event", "query_rewrite", "query_caption")
TEMPLATES = {
    "event": load_prompt("describe_events"),
    "query_rewrite": load_prompt("rewrite_query"),
    "query_caption": load_prompt("caption_for_query"),
}
PROV = {
    k: {
        "model": "m",
        "model_revision": "r",
        "prompt_id": t.id,
        "prompt_version": t.version,
        "prompt_sha256": t.sha256,
        "sampling": '{"seed":0,"temperature":0.0}',
        "backend": "scripted",
    }
    for k, t in TEMPLATES.items()
}
Q1 = QueryInput("q1", "a circle appears", sha256_text("a circle appears"))
Q2 = QueryInput("q2", "it turns red", sha256_text("it turns red"))


class ScriptedBackend(Backend):
    """Fake: returns scripted texts; stands in for a model that can emit valid JSON, which
    random-weight tiny models cannot. ``script[prompt]`` is the answer to each successive ask
    of that prompt (the last one repeats); every call records (prompt, sampling)."""

    name = "scripted"

    def __init__(self, script: dict[str, list[str]], sampling: SamplingConfig = SamplingConfig()) -> None:
        super().__init__("scripted", sampling)
        self.script = script
        self.calls: list[tuple[str, SamplingConfig]] = []

    def run(
        self, requests: list[GenerationRequest], prepared: list, sampling: SamplingConfig
    ) -> list[GenerationResult]:
        out = []
        for r in requests:
            asked = sum(1 for p, _ in self.calls if p == r.prompt)
            self.calls.append((r.prompt, sampling))
            answers = self.script.get(r.prompt, ["a plain caption"])
            out.append(
                GenerationResult(r.key, answers[min(asked, len(answers) - 1)], n_prompt_tokens=7, n_output_tokens=5)
            )
        return out


def _planners(**settings) -> dict:
    ident = {k: GenerationIdentity("m", "r", t.id, t.version, t.sha256, {}, {}) for k, t in TEMPLATES.items()}
    return {
        k: PLANNERS.get(k)(ident[k], PlanSettings(n_images=max(1, TEMPLATES[k].n_images), **settings)) for k in KINDS
    }


def _video(vid: str = "v0", duration: float = 10.0, queries=(Q1, Q2)) -> VideoInput:
    return VideoInput(vid, f"/x/{vid}.mp4", duration, vid[-1] * 64, tuple(queries))


def test_planners_make_the_right_requests_and_keys() -> None:
    planners = _planners(segment_len=4.0)
    (event,) = planners["event"].plan(_video())
    assert (event.t_start, event.t_end, event.query_id) == (0.0, 10.0, "")
    assert event.frame_times == [0.625, 1.875, 3.125, 4.375, 5.625, 6.875, 8.125, 9.375]  # 8 = n_images
    prompt = TEMPLATES["event"].render(**{k: event.prompt_vars[k] for k in TEMPLATES["event"].variables})
    assert "frame 8: 9.4 s" in prompt and "<= 10.0" in prompt
    assert planners["event"].plan(_video(duration=0.0)) == []

    rewrites = planners["query_rewrite"].plan(_video())
    assert [(r.query_id, r.frame_times, r.prompt_vars["query"]) for r in rewrites] == [
        ("q1", [], "a circle appears"),
        ("q2", [], "it turns red"),
    ]
    renamed = planners["query_rewrite"].plan(_video(queries=(QueryInput("q9", Q1.text, Q1.text_sha256),)))
    edited = planners["query_rewrite"].plan(_video(queries=(QueryInput("q1", "x", sha256_text("x")),)))
    assert renamed[0].key == rewrites[0].key != edited[0].key  # the key follows the query's text hash

    captions = planners["query_caption"].plan(_video())
    assert len(captions) == 2 * 3  # queries x segments [0,4) [4,8) [8,10)
    assert [(c.t_start, c.t_end, c.frame_times, c.query_id) for c in captions[:2]] == [
        (0.0, 4.0, [2.0], "q1"),
        (0.0, 4.0, [2.0], "q2"),
    ]
    assert len({c.key for c in captions}) == 6
    assert len(_planners(segment_len=10.0)["query_caption"].plan(_video())) == 2


def _generate_batch(requests: list[dict], video: VideoInput) -> dict:
    """What decode + render hand to generate (frames are not needed by the scripted backend)."""

    def prompt(r: dict) -> str:
        tpl = TEMPLATES[r["kind"]]
        return tpl.render(**{k: r["prompt_vars"][k] for k in tpl.variables})

    cols = ("key", "kind", "query_id", "t_start", "t_end")
    batch = {c: [r[c] for r in requests] for c in cols}
    n = len(requests)
    return {
        **batch,
        "video_id": [video.video_id] * n,
        "video_sha256": [video.video_sha256] * n,
        "prompt": [prompt(r) for r in requests],
        "prompt_id": [TEMPLATES[r["kind"]].id for r in requests],
        "prompt_vars": [json.dumps(r["prompt_vars"]) for r in requests],
        "images": [NO_IMAGES] * n,
        "status": ["ok"] * n,
        "error_type": [""] * n,
        "error": [""] * n,
        "n_decoded": [0] * n,
    }


def _stage(backend: ScriptedBackend, retries: int = 2, samplings: dict | None = None) -> GenerateStage:
    stage = GenerateStage(
        lambda: backend,
        {k: t.json_schema for k, t in TEMPLATES.items()},
        structurers=structurers(TEMPLATES, {k: parser_of(k) for k in TEMPLATES}),
        retry=RetryPolicy(retries, 0.7),
        samplings=samplings,
    )
    stage.setup()
    return stage


def test_retry_loop_invalid_then_valid_and_always_invalid() -> None:
    video = _video(queries=(Q1,))
    reqs = [r.as_dict() for k in ("event", "query_rewrite") for r in _planners()[k].plan(video)]
    batch = _generate_batch(reqs, video)
    good_events = json.dumps([{"start": 1, "end": 3, "description": "a circle appears"}])
    backend = ScriptedBackend(
        {
            batch["prompt"][0]: ["not json", '[{"start": 4, "end": 2, "description": "x"}]', good_events],
            batch["prompt"][1]: ["{oops"],
        },
        SamplingConfig(seed=5),
    )
    out = _stage(backend).process_batch(batch)

    assert out["status"] == ["ok", "error"] and out["n_retries"] == [2, 2]
    assert out["items"][0] == json.dumps([[1.0, 3.0, "a circle appears"]]) and out["raw"][0] == good_events
    assert out["text"][0] == "" and json.loads(out["invalid"][0]) == {"bad_span": 1, "invalid_json": 1}
    assert (out["error_type"][1], out["raw"][1], json.loads(out["invalid"][1])) == (
        "invalid_json",
        "{oops",
        {"invalid_json": 3},
    )
    assert "after 2 retries" in out["error"][1] and out["key"][1] in out["error"][1] and "video 'v0'" in out["error"][1]
    assert out["n_prompt_tokens"] == [21, 21] and out["model_called"] == [True, True]
    # retries re-ask at temperature > 0 with their own seed; the backend gets its sampling back
    assert [(s.temperature, s.seed) for _, s in backend.calls] == [
        (0.0, 5),
        (0.0, 5),
        (0.7, 6),
        (0.7, 6),
        (0.7, 7),
        (0.7, 7),
    ]
    assert backend.sampling == SamplingConfig(seed=5)
    assert json.loads(out["sampling_used"][0])["seed"] == 7

    report = RunReport()
    report.add_generation({**out, "embedded": [False, False]})
    assert report.retries == 4 and report.invalid_answers == {"bad_span": 1, "invalid_json": 4}
    assert (report.events_parsed, report.items_by_kind, report.model_calls) == (1, {"event": 1}, 2)


def test_no_retries_when_disabled_and_plain_kinds_are_not_parsed() -> None:
    video = _video(queries=(Q1,))
    reqs = [r.as_dict() for k in ("event", "query_caption") for r in _planners(segment_len=10.0)[k].plan(video)]
    batch = _generate_batch(reqs, video)
    backend = ScriptedBackend({batch["prompt"][0]: ["nope", "[]"]})
    out = _stage(backend, retries=0).process_batch(batch)
    assert out["status"] == ["error", "ok"] and out["n_retries"] == [0, 0] and len(backend.calls) == 2
    assert out["text"][1] == "a plain caption" and out["items"][1] == ""


def test_a_kind_with_its_own_sampling_keeps_it_through_its_retries() -> None:
    video = _video(queries=(Q1,))
    reqs = [r.as_dict() for k in ("event", "query_caption") for r in _planners(segment_len=10.0)[k].plan(video)]
    batch = _generate_batch(reqs, video)
    backend = ScriptedBackend({batch["prompt"][0]: ["nope"]}, SamplingConfig(max_new_tokens=16))
    _stage(backend, retries=1, samplings={"event": SamplingConfig(max_new_tokens=300)}).process_batch(batch)
    seen = [(p == batch["prompt"][0], s.max_new_tokens, s.temperature) for p, s in backend.calls]
    assert sorted(seen) == [(False, 16, 0.0), (True, 300, 0.0), (True, 300, 0.7)]
    assert backend.sampling == SamplingConfig(max_new_tokens=16)


def _run_once(
    planners: dict, video: VideoInput, cache: Path, script: dict[str, list[str]], retry_errors: bool = False
) -> tuple[dict, ScriptedBackend]:
    """plan -> generate -> write, as the graph chains them, with the scripted backend."""
    store = CacheStore(cache)
    cached = {
        k: store.prior_key_status(k)[0] | (set() if retry_errors else store.prior_key_status(k)[1]) for k in planners
    }
    plan = PlanStage(planners, cached).process_batch(
        {
            "video_id": [video.video_id],
            "path": [video.path],
            "duration": [video.duration],
            "video_sha256": [video.video_sha256],
            "queries": [json.dumps([vars(q) for q in video.queries])],
        }
    )
    requests = json.loads(plan["requests"][0])
    backend = ScriptedBackend(script)
    if requests:
        batch = _generate_batch(requests, video)
        script.update({p: script[r["kind"]] for p, r in zip(batch["prompt"], requests) if r["kind"] in script})
        out = _stage(backend).process_batch(batch)
        WriteStage(cache, "enc", PROV).process_batch({**out, "embedded": [False] * len(out["key"])})  # no embed stage
    return json.loads(plan["planned"][0]), backend


def test_expanded_rows_manifest_and_a_warm_rerun_with_zero_model_calls(tmp_path: Path) -> None:
    planners = {k: p for k, p in _planners().items() if k != "query_caption"}
    video = _video(queries=(Q1, Q2))
    events = json.dumps(
        [
            {"start": 0, "end": 4, "description": "a circle appears"},
            {"start": 6, "end": 14, "description": "it turns red"},
        ]
    )  # clipped to 10
    rewrite = json.dumps({"coarse": "a shape", "original": "a circle shows up", "fine": "a small red circle fades in"})
    planned, backend = _run_once(planners, video, tmp_path, {"event": [events], "query_rewrite": [rewrite]})
    assert len(backend.calls) == 3  # 1 event request + 2 rewrite requests

    store = CacheStore(tmp_path)
    event_rows = {r["key"]: r for r in store.priors("event").to_pylist()}
    (request_key,) = [k for k, _ in planned["event"]]
    assert event_rows[request_key]["text"] == "" and event_rows[request_key]["raw"] == events
    first, second = event_rows[item_key(request_key, 0)], event_rows[item_key(request_key, 1)]
    assert (first["t_start"], first["t_end"], first["text"]) == (0.0, 4.0, "a circle appears")
    assert (second["t_start"], second["t_end"], second["raw"]) == (6.0, 10.0, events)
    assert first["text_sha256"] == sha256_text("a circle appears") and len(event_rows) == 3
    assert len(list((tmp_path / "priors" / "event").glob("*.parquet"))) == 1  # request + items: one shard

    ok = {k: store.prior_key_status(k)[0] for k in planners}
    expanded = expand_structured({"v0": planned}, ok)
    ann = Annotations(
        "toy",
        {"v0": Video("v0", 10.0)},
        [
            Query("q1", "v0", "train", Q1.text, ((0.0, 4.0),), 10.0),
            Query("q2", "v0", "test", Q2.text, ((6.0, 9.0),), 10.0),
        ],
        PolicyReport(),
    )
    rows = {r["query_id"]: r for r in build_manifest(ann, expanded, ok, {"v0": video.video_sha256}).to_pylist()}
    assert rows["q1"]["event_keys"] == rows["q2"]["event_keys"] == [item_key(request_key, 0), item_key(request_key, 1)]
    q1_request = next(k for k, q in planned["query_rewrite"] if q == "q1")
    assert rows["q1"]["query_rewrite_keys"] == [item_key(q1_request, i) for i in range(3)]
    rewrites = {r["key"]: r for r in store.priors("query_rewrite").to_pylist()}
    assert [rewrites[k]["text"] for k in rows["q1"]["query_rewrite_keys"]] == [
        "a shape",
        "a circle shows up",
        "a small red circle fades in",
    ]
    assert {rewrites[k]["query_id"] for k in rows["q2"]["query_rewrite_keys"]} == {"q2"}

    again, backend = _run_once(planners, video, tmp_path, {})
    assert backend.calls == [] and again == planned

    prep = SimpleNamespace(annotations=ann, videos=list(ann.videos.values()), planners=planners)
    texts = {t["text"] for t in _missing_texts(store, prep, expanded, "enc")}  # what the graph embeds next
    assert texts == {
        Q1.text,
        Q2.text,
        "a circle appears",
        "a shape",
        "a circle shows up",
        "a small red circle fades in",
    }


def test_zero_valid_events_and_failed_requests_count_as_done(tmp_path: Path) -> None:
    planners = {"event": _planners()["event"]}
    video = _video()
    planned, _ = _run_once(
        planners, video, tmp_path, {"event": [json.dumps([{"start": 20, "end": 30, "description": "late"}])]}
    )
    (request_key,) = [k for k, _ in planned["event"]]
    rows = CacheStore(tmp_path).priors("event").to_pylist()
    assert [(r["key"], r["status"], r["text"]) for r in rows] == [(request_key, "ok", "")]
    assert expand_structured({"v0": planned}, {"event": {request_key}}) == {"v0": {"event": []}}
    assert _run_once(planners, video, tmp_path, {})[1].calls == []

    other = _video("v1")
    failed, _ = _run_once(planners, other, tmp_path, {"event": ["no json here"]})
    bad = CacheStore(tmp_path).priors("event", keys=[failed["event"][0][0]]).to_pylist()
    assert [(r["status"], r["error_type"], r["raw"]) for r in bad] == [("error", "invalid_json", "no json here")]
    assert _run_once(planners, other, tmp_path, {})[1].calls == []  # errors are cached ...
    good = json.dumps([{"start": 1, "end": 2, "description": "a square"}])
    assert (
        len(_run_once(planners, other, tmp_path, {"event": [good]}, retry_errors=True)[1].calls) == 1
    )  # ... until retried
    assert failed_rows(CacheStore(tmp_path), ("event",)) == []  # the ok request row supersedes the error row
    ok = CacheStore(tmp_path).prior_key_status("event")[0]
    assert [k for k, _ in expand_structured({"v1": failed}, {"event": ok})["v1"]["event"]] == [
        item_key(failed["event"][0][0], 0)
    ]


@pytest.mark.slow
def test_real_graph_writes_event_and_rewrite_rows_and_reruns_warm(
    demo_dir: Path,
    tiny_llava: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from pipeline.graph import run_priors

    config = priors_config(
        demo_dir,
        tiny_llava,
        tmp_path / "cache",
        tmp_path / "m.parquet",
        limit=2,
        kinds=["event", "query_rewrite"],
        structured_retries=1,
        max_new_tokens_by_kind={},
        sampling=SamplingConfig(max_new_tokens=8),
    )
    report = run_priors(config)
    store = CacheStore(tmp_path / "cache")
    events, rewrites = store.priors("event").to_pylist(), store.priors("query_rewrite").to_pylist()
    manifest = pq.read_table(tmp_path / "m.parquet").to_pylist()
    n_queries = len(manifest)
    assert len([r for r in events if r["text"] == "" or r["status"] == "error"]) == 2  # one request per video
    assert len([r for r in rewrites if r["text"] == "" or r["status"] == "error"]) == n_queries
    assert report.model_calls == 2 + n_queries
    for row in events + rewrites:  # random weights: JSON is (almost surely) invalid, the raw answer kept
        if row["status"] == "error":
            assert row["error_type"] in ("invalid_json", "schema_violation", "bad_span") and row["raw"] != ""
    n_errors = sum(r["status"] == "error" for r in events + rewrites)
    assert report.retries == n_errors and sum(report.invalid_answers.values()) == 2 * n_errors
    assert all(
        set(r["event_keys"]) <= {e["key"] for e in events if e["status"] == "ok" and e["text"]} for r in manifest
    )
    again = run_priors(config)
    assert (again.model_calls, again.rows_written, again.cache_hits) == (0, 0, again.requests)


def test_config_gives_json_kinds_longer_answers_and_checks_the_kinds() -> None:
    from pipeline.config import PriorsConfig

    config = PriorsConfig(dataset="demo", annotations=Path("d"), model="m", sampling=SamplingConfig(max_new_tokens=50))
    assert config.sampling_for("event").max_new_tokens == 384 and config.sampling_for("narrative").max_new_tokens == 50
    assert config.sampling_for("query_rewrite") == SamplingConfig(max_new_tokens=160)
    with pytest.raises(ValueError, match="max_new_tokens_by_kind: 'evnt'"):
        PriorsConfig(dataset="demo", annotations=Path("d"), model="m", max_new_tokens_by_kind={"evnt": 10})
