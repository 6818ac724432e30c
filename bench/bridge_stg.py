"""``bridge_stg`` per-query inference latency on the spatio-temporal demo, beside its temporal
branch alone (the ``whole_frame`` mode), on CPU.

For each run folder (a trained checkpoint, e.g. ``make demo``'s ``runs/demo/stvg/<row>/seed0``)
the test split's queries are predicted one per call, twice:

- ``model``: the item already built (features, patch grids, prior vectors in memory), timed over
  ``collate`` + forward + decoding of the STVG record (the sted and a box on every grid frame);
- ``predictor``: ``Predictor.predict_rows([(video, query)])``, what ``grounding-predict`` does per
  query once its caches are warm (item building included).

Medians of wall and CPU time (one torch thread; on a shared machine wall time is inflated by other
processes, CPU time is what an idle core would take), and the ratio to the first run given.

    python bench/bridge_stg.py runs/demo/stvg/bridge_stg-whole_frame/seed0 runs/demo/stvg/bridge_stg/seed0
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.data.collate import collate  # noqa: E402
from grounding.predict import Predictor  # noqa: E402


def _timed(fn) -> tuple[float, float]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(run: Path, limit: int) -> dict[str, float]:
    predictor = Predictor.from_checkpoint(run)
    model = predictor.model
    rows = [r for r in predictor.info.rows if r["split"] == "test"][:limit]
    pairs = [(r["video_id"], r["query"]) for r in rows]
    items = predictor._items(pairs)  # warm: every video's fields built once
    predictor.predict_rows(pairs[:4])
    out: dict[str, list[float]] = {"model_wall": [], "model_cpu": [], "predictor_wall": [], "predictor_cpu": []}
    with torch.inference_mode():
        for item, pair in zip(items, pairs, strict=True):
            wall, cpu = _timed(lambda item=item: model.decode(model(b := collate([item])), b, 5))
            out["model_wall"].append(wall)
            out["model_cpu"].append(cpu)
            wall, cpu = _timed(lambda pair=pair: predictor.predict_rows([pair]))
            out["predictor_wall"].append(wall)
            out["predictor_cpu"].append(cpu)
    frames = statistics.fmean(len(it["frame_ids"]) for it in items)
    return {"queries": len(items), "grid_frames": frames} | {k: statistics.median(v) * 1000 for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (the first is the reference)")
    parser.add_argument("--limit", type=int, default=200, help="test queries per run")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [(run, measure(run, args.limit)) for run in args.runs]
    ref = results[0][1]
    print(
        f"{'run':<48}{'queries':>8}{'frames':>8}{'model ms':>10}{'(cpu)':>8}{'predictor ms':>14}{'(cpu)':>8}"
        f"{'x ref (cpu)':>12}"
    )
    for run, r in results:
        ratio = r["model_cpu"] / ref["model_cpu"] if ref["model_cpu"] else float("nan")
        print(
            f"{str(run)[-48:]:<48}{r['queries']:>8}{r['grid_frames']:>8.1f}{r['model_wall']:>10.1f}"
            f"{r['model_cpu']:>8.1f}{r['predictor_wall']:>14.1f}{r['predictor_cpu']:>8.1f}{ratio:>12.2f}"
        )


if __name__ == "__main__":
    main()
