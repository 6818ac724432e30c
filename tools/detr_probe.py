"""Where does a DETR-family run (``qd_detr``, ``mesm``) lose the query?

    .venv/bin/python tools/detr_probe.py runs/demo/qd-detr/seed0 runs/demo/mesm/seed0 [--split train] [--init]
        [--manifest manifests/demo.parquet --cache-dir .cache/groundwork]   # a run folder copied here

Two measurements on whole-video batches of a split (the run's ``best/`` checkpoint, read like
``grounding-eval`` reads it, in eval mode):

- **saliency** (QD-DETR's s_i = (W1 m_i) . (W2 g) / sqrt(d)): the mean score of the snippets
  inside the query's moment (``in``), outside it (``out``), and of the same video's snippets under
  a query of another video of the batch (``other``: the negative pair of training), and the sd of
  all of them. A saliency that reads the query puts ``in`` above ``out`` and ``other``.
- **moves**: each query is swapped for another query of the same video (videos with one query
  are left out), and each stage's output is compared with the true query's: ``aligned`` (frames
  after the text-to-video aligner) and ``memory`` (after the encoder) as ||x(q') - x(q)|| /
  ||x(q)|| over the valid snippets, in %; ``fg``, the decoder slots' foreground probabilities, as
  their mean absolute change over their sd (across slots and queries), in %. A stage that reads
  the query moves; an ``fg`` near 0 means the decoder answers every query of a video alike.

``--init`` adds a row for the same architecture freshly initialised (seed 0), the scale of a
stage that has not learned to ignore anything. README's "The demo" quotes these figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.data.collate import collate  # noqa: E402
from grounding.data.targets import moment_mask  # noqa: E402
from grounding.layers.detr import FOREGROUND  # noqa: E402
from grounding.models import build_model  # noqa: E402
from grounding.models.qd_detr import QDDetrModel, negative_index  # noqa: E402
from grounding.run_eval import CheckpointSplit, open_checkpoint_split  # noqa: E402
from groundwork.errors import UserError  # noqa: E402


def relative_change(a: Tensor, b: Tensor, mask: Tensor) -> tuple[float, float]:
    """(sum of ||b - a||^2, sum of ||a||^2) over the valid snippets: a, b (B, L, d), mask (B, L);
    summed over batches, the root of their ratio is the relative change."""
    m = mask[..., None].to(a.dtype)
    return float((((b - a) * m) ** 2).sum()), float(((a * m) ** 2).sum())


def same_video_swap(video_ids: list[Any]) -> Tensor:
    """For each query, another query of the same video (the next one, cyclically); a video with
    one query keeps it (index i at row i)."""
    perm = list(range(len(video_ids)))
    rows: dict[Any, list[int]] = {}
    for i, v in enumerate(video_ids):
        rows.setdefault(v, []).append(i)
    for idx in rows.values():
        for a, b in zip(idx, idx[1:] + idx[:1], strict=True):
            perm[a] = b
    return torch.tensor(perm)


@torch.no_grad()
def measure(model: QDDetrModel, loader: DataLoader, batches: int) -> dict[str, float]:
    model.eval()
    gen = torch.Generator().manual_seed(0)
    sal: dict[str, list[Tensor]] = {"in": [], "out": [], "other": []}
    sums = {"aligned": [0.0, 0.0], "memory": [0.0, 0.0]}
    fg_diff: list[Tensor] = []
    fg_true: list[Tensor] = []
    for k, batch in enumerate(loader):
        if k >= batches:
            break
        state, true_words = model.inputs(batch)
        v, vm, pos = state["v"], state["vm"], state["pos"]
        swap = same_video_swap(list(batch["video_id"]))
        moved = swap != torch.arange(len(swap))
        outs = []
        for w in (true_words, {r: (x[swap], m[swap]) for r, (x, m) in true_words.items()}):
            aligned = model.align(v, pos, w)
            g, m = model.encoder(aligned, vm, pos)
            hs, _ = model.decoder(m, vm, pos, model.anchors)
            outs.append((aligned, g, m, model.class_head(hs)[-1].float().softmax(-1)[..., FOREGROUND]))
        (a1, g1, m1, p1), (a2, _, m2, p2) = outs
        for name, (x1, x2) in {"aligned": (a1, a2), "memory": (m1, m2)}.items():
            d, n = relative_change(x1[moved], x2[moved], vm[moved])
            sums[name][0] += d
            sums[name][1] += n
        fg_diff.append((p2 - p1)[moved].abs().flatten())
        fg_true.append(p1[moved].flatten())
        scores = model.saliency_head(m1, g1, vm).float()
        inside = torch.zeros_like(vm)
        for i, (windows, duration) in enumerate(zip(batch["windows"], batch["duration"].tolist(), strict=True)):
            n = int(vm[i].sum())
            inside[i, :n] = torch.from_numpy(moment_mask(windows, duration, n) > 0)
        sal["in"].append(scores[vm & inside])
        sal["out"].append(scores[vm & ~inside])
        neg = negative_index(batch, gen)
        if neg is not None:
            ng, nm = model.memory(v, vm, pos, {r: (x[neg], m[neg]) for r, (x, m) in true_words.items()})
            sal["other"].append(model.saliency_head(nm, ng, vm).float()[vm])
    every = torch.cat([x for xs in sal.values() for x in xs])
    out = {name: float(torch.cat(xs).mean()) if xs else float("nan") for name, xs in sal.items()}
    out["sd"] = float(every.std())
    for name, (d, n) in sums.items():
        out[name] = 100 * (d / n) ** 0.5 if n > 0 else float("nan")
    diffs, probs = torch.cat(fg_diff), torch.cat(fg_true)
    out["fg"] = 100 * float(diffs.mean() / probs.std()) if len(probs) > 1 else float("nan")
    return out


def load(run: Path, split: str, manifest: Path | None, cache_dir: Path | None) -> tuple[CheckpointSplit, DataLoader]:
    """The run's checkpoint and ``split`` in its whole-video batches; a model outside the family is an error."""
    opened = open_checkpoint_split(run, split, manifest, None, cache_dir)
    if not isinstance(opened.model, QDDetrModel):
        name = opened.ckpt.config["model"]["name"]
        msg = f"{run}: model '{name}' is not of the DETR family (qd_detr, mesm): see tools/curve_probe.py instead"
        raise UserError(msg)
    sampler = opened.model.batch_sampler(opened.dataset, opened.ckpt.config["optim"]["batch_size"], seed=0)
    return opened, DataLoader(opened.dataset, batch_sampler=sampler, collate_fn=collate)


def probe(
    runs: list[Path], split: str, batches: int, init: bool, manifest: Path | None = None, cache_dir: Path | None = None
) -> None:
    """Every run's figures first (a bad run folder fails before anything is printed), then the table."""
    rows = []
    for run in runs:
        opened, loader = load(run, split, manifest, cache_dir)
        rows.append((str(run)[-30:], measure(opened.model, loader, batches)))
        if init:
            torch.manual_seed(0)
            fresh = build_model(opened.ckpt.config["model"]["name"], **opened.ckpt.model_args)
            rows.append(("  (at initialisation)", measure(fresh, loader, batches)))
    print(f"{split} split, {batches} batches at most; saliency means, then how much a same-video query swap moves")
    head = f"{'run':30} {'in':>7} {'out':>7} {'other':>7} {'sd':>6}   {'aligned %':>9} {'memory %':>9} {'fg %':>7}"
    print(head)
    for name, f in rows:
        print(
            f"{name:30} {f['in']:7.2f} {f['out']:7.2f} {f['other']:7.2f} {f['sd']:6.2f}   "
            f"{f['aligned']:9.1f} {f['memory']:9.1f} {f['fg']:7.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (their best/) or checkpoint folders")
    parser.add_argument("--split", default="train", help="the split whose videos are probed (default: train)")
    parser.add_argument("--batches", type=int, default=10, help="whole-video batches measured (default: 10)")
    parser.add_argument("--init", action="store_true", help="also each architecture freshly initialised")
    parser.add_argument("--manifest", type=Path, help="the manifest to read instead of the one the run recorded")
    parser.add_argument("--cache-dir", type=Path, help="the cache folder instead of the one the manifest records")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        probe(args.runs, args.split, args.batches, args.init, args.manifest, args.cache_dir)
    except UserError as e:  # a missing run folder, a model outside the DETR family: named, no traceback
        print(f"detr_probe: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
