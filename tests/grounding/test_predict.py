from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grounding.config import load_config
from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.predict import Predictor
from grounding.text_encoder import QUERY_ENCODERS
from grounding.train import evaluate, fit
from tests.grounding.fixtures import build_tiny_corpus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("predict")
    corpus = build_tiny_corpus(root, n_videos=3, text_dim=384, encoder="all-MiniLM-L6-v2")
    cfg = load_config(
        None,
        {
            "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
            "model": {"name": "tea", "hidden": 16, "heads": 2},
            "optim": {"batch_size": 4, "epochs": 1},
            "out_dir": str(root / "run"),
            "device": "cpu",
        },
    )
    fit(cfg, progress=False)
    return corpus, root / "run"


def test_predict_returns_sorted_windows_inside_the_video(run) -> None:  # noqa: ANN001
    corpus, path = run
    predictor = Predictor.from_checkpoint(path)
    windows = predictor.predict("vid02", "person does thing 0 in vid02", k=5)
    assert len(windows) == 5
    scores = [w[2] for w in windows]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= e <= corpus.videos["vid02"] for s, e, _ in windows)


def test_cached_query_matches_evaluation(run) -> None:  # noqa: ANN001
    corpus, path = run
    predictor = Predictor.from_checkpoint(path)
    info = read_manifest(corpus.manifest)
    ds = GroundingDataset(info, "test", open_video_store(info, [str(corpus.features)]), max_len=16)
    _, preds = evaluate(predictor.model, ds, 4, predictor.device, k=5)
    got = predictor.predict_batch([(p["vid"], p["query"]) for p in preds], k=5)
    for p, w in zip(preds, got, strict=True):
        np.testing.assert_allclose(w, p["pred_relevant_windows"], atol=1e-4)


def test_new_query_is_embedded_and_batch_equals_single(run) -> None:  # noqa: ANN001
    _, path = run
    predictor = Predictor.from_checkpoint(path)
    pairs = [("vid02", "a person opens a door"), ("vid01", "someone laughs"), ("vid02", "person does thing 1 in vid02")]
    batch = predictor.predict_batch(pairs, k=3)
    assert predictor._encoder is not None  # the two new texts went through the pure-torch encoder
    for pair, windows in zip(pairs, batch, strict=True):
        np.testing.assert_allclose(predictor.predict(*pair, k=3), windows, atol=1e-5)
    with pytest.raises(KeyError, match="video 'nope' is not in manifest"):
        predictor.predict("nope", "anything")


def test_video_fields_are_held_once_within_max_cached_videos(run) -> None:  # noqa: ANN001
    _, path = run
    predictor = Predictor.from_checkpoint(path)
    predictor.max_cached_videos = 2
    for vid in ("vid00", "vid01", "vid02"):
        predictor.predict(vid, f"person does thing 0 in {vid}", k=1)
    assert list(predictor._videos) == ["vid01", "vid02"]  # the oldest went out
    assert not any(ds._videos for ds in predictor._datasets.values())  # and no dataset kept it behind the bound


@pytest.mark.slow
@pytest.mark.parametrize("registered", ["minilm", "minilm-bf16"])
def test_pure_torch_minilm_matches_the_pipeline_encoder(registered: str) -> None:
    encoders = pytest.importorskip("pipeline.features.text")
    texts = ["person turns on the light.", "A man opens the door of a red car, then walks away!"]
    reference = encoders.get_text_encoder(registered)
    reference.setup()
    ours = QUERY_ENCODERS.get(reference.name)().encode(texts)  # the manifest records the encoder's name
    for (sentence, tokens), ref in zip(ours, reference.encode(texts), strict=True):
        assert tokens.shape == ref.tokens.shape
        np.testing.assert_allclose(sentence, ref.sentence, atol=1e-5)
        np.testing.assert_allclose(tokens, ref.tokens, atol=1e-4)


def test_plot_writes_a_png(run, tmp_path: Path) -> None:  # noqa: ANN001
    from grounding.plot import plot_prediction

    _, path = run
    pred = Predictor.from_checkpoint(path).explain("vid00", "person does thing 0 in vid00", k=3)
    assert len(pred.curves["start"]) == len(pred.curves["end"]) and pred.narrative_texts
    assert np.isclose(pred.curves["start"].sum(), 1.0, atol=1e-4)
    out = plot_prediction(pred, tmp_path, ground_truth=[[1.0, 4.0]])
    assert out.suffix == ".png" and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


@pytest.mark.slow
def test_inference_imports_no_engine_backend_or_generation_code(run) -> None:  # noqa: ANN001
    _, path = run
    code = f"""
import json, sys
from grounding.predict import Predictor
p = Predictor.from_checkpoint({str(path)!r})
w = p.predict("vid02", "a brand new sentence nobody cached", k=2)
bad = sorted(m for m in sys.modules
             if m == "vllm" or m.startswith(("vllm.", "pipeline.backends", "transformers.generation")))
print(json.dumps({{"windows": w, "bad": bad, "encoder": "grounding.text_encoder" in sys.modules,
                  "transformers": "transformers" in sys.modules}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bad"] == []
    assert report["encoder"] and len(report["windows"]) == 2


def _copied_elsewhere(corpus, run: Path, dest: Path) -> tuple[Path, Path]:  # noqa: ANN001
    """The run folder and its data as on another machine: the data copied under ``dest/data``,
    the run under ``dest/run`` with the recorded paths pointing where nothing is."""
    import shutil

    data = dest / "data"
    shutil.copytree(corpus.root, data, ignore=shutil.ignore_patterns("run"))
    shutil.copytree(run, dest / "run")
    for meta in (dest / "run").glob("*/checkpoint.json"):
        info = json.loads(meta.read_text())
        info["config"]["data"]["manifest"] = "/gone/manifests/tiny.parquet"
        info["config"]["data"]["features"] = ["/gone/features"]
        info["config"]["data"]["cache_dir"] = "/gone/cache"
        meta.write_text(json.dumps(info))
    return dest / "run", data


def test_a_run_copied_to_another_machine_names_the_missing_path_and_takes_overrides(run, tmp_path: Path) -> None:  # noqa: ANN001
    from grounding.run_eval import evaluate_checkpoint

    corpus, path = run
    moved, data = _copied_elsewhere(corpus, path, tmp_path)
    with pytest.raises(
        FileNotFoundError, match=r"manifest /gone/manifests/tiny.parquet \(recorded in .*checkpoint.json\).*--priors"
    ):
        Predictor.from_checkpoint(moved)
    with pytest.raises(FileNotFoundError, match=r"feature store /gone/features .*--features"):
        Predictor.from_checkpoint(moved, manifest=data / "manifests" / "tiny.parquet")
    with pytest.raises(FileNotFoundError, match=r"cache folder /gone/cache .*--cache-dir"):
        Predictor.from_checkpoint(
            moved, manifest=data / "manifests" / "tiny.parquet", features=[str(data / "features")]
        )
    with pytest.raises(FileNotFoundError, match=r"manifest /nowhere.parquet \(given\)"):
        Predictor.from_checkpoint(moved, manifest="/nowhere.parquet")
    overrides = {
        "manifest": data / "manifests" / "tiny.parquet",
        "features": [str(data / "features")],
        "cache_dir": data / "cache",
    }
    here = Predictor.from_checkpoint(moved, **overrides)
    assert here.info.cache_dir == data / "cache"
    query = ("vid02", "person does thing 0 in vid02")
    np.testing.assert_allclose(
        here.predict(*query, k=3), Predictor.from_checkpoint(path).predict(*query, k=3), atol=1e-6
    )
    original = evaluate_checkpoint(path, "test", tmp_path / "a.jsonl")
    copied = evaluate_checkpoint(moved, "test", tmp_path / "b.jsonl", **overrides)
    assert copied["metrics"] == original["metrics"]
