"""Kill soak of training: a ``fit`` in a subprocess is SIGKILLed at a seeded random moment, then
resumed (``fit(cfg, resume=True)``, what ``grounding-train --resume`` runs) to the end; five times.
Each resumed run must end bit-identical to an uninterrupted one: every tensor of ``last/`` and
``best/``, their metadata (the save time aside) and ``log.csv``, line for line."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from grounding.config import load_config
from grounding.train import fit
from tests.grounding.fixtures import build_tiny_corpus

KILLS = 5
SEED = 14
CHILD = (
    "import json, sys; from grounding.config import load_config; from grounding.train import fit; "
    "fit(load_config(None, json.loads(sys.argv[1])), resume=sys.argv[2] == '1', progress=False)"
)
ENV = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def _settings(corpus, out: Path) -> dict:  # noqa: ANN001
    return {
        "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
        "model": {"name": "span", "hidden": 16, "heads": 2},
        "optim": {"batch_size": 4, "epochs": 12, "lr": 1e-3},
        "out_dir": str(out),
        "device": "cpu",
        "seed": 3,
        "threads": 1,
    }


def _argv(corpus, out: Path, resume: bool) -> list[str]:  # noqa: ANN001
    return [sys.executable, "-c", CHILD, json.dumps(_settings(corpus, out)), "1" if resume else "0"]


def _finished(run: Path) -> dict[str, object]:
    """What an ended run leaves that must not depend on kills: weights, metadata, the log."""
    out: dict[str, object] = {"log": (run / "log.csv").read_text()}
    for sub in ("last", "best"):
        out[f"{sub}/weights"] = load_file(run / sub / "model.safetensors")
        meta = json.loads((run / sub / "checkpoint.json").read_text())
        meta["meta"].pop("saved_at")
        meta["config"].pop("out_dir")  # each run has its own folder
        out[f"{sub}/meta"] = meta
    return out


def _same(got: dict[str, object], want: dict[str, object], what: str) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if key.endswith("weights"):
            a, b = got[key], value
            assert a.keys() == b.keys(), f"{what}: {key}"  # type: ignore[attr-defined]
            for name in b:  # type: ignore[attr-defined]
                assert torch.equal(a[name], b[name]), f"{what}: {key} {name} differs"  # type: ignore[index]
        else:
            assert got[key] == value, f"{what}: {key} differs"


def _training_starts(run: Path, proc: subprocess.Popen, limit_s: float = 300.0) -> float:
    """Seconds until ``fit`` writes ``config.json`` (data checked, model built: training begins)."""
    start = time.monotonic()
    while not (run / "config.json").exists():
        assert proc.poll() is None, f"the run ended before training began: {proc.returncode}"
        assert time.monotonic() - start < limit_s
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.slow
def test_five_kills_then_resume_end_bit_identical(tmp_path: Path) -> None:
    corpus = build_tiny_corpus(tmp_path / "corpus", n_videos=6, queries_per_video=3)
    ref = subprocess.Popen(
        _argv(corpus, tmp_path / "ref", False), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _training_starts(tmp_path / "ref", ref)
    start = time.monotonic()
    _, err = ref.communicate(timeout=300)
    training_s = time.monotonic() - start
    assert ref.returncode == 0, err[-3000:]
    want = _finished(tmp_path / "ref")

    rng = random.Random(SEED)
    seen = []
    for i in range(2 * KILLS):
        if sum(code == -signal.SIGKILL for code, _ in seen) == KILLS:
            break
        run = tmp_path / f"killed{i}"
        proc = subprocess.Popen(
            _argv(corpus, run, False),
            env=ENV,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _training_starts(run, proc)
        time.sleep(rng.uniform(0.0, training_s * 0.9))  # a moment of the training itself (epochs, saves, logs)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)  # returncode 0: it ended first (not a kill, checked all the same)
        epoch = (
            json.loads((run / "last" / "checkpoint.json").read_text())["meta"]["epoch"]
            if (run / "last" / "checkpoint.json").is_file()
            else None
        )
        seen.append((proc.returncode, epoch))
        resumed = subprocess.run(_argv(corpus, run, True), env=ENV, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, f"kill {i} (last epoch {epoch}): {resumed.stderr[-3000:]}"
        _same(_finished(run), want, f"kill {i} (last checkpoint: epoch {epoch})")
    kills = sum(code == -signal.SIGKILL for code, _ in seen)
    assert kills == KILLS, seen
    print(
        f"training kill soak: {kills} kills survived; (return code, last epoch on disk): {seen}; "
        f"training took {training_s:.1f} s uninterrupted"
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return build_tiny_corpus(tmp_path_factory.mktemp("tiny"), n_videos=4, queries_per_video=2)


def _fit(corpus, run: Path, epochs: int = 3, **kw):  # noqa: ANN001, ANN003, ANN202
    settings = {**_settings(corpus, run), "optim": {"batch_size": 4, "epochs": epochs, "lr": 1e-3}}
    return fit(load_config(None, settings), progress=False, **kw)


def test_regression_resume_before_the_first_checkpoint_starts_over(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    """Regression: a run killed before its first epoch ended could not be resumed ("no checkpoint
    in <run>"); --resume now starts it over."""
    _fit(corpus, tmp_path / "ref")
    (tmp_path / "run").mkdir()
    _fit(corpus, tmp_path / "run", resume=True)
    _same(_finished(tmp_path / "run"), _finished(tmp_path / "ref"), "resumed with no checkpoint")


def test_regression_a_kill_inside_the_checkpoint_swap_resumes(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    """Regression: killed between renaming the old last/ aside and renaming the new one in, a run
    had no last/ (resume then read best/, which has no optimizer state, and failed)."""
    _fit(corpus, tmp_path / "ref")
    run = tmp_path / "run"
    _fit(corpus, run, stop_after=2)
    (run / "last").rename(run / ".old-0123-last")  # the state such a kill leaves
    _fit(corpus, run, resume=True)
    _same(_finished(run), _finished(tmp_path / "ref"), "resumed from .old-*-last")


def test_regression_log_rows_after_the_checkpoint_are_not_kept_twice(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    """Regression: the log rows of the epoch a kill interrupted after they were written (its
    validation runs between the log and the checkpoint) were written again on resume, and a
    half-written line stayed. Also a new run in a used folder starts a new log."""
    _fit(corpus, tmp_path / "ref")
    run = tmp_path / "run"
    _fit(corpus, run, stop_after=1)
    with (run / "log.csv").open("a") as f:
        f.write("1,99,train,loss/total,0.5\n2,100,va")  # rows of epochs after the checkpoint (epoch 0)
    _fit(corpus, run, resume=True)
    _same(_finished(run), _finished(tmp_path / "ref"), "resumed after extra log rows")
    _fit(corpus, run)  # a new run over the finished one
    assert (run / "log.csv").read_text() == (tmp_path / "ref" / "log.csv").read_text()
