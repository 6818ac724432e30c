"""``priors run DATASET --annotations DIR ...``: generate priors, text and visual features and
the manifest for one dataset (the whole stage graph)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.backends.base import SamplingConfig
from pipeline.config import PriorsConfig, PromptChoice

EPILOG = """\
examples:
  # the demo dataset (generated into data/demo when missing) with a tiny local model
  priors run demo --annotations data/demo --model .cache/models/tiny-llava --visual-encoder .cache/models/tiny-clip

  # Charades-STA narratives every second with LLaVA-1.5 on a Ray cluster, shared cache
  priors run charades_sta --annotations ../shared/data/charades_sta --video-root /data/charades/videos \\
      --model llava-hf/llava-1.5-7b-hf --backend vllm --cache /mnt/cache --ray-address auto --kinds narrative

what it does:
  plan (drop keys already cached) -> decode (decord) -> render prompt -> generate (model)
  -> embed (text encoder) -> write (Parquet shards in the cache) -> manifest.
  A second identical run makes 0 model calls. Failed rows (missing videos, model errors) are
  cached as errors: see them with `priors errors`, redo them with --retry-errors.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="generate priors + features + manifest for a dataset",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="dataset adapter: charades_sta, qvhighlights, folder, demo, ...")
    p.add_argument("--annotations", required=True, type=Path, help="the adapter's annotation folder")
    p.add_argument("--video-root", type=Path, help="folder of the videos (adapter default when omitted)")
    p.add_argument("--cache", type=Path, help="cache root (default $GROUNDWORK_CACHE, else ~/.cache/groundwork)")
    p.add_argument("--manifest", type=Path, help="manifest path (default manifests/<dataset>.parquet)")
    p.add_argument("--model", required=True, help="model folder or hub id (see presets)")
    p.add_argument("--backend", default=None,
                   help="generation backend: transformers, vllm, openai (default: vllm when it imports, else transformers)")
    p.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="backend keyword argument, VALUE parsed as JSON when it can be, "
                        "e.g. base_url=http://127.0.0.1:8000/v1 (openai) or max_images=8 (vllm)")
    p.add_argument("--device", default="cpu", help="torch device of the transformers backend (cpu, cuda)")
    p.add_argument("--kinds", default="narrative,clip_caption",
                   help="comma-separated prior kinds: narrative, clip_caption, event, query_rewrite, query_caption")
    p.add_argument("--prompt", action="append", default=[], metavar="KIND=ID[@VERSION]",
                   help="override a kind's prompt template, e.g. narrative=narrate_frame@1")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between narrated frames (default 1)")
    p.add_argument("--clip-len", type=float, default=2.0, help="clip-caption window in seconds (default 2)")
    p.add_argument("--segment-len", type=float, default=4.0,
                   help="query_caption segment in seconds (queries x segments requests; default 4)")
    p.add_argument("--structured-retries", type=int, default=2,
                   help="re-asks of an invalid JSON answer (event, query_rewrite), sampled at T>0 (default 2)")
    p.add_argument("--resize", default="{}", help='frame resize policy as JSON, e.g. {"mode":"short_side","short_side":336}')
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--kind-max-new-tokens", action="append", default=[], metavar="KIND=N",
                   help="a kind's own max_new_tokens (default event=384, query_rewrite=160: JSON answers are long)")
    p.add_argument("--batch-size", type=int, default=8, help="requests per model call")
    p.add_argument("--gpus-per-actor", type=float, default=0.0, help="GPUs per generate actor (cluster runs)")
    p.add_argument("--actors", type=int, default=1, help="generate actors (one model each)")
    p.add_argument("--shard-rows", type=int, default=32,
                   help="rows per cache shard: a killed run loses at most the shards in flight (default 32)")
    p.add_argument("--text-encoder", default="minilm", help="text encoder registry name")
    p.add_argument("--visual-encoder", help="CLIP-style vision model folder; omit to skip visual features")
    p.add_argument("--ray-address", help="Ray cluster address (default $RAY_ADDRESS, else a local instance)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--retry-errors", action="store_true", help="retry rows cached with status=error")
    p.add_argument("--limit", type=int, help="only the first N videos (smoke runs)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=main)


def _prompts(items: list[str]) -> dict[str, PromptChoice]:
    from pipeline.config import default_prompts

    out = default_prompts()
    for item in items:
        kind, sep, spec = item.partition("=")
        if not sep:
            msg = f"--prompt: expected KIND=ID[@VERSION], got '{item}'"
            raise ValueError(msg)
        pid, _, version = spec.partition("@")
        out[kind] = PromptChoice(id=pid, version=int(version) if version else None)
    return out


def _kind_tokens(items: list[str]) -> dict[str, int]:
    from pipeline.config import PriorsConfig

    out = dict(PriorsConfig.model_fields["max_new_tokens_by_kind"].default_factory())
    for item in items:
        kind, sep, n = item.partition("=")
        if not sep or not n.strip().isdigit():
            msg = f"--kind-max-new-tokens: expected KIND=N, got '{item}'"
            raise ValueError(msg)
        out[kind.strip()] = int(n)
    return out


def _backend_options(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"--backend-option expects KEY=VALUE, got {item!r}"
            raise ValueError(msg)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def config_from_args(args: argparse.Namespace) -> PriorsConfig:
    backend = {"backend": args.backend} if args.backend else {}
    return PriorsConfig(**backend, backend_options=_backend_options(args.backend_option),
        dataset=args.dataset, annotations=args.annotations, video_root=args.video_root, cache=args.cache,
        manifest=args.manifest, model=args.model, device=args.device,
        kinds=[k.strip() for k in args.kinds.split(",") if k.strip()], prompts=_prompts(args.prompt),
        interval=args.interval, clip_len=args.clip_len, resize=json.loads(args.resize),
        segment_len=args.segment_len, structured_retries=args.structured_retries,
        max_new_tokens_by_kind=_kind_tokens(args.kind_max_new_tokens),
        sampling=SamplingConfig(temperature=args.temperature, max_new_tokens=args.max_new_tokens),
        generate_batch_size=args.batch_size, write_batch_size=args.shard_rows, num_gpus_per_actor=args.gpus_per_actor,
        generate_concurrency=args.actors, text_encoder=args.text_encoder, visual_encoder=args.visual_encoder,
        ray_address=args.ray_address, num_cpus=args.num_cpus, retry_errors=args.retry_errors,
        limit=args.limit, progress=not args.no_progress)


def main(args: argparse.Namespace) -> int:
    from pipeline.graph import run_priors

    try:
        config = config_from_args(args)
        report = run_priors(config)
    except ValueError as exc:  # bad config, prompt, dataset or model: said before any model loads
        print(f"priors run: {exc}", file=sys.stderr)
        return 2
    print(report.table())
    return 0
