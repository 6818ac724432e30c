from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grounding.cli import eval_main, predict_main, train_main
from tests.grounding.fixtures import build_tiny_corpus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("cli")
    corpus = build_tiny_corpus(root, n_videos=3)
    run = root / "run"
    code = train_main(
        [
            "--priors",
            str(corpus.manifest),
            "--model",
            "span",
            "--features",
            str(corpus.features),
            "--out",
            str(run),
            "--no-progress",
            "--optim.epochs",
            "2",
            "--optim.batch_size",
            "4",
            "--model.hidden",
            "16",
            "--model.heads",
            "2",
            "--data.max_len",
            "16",
        ]
    )
    assert code == 0
    return corpus, run


def test_train_writes_a_run(trained) -> None:  # noqa: ANN001
    _, run = trained
    info = json.loads((run / "best" / "checkpoint.json").read_text())
    assert info["config"]["optim"]["epochs"] == 2 and info["config"]["model"]["hidden"] == 16


def test_train_rejects_bad_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["--priors", "x.parquet", "--optim.lrr", "1"]) == 2
    assert "unknown field 'optim.lrr'; did you mean 'lr'" in capsys.readouterr().err


def test_eval_checkpoint_writes_community_predictions(trained, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    _, run = trained
    assert eval_main(["--checkpoint", str(run), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["suite"] == "temporal"
    assert set(result["metrics"]) >= {"R1@0.5", "R1@0.7", "R5@0.5", "mIoU"}
    rows = [json.loads(line) for line in (run / "preds_test.jsonl").read_text().splitlines()]
    assert len(rows) == result["counts"]["gt"] == 2
    assert set(rows[0]) == {"qid", "query", "vid", "pred_relevant_windows"}
    assert len(rows[0]["pred_relevant_windows"]) == 5 and len(rows[0]["pred_relevant_windows"][0]) == 3


def test_eval_file_mode_round_trips(trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    corpus, run = trained
    eval_main(["--checkpoint", str(run), "--split", "test", "--json", "--out", str(tmp_path / "p.jsonl")])
    from_ckpt = json.loads(capsys.readouterr().out)["metrics"]
    import pyarrow.parquet as pq

    gt = [
        {"qid": r["query_id"], "vid": r["video_id"], "duration": r["duration"], "relevant_windows": r["windows"]}
        for r in pq.read_table(corpus.manifest).to_pylist()
        if r["split"] == "test"
    ]
    (tmp_path / "g.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gt))
    assert eval_main(["--preds", str(tmp_path / "p.jsonl"), "--gt", str(tmp_path / "g.jsonl"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == from_ckpt


def test_predict_single_with_plot_and_file_mode(trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    _, run = trained
    assert (
        predict_main(
            [
                "--checkpoint",
                str(run),
                "--video",
                "vid00",
                "--query",
                "person does thing 0 in vid00",
                "-k",
                "2",
                "--plot",
                str(tmp_path / "png"),
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out)
    assert row["vid"] == "vid00" and len(row["pred_relevant_windows"]) == 2
    assert len(list((tmp_path / "png").glob("*.png"))) == 1
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"qid": 7, "query": "person does thing 1 in vid01", "vid": "vid01"}\n')
    assert predict_main(["--checkpoint", str(run), "--input", str(queries), "--output", str(tmp_path / "o.jsonl")]) == 0
    out = json.loads((tmp_path / "o.jsonl").read_text())
    assert out["qid"] == 7 and len(out["pred_relevant_windows"]) == 5


def test_predict_requires_a_mode(trained) -> None:  # noqa: ANN001
    _, run = trained
    assert predict_main(["--checkpoint", str(run), "--video", "vid00"]) == 2


@pytest.mark.parametrize("script", ["grounding-train", "grounding-eval", "grounding-predict"])
def test_help_teaches_with_examples(script: str) -> None:
    name = script.split("-")[1]
    proc = subprocess.run(
        [sys.executable, "-c", f"from grounding.cli import {name}_main; {name}_main(['--help'])"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and "examples:" in proc.stdout and script in proc.stdout


def test_eval_and_predict_on_a_copied_run_say_which_flag_and_accept_it(
    trained,
    tmp_path: Path,  # noqa: ANN001
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    corpus, run = trained
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    for meta in moved.glob("*/checkpoint.json"):
        info = json.loads(meta.read_text())
        info["config"]["data"]["features"] = ["/gone/features"]
        meta.write_text(json.dumps(info))
    assert (
        predict_main(["--checkpoint", str(moved), "--video", "vid00", "--query", "person does thing 0 in vid00"]) == 2
    )
    assert "feature store /gone/features" in capsys.readouterr().err
    assert eval_main(["--checkpoint", str(moved), "--split", "test"]) == 2
    assert "pass --features PATH" in capsys.readouterr().err
    assert (
        predict_main(
            [
                "--checkpoint",
                str(moved),
                "--video",
                "vid00",
                "--query",
                "person does thing 0 in vid00",
                "--features",
                str(corpus.features),
            ]
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["pred_relevant_windows"]) == 5
    assert (
        eval_main(
            [
                "--checkpoint",
                str(moved),
                "--split",
                "test",
                "--json",
                "--out",
                str(tmp_path / "p.jsonl"),
                "--features",
                str(corpus.features),
            ]
        )
        == 0
    )
    assert "metrics" in json.loads(capsys.readouterr().out)


def test_eval_scores_stvg_files_per_sentence_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.grounding.metrics.test_stvg_records import GT_ROWS, PRED_ROWS, write_jsonl

    gt, preds = write_jsonl(tmp_path / "gt.jsonl", GT_ROWS), write_jsonl(tmp_path / "p.jsonl", PRED_ROWS)
    assert eval_main(["--preds", str(preds), "--gt", str(gt), "--json", "--protocol", "dense"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["suite"] == "stvg" and result["protocol"] == "dense"
    assert {"declarative", "interrogative"} <= set(result["metrics"])
    assert eval_main(["--preds", str(preds), "--gt", str(gt)]) == 0
    assert "m_vIoU" in capsys.readouterr().out
    assert eval_main(["--preds", str(preds), "--gt", str(gt), "--protocol", "tube"]) == 2
    assert "did you mean 'tubedetr'" in capsys.readouterr().err


def test_eval_scores_a_zero_shot_model_from_its_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.grounding.models.test_granalign import build_qvh_like

    manifest = build_qvh_like(tmp_path)
    out = tmp_path / "preds.jsonl"
    assert (
        eval_main(
            [
                "--model",
                "granalign",
                "--priors",
                str(manifest),
                "--split",
                "val",
                "--out",
                str(out),
                "--model.top-k",
                "1",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "granalign" and result["suite"] == "qvhighlights" and out.is_file()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all("pred_saliency_scores" in r for r in rows)
    assert eval_main(["--model", "span", "--priors", str(manifest)]) == 2
    assert "train it with grounding-train" in capsys.readouterr().err
    assert eval_main(["--model", "granalign", "--priors", str(manifest), "--model.pairng", "x"]) == 2
    assert "did you mean 'pairing'" in capsys.readouterr().err
