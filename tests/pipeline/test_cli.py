from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.stages.write import WriteStage
from tests.pipeline.stages.test_write import PROV, _batch


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_help_teaches(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert exc.value.code == 0
    for word in ("--retry-errors", "--ray-address", "--limit", "--video-root", "examples:", "0 model calls"):
        assert word in text


@pytest.mark.parametrize("extra,expected", [
    (["--prompt", "narrative=narate_frame"], "unknown prompt id 'narate_frame'"),
    (["--prompt", "narrative=narrate_frame@7"], "version 7 is not available"),
    (["--kinds", "narative"], "unknown prior kind 'narative'"),
    (["--backend", "transformer"], "did you mean 'transformers'"),
    (["--model", "/no/such/model"], "PriorsConfig.model: '/no/such/model'"),
])
def test_bad_configs_fail_before_any_model_loads(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                 extra: list[str], expected: str) -> None:
    argv = ["run", "folder", "--annotations", str(tmp_path), "--cache", str(tmp_path / "c"), "--model", str(tmp_path)]
    code, _, err = _run(capsys, *argv, *extra)
    assert code == 2
    assert expected in err
    assert not (tmp_path / "c").exists()


def test_unknown_dataset_suggests_the_name(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    code, _, err = _run(capsys, "run", "charades-sta", "--annotations", str(tmp_path), "--model", str(tmp_path))
    assert code == 2 and "did you mean 'charades_sta'" in err


def test_status_and_errors_report_the_cache(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    WriteStage(cache, "enc", {"narrative": PROV}).process_batch(
        _batch(["k1", "k2", "k3"], ["narrative"] * 3, ["ok", "error", "ok"], ["one", "", "three"]))
    (cache / "runs").mkdir()
    (cache / "runs" / "20260101T000000-demo.json").write_text(json.dumps(
        {"dataset": "demo", "requests": 4, "hit_rate": 0.25, "model_calls": 3, "errors": {"missing_video": 1}}))

    code, out, _ = _run(capsys, "status", "--cache", str(cache))
    assert code == 0
    assert "narrative      ok        2  error      1" in out
    assert "text features: enc 2" in out
    assert "hit rate 25.0%" in out and "3 model calls" in out

    code, out, _ = _run(capsys, "errors", "--cache", str(cache), "--kind", "narrative")
    assert code == 0 and out.startswith("1 failed rows") and "missing_video: decode: gone" in out and "k2" in out

    code, out, _ = _run(capsys, "errors", "--cache", str(cache), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["key"], r["video_id"], r["t_start"], r["error_type"]) for r in rows] == [("k2", "v", 1.0, "missing_video")]


def test_backend_defaults_to_vllm_when_it_imports_and_options_parse_as_json(tmp_path: Path) -> None:
    from pipeline.cli import build_parser
    from pipeline.commands.run import config_from_args
    from pipeline.presets import default_backend_name

    base = ["run", "demo", "--annotations", str(tmp_path), "--model", str(tmp_path)]
    cfg = config_from_args(build_parser().parse_args(base))
    assert cfg.backend == default_backend_name() and cfg.backend_options == {}
    args = build_parser().parse_args([*base, "--backend", "openai", "--backend-option", "base_url=http://127.0.0.1:9/v1",
                                      "--backend-option", "concurrency=4"])
    cfg = config_from_args(args)
    assert cfg.backend == "openai"
    assert cfg.backend_options == {"base_url": "http://127.0.0.1:9/v1", "concurrency": 4}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        config_from_args(build_parser().parse_args([*base, "--backend-option", "novalue"]))


def test_status_counts_structured_requests_apart_from_their_items(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    two = json.dumps([[0.0, 2.0, "a circle appears"], [2.0, 5.0, "it turns red"]])
    events = {**_batch(["r1", "r2", "r3"], ["event"] * 3, ["ok", "ok", "error"], ["", "", ""]),
              "items": [two, "[]", ""], "embedded": [False] * 3}  # r2: zero valid events, still answered
    rewrites = {**_batch(["q1"], ["query_rewrite"], ["ok"], [""]), "embedded": [False],
                "items": [json.dumps([[0.0, 5.0, t] for t in ("a shape", "a circle shows up", "a small red circle")])]}
    WriteStage(cache, "enc", {"event": PROV}).process_batch(events)
    WriteStage(cache, "enc", {"query_rewrite": PROV}).process_batch(rewrites)

    code, out, _ = _run(capsys, "status", "--cache", str(cache), "--json")
    assert code == 0
    assert json.loads(out)["priors"] == {"event": {"ok": 2, "error": 1, "items": 2},
                                         "query_rewrite": {"ok": 1, "error": 0, "items": 3}}
    code, out, _ = _run(capsys, "status", "--cache", str(cache))
    assert "event          ok        2  error      1  items        2" in out
    assert "query_rewrite  ok        1  error      0  items        3" in out
