"""``run_priors(config) -> RunReport``: the priors stage graph.

    plan (driver; drops cached keys; videos without a file: one error row per kind, pipeline.generation)
    -> decode (claims each kind x video in a shared cache) -> render -> generate (+ JSON parse/retry) -> embed
    -> slim -> write (driver: buffered shards, pipeline.stages.write); then wait for / take over the units
    other runs held (pipeline.generation)
    texts still missing features (queries, priors cached earlier) -> embed -> slim -> write (driver)
    visual: videos without features -> decode -> visual -> write_visual
    patches (STVG datasets): videos without patch grids -> decode -> visual -> write_patches (pipeline.stvg)
    manifest (driver)

A kind that reads other kinds' outputs (``Planner.depends_on``: GranAlign's key frames read the
narratives, their captions read the key frames and the rewrites) is planned in a later round, once
those are generated and embedded (``pipeline.kinds.context``): each round runs plan -> ... ->
texts above for its kinds; a computed kind's rows are written on the driver (``pipeline.computed``).

Only ``pipeline.ray_adapter`` touches Ray; when nothing is left to do, Ray is not started."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from functools import partial

from tqdm import tqdm

from groundwork.cache.claims import ClaimBook, Owner
from groundwork.cache.hashing import cache_key, sha256_text
from groundwork.cache.keys import VideoHashes
from groundwork.cache.store import CacheStore, default_cache_dir
from pipeline.backends.base import BACKENDS
from pipeline.cache.plan_index import read_plan_index, write_plan_index
from pipeline.cluster import model_gpus, worker_path
from pipeline.computed import write_computed
from pipeline.config import PriorsConfig
from pipeline.generation import drop_missing_videos, generate_claimed
from pipeline.kinds import Planner, parser_of
from pipeline.kinds.context import bind_round, planning_rounds
from pipeline.kinds.structured import structurers
from pipeline.manifest import build_manifest, expand_structured, write_manifest
from pipeline.prepare import Prepared, prepare
from pipeline.report import RunReport
from pipeline.stages.base import Batch, Resources
from pipeline.stages.claim import ClaimingDecodeStage
from pipeline.stages.decode import DecodeStage
from pipeline.stages.embed import EmbedStage
from pipeline.stages.generate import GenerateStage, RetryPolicy
from pipeline.stages.plan import PlanStage
from pipeline.stages.render import RenderStage
from pipeline.stages.visual import VisualFeatureStage, WriteVisualStage
from pipeline.stages.write import FlushPolicy, SlimStage, WriteStage, WriteTextStage
from pipeline.stvg import patch_pass, write_tubes


def _stream(config: PriorsConfig, rows: list[dict], stages: list) -> Iterator[Batch]:
    """Run ``stages`` over ``rows`` on Ray (started on first use: a warm rerun never starts it)."""
    from pipeline.cluster import project_runtime_env
    from pipeline.ray_adapter import init_ray, run_stages

    address = config.resolved_ray_address()
    if address:  # a cluster: ship the project to its workers (runtime_env working_dir)
        with project_runtime_env(config.ray_runtime_env) as runtime_env:
            init_ray(address, config.num_cpus, runtime_env)
    else:
        init_ray(None, config.num_cpus)
    yield from run_stages(rows, stages, progress=config.progress, strict_cpus=not address)


def _video_rows(prep: Prepared, hashes: VideoHashes, progress: bool) -> list[dict]:
    by_video: dict[str, list[dict]] = {}
    for q in prep.annotations.queries:
        by_video.setdefault(q.video_id, []).append(
            {"query_id": q.query_id, "text": q.text, "text_sha256": sha256_text(q.text)}
        )
    return [
        {
            "video_id": v.video_id,
            "path": worker_path(v.path) or "",
            "duration": float(v.duration),
            "video_sha256": hashes(v.path),
            "queries": json.dumps(by_video.get(v.video_id, [])),
        }
        # disable=None: tqdm switches itself off when output is not a terminal
        for v in tqdm(prep.videos, desc="hash videos", unit="video", disable=None if progress else True)
    ]


def _cached_keys(store: CacheStore, kinds: list[str], retry_errors: bool) -> dict[str, set[str]]:
    out = {}
    for kind in kinds:
        ok, errors = store.prior_key_status(kind)
        out[kind] = ok if retry_errors else ok | errors
    return out


def _plan(
    planners: dict[str, Planner], rows: list[dict], store: CacheStore, retry_errors: bool, report: RunReport
) -> tuple[dict, list[dict]]:
    """Run the plan stage on the driver: every video's planned keys (for the manifest) and the
    videos with requests left to generate."""
    if not rows:
        return {}, []
    cached = _cached_keys(store, list(planners), retry_errors)
    stage = PlanStage(planners, cached, read_plan_index(store.root))
    out = stage.process_batch({k: [r[k] for r in rows] for k in rows[0]})
    write_plan_index(store.root, {fp: e for new in out["index_new"] for fp, e in json.loads(new).items()})
    planned, todo = {}, []
    for i, row in enumerate(rows):
        planned[row["video_id"]] = json.loads(out["planned"][i])
        report.requests += out["n_planned"][i]
        report.cache_hits += out["n_cached"][i]
        if out["n_planned"][i] > out["n_cached"][i]:
            todo.append({**row, "requests": out["requests"][i]})
    return planned, todo


def _embed_stages(config: PriorsConfig, store: CacheStore, encoder_name: str, make_encoder: Callable) -> list:
    """Embed, then drop frames and prompts before the rows go to the driver's write stage."""
    cached = store.text_hashes(encoder_name)
    embed = EmbedStage(
        make_encoder,
        cached,
        Resources(
            cpus=0.5 / config.embed_concurrency,
            concurrency=config.embed_concurrency,
            batch_size=config.embed_batch_size,
        ),
    )
    return [embed, SlimStage(Resources(cpus=0.25, batch_size=config.write_batch_size))]


def _writer(config: PriorsConfig, store: CacheStore, encoder_name: str, provenance: dict | None) -> WriteTextStage:
    """The run's one write stage, on the driver: shards of shard_rows / shard_mb / shard_seconds."""
    policy = FlushPolicy(config.shard_rows, config.shard_mb, config.shard_seconds)
    return (
        WriteStage(store.root, encoder_name, provenance, policy=policy)
        if provenance
        else WriteTextStage(store.root, encoder_name, policy=policy)
    )


def _missing_texts(store: CacheStore, prep: Prepared, planned: dict, encoder_name: str) -> list[dict]:
    """Query texts and ok prior texts (``planned`` with structured requests expanded to their
    items) that have no features yet."""
    selected = {v.video_id for v in prep.videos}
    texts = {sha256_text(q.text): q.text for q in prep.annotations.queries if q.video_id in selected}
    for kind in prep.planners:
        keys = [k for per_video in planned.values() for k, _ in per_video.get(kind, [])]
        table = store.priors(kind, keys=keys).select(["text", "text_sha256", "status"])
        for row in table.to_pylist():
            if row["status"] == "ok" and row["text"]:
                texts[row["text_sha256"]] = row["text"]
    have = store.text_hashes(encoder_name)
    return [{"text": t, "text_sha256": h, "status": "ok"} for h, t in texts.items() if h not in have]


def _visual_pass(config: PriorsConfig, prep: Prepared, rows: list[dict], store: CacheStore, report: RunReport) -> str:
    """Per-second visual features of every video; returns the feature set's name."""
    from pipeline.features.visual import VisualEncoder, write_video_features
    from pipeline.frames import time_grid

    encoder = VisualEncoder(config.visual_encoder, device=config.device)
    # Content-addressed like every cache entry: the folder name carries a hash of the encoder's
    # weights, the sampler and the interval, so a changed encoder never reuses stale features.
    spec = {"encoder": encoder.spec(), "sampler": prep.sampler.spec(), "interval": config.visual_interval}
    name = f"{encoder.name}-{cache_key(spec)[:12]}"
    folder = store.visual_dir(name)
    todo = []
    for r in rows:
        if not (folder / f"{r['video_id']}.npz").exists():
            times = time_grid(r["duration"], config.visual_interval)
            req = {
                "kind": "visual",
                "key": r["video_id"],
                "query_id": "",
                "t_start": 0.0,
                "t_end": r["duration"],
                "frame_times": times,
                "prompt_vars": {},
            }
            todo.append({**r, "requests": json.dumps([req] if times else [])})
    if todo:
        stages = [
            DecodeStage(prep.sampler, Resources(cpus=0.5, batch_size=1)),
            VisualFeatureStage(
                partial(VisualEncoder, worker_path(config.visual_encoder), config.device),
                Resources(cpus=1.0, gpus=model_gpus(config.device, config.num_gpus_per_actor), batch_size=1),
            ),
            WriteVisualStage(folder, write_video_features, Resources(cpus=0.25, batch_size=4)),
        ]
        for batch in _stream(config, todo, stages):
            report.visual_videos += int(sum(bool(w) for w in batch["written"]))
            report.add_times(batch)
    return name  # relative to <cache>/visual, as the manifest records it


def _round(
    config: PriorsConfig,
    prep: Prepared,
    rows: list[dict],
    store: CacheStore,
    kinds: list[str],
    report: RunReport,
    encoder_name: str,
    make_encoder: Callable,
) -> dict:
    """Plan, generate and embed one planning round's ``kinds``; returns their planned keys (structured
    requests expanded to their item rows). Planners that read earlier rounds are bound first."""
    planners = {kind: prep.planners[kind] for kind in kinds}
    bind_round(prep, kinds, rows, store, encoder_name, make_encoder, config.visual_encoder, config.device)
    t0 = time.perf_counter()
    planned, todo = _plan(planners, rows, store, config.retry_errors, report)
    report.stage_seconds["plan"] = report.stage_seconds.get("plan", 0.0) + time.perf_counter() - t0
    todo, computed = write_computed(todo, planners, prep.provenance, store)  # answered at plan time
    report.add_computed(computed)
    write = _writer(config, store, encoder_name, prep.provenance)
    todo = drop_missing_videos(prep, todo, planned, store, write, report)
    if todo:
        make_backend = partial(
            BACKENDS.get(config.backend),
            worker_path(config.model),
            config.sampling,
            device=config.device,
            batch_size=config.generate_batch_size,
            **config.backend_options,
        )
        schemas = {k: t.json_schema for k, t in prep.templates.items()}

        def generation(work: list[dict], claims: ClaimBook) -> None:
            """One pass of the graph over ``work``; its rows are written when it returns."""
            stages = [
                ClaimingDecodeStage(prep.sampler, claims, Resources(cpus=0.5, batch_size=1)),
                RenderStage(prep.templates),
                GenerateStage(
                    make_backend,
                    schemas,
                    Resources(
                        cpus=1.0,
                        gpus=model_gpus(config.device, config.num_gpus_per_actor),
                        concurrency=config.generate_concurrency,
                        batch_size=config.generate_batch_size,
                    ),
                    structurers(prep.templates, {k: parser_of(k) for k in prep.templates}),
                    RetryPolicy(config.structured_retries, config.retry_temperature),
                    {kind: config.sampling_for(kind) for kind in prep.planners},
                ),
                *_embed_stages(config, store, encoder_name, make_encoder),
            ]
            for batch in write.stream(_stream(config, work, stages)):
                report.add_generation(batch)

        generate_claimed(config, store, todo, planned, report, generation)
    write.flush()
    report.add_shards(write.shard_sizes)

    ok_keys = {kind: store.prior_key_status(kind)[0] for kind in kinds}
    planned = expand_structured(planned, ok_keys)  # event / query_rewrite requests -> their item rows
    texts = _missing_texts(store, prep, planned, encoder_name)
    if texts:
        write = _writer(config, store, encoder_name, None)
        for batch in write.stream(_stream(config, texts, _embed_stages(config, store, encoder_name, make_encoder))):
            report.texts_embedded += int(sum(bool(e) for e in batch["embedded"]))
            report.add_times(batch)
        report.add_shards(write.shard_sizes)
    return planned


def run_priors(config: PriorsConfig) -> RunReport:
    start = time.perf_counter()
    from pipeline.features.text import get_text_encoder

    prep = prepare(config)
    store = CacheStore(default_cache_dir(config.cache).absolute())  # workers start elsewhere (pipeline.cluster)
    encoder_name = get_text_encoder(config.text_encoder).name
    make_encoder = partial(get_text_encoder, config.text_encoder)
    report = RunReport(
        dataset=config.dataset,
        cache_dir=str(store.root),
        videos=len(prep.videos),
        queries_read=prep.annotations.queries_read,
        policies=prep.annotations.policies.as_dict(),
        kind_splits=config.kind_splits,
    )

    report.claims_cleared = ClaimBook(store.root, Owner.this_process()).clear_gone(config.kinds)
    t0 = time.perf_counter()
    hashes = VideoHashes(store.root / "video_hashes.json")
    rows = _video_rows(prep, hashes, config.progress)
    hashes.save()
    report.stage_seconds["plan"] = time.perf_counter() - t0

    planned: dict[str, dict] = {}
    for kinds in planning_rounds(prep.planners):  # a kind that reads others' outputs is planned after them
        for video_id, by_kind in _round(config, prep, rows, store, kinds, report, encoder_name, make_encoder).items():
            planned.setdefault(video_id, {}).update(by_kind)
    ok_keys = {kind: store.prior_key_status(kind)[0] for kind in prep.planners}

    visual = _visual_pass(config, prep, rows, store, report) if config.visual_encoder else ""
    patches = (
        patch_pass(
            config,
            prep.annotations,
            rows,
            prep.sampler,
            store,
            report,
            partial(_stream, config),
            model_gpus(config.device, config.num_gpus_per_actor),
            worker_path(config.visual_encoder),
        )
        if config.visual_encoder
        else ""
    )  # STVG datasets only

    t0 = time.perf_counter()
    selected = {v.video_id for v in prep.videos}
    prep.annotations.queries = [q for q in prep.annotations.queries if q.video_id in selected]
    table = build_manifest(
        prep.annotations, planned, ok_keys, {r["video_id"]: r["video_sha256"] for r in rows}, list(prep.planners)
    )
    report.add_manifest(table.to_pylist(), list(prep.planners))
    path = write_manifest(
        config.manifest_path(),
        table,
        dataset=config.dataset,
        cache_dir=store.root,
        text_encoder=encoder_name,
        visual_features=visual,
        patch_features=patches,
    )
    write_tubes(path, prep.annotations)  # STVG GT boxes beside the manifest (groundwork.stvg.tubes_path)
    report.stage_seconds["manifest"] = time.perf_counter() - t0
    report.manifest = str(path)
    report.wall_seconds = time.perf_counter() - start
    report.write(path.with_suffix(".report.json"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    report.write(store.root / "runs" / f"{stamp}-{config.dataset}.json")  # `priors status` reads the last
    return report
