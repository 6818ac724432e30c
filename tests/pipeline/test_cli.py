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


@pytest.mark.parametrize(
    "extra,expected",
    [
        (["--prompts", "narrative=narate_frame"], "unknown prompt id 'narate_frame'"),
        (["--prompts", "narrative=narrate_frame@7"], "version 7 is not available"),
        (
            ["--prompts", "narrative=narrate_frame@x"],
            "prompts.narrative: prompt 'narrate_frame@x': the version after '@'",
        ),
        (["--sampling.top-pp", "0.5"], "unknown field 'sampling.top_pp'; did you mean 'top_p'"),
        (["--generate-batch-sise", "4"], "unknown field 'generate_batch_sise'; did you mean 'generate_batch_size'"),
        (["--interval", "fast"], "field 'interval': Input should be a valid number"),
        (["--kinds", "narative"], "unknown prior kind 'narative'"),
        (["--backend", "transformer"], "did you mean 'transformers'"),
        (["--model", "/no/such/model"], "PriorsConfig.model: '/no/such/model'"),
    ],
)
def test_bad_configs_fail_before_any_model_loads(
    capsys: pytest.CaptureFixture, tmp_path: Path, extra: list[str], expected: str
) -> None:
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
        _batch(["k1", "k2", "k3"], ["narrative"] * 3, ["ok", "error", "ok"], ["one", "", "three"])
    )
    (cache / "runs").mkdir()
    (cache / "runs" / "20260101T000000-demo.json").write_text(
        json.dumps(
            {"dataset": "demo", "requests": 4, "hit_rate": 0.25, "model_calls": 3, "errors": {"missing_video": 1}}
        )
    )

    code, out, _ = _run(capsys, "status", "--cache", str(cache))
    assert code == 0
    assert "narrative      ok        2  error      1" in out
    assert "text features: enc 2" in out
    assert "hit rate 25.0%" in out and "3 model calls" in out

    code, out, _ = _run(capsys, "errors", "--cache", str(cache), "--kind", "narrative")
    assert code == 0 and out.startswith("1 failed rows") and "missing_video: decode: gone" in out and "k2" in out

    code, out, _ = _run(capsys, "errors", "--cache", str(cache), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["key"], r["video_id"], r["t_start"], r["error_type"]) for r in rows] == [
        ("k2", "v", 1.0, "missing_video")
    ]


def test_backend_defaults_to_vllm_when_it_imports_and_options_parse_as_json(tmp_path: Path) -> None:
    from groundwork.settings import layered
    from pipeline.config import PriorsConfig
    from pipeline.presets import default_backend_name

    base = ["--annotations", str(tmp_path), "--model", str(tmp_path)]
    cfg = layered(PriorsConfig, None, base, {"dataset": "demo"})
    assert cfg.backend == default_backend_name() and cfg.backend_options == {}
    cfg = layered(
        PriorsConfig,
        None,
        [
            *base,
            "--backend",
            "openai",
            "--backend-options",
            "base_url=http://127.0.0.1:9/v1",
            "--backend-options",
            "concurrency=4",
        ],
        {"dataset": "demo"},
    )
    assert cfg.backend == "openai"
    assert cfg.backend_options == {"base_url": "http://127.0.0.1:9/v1", "concurrency": 4}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        layered(PriorsConfig, None, [*base, "--backend-options", "novalue"], {"dataset": "demo"})


def test_a_dict_flag_keeps_its_dotted_keys_whichever_comes_first(tmp_path: Path) -> None:
    """``--ray-runtime-env.env_vars {...}`` and ``--ray-runtime-env pip=[...]`` both land, in
    either order (the later one used to replace the earlier dotted key)."""
    from groundwork.settings import layered
    from pipeline.config import PriorsConfig

    dotted = ["--ray-runtime-env.env_vars", "{HF_HOME: /mnt/hf}"]
    pair = ["--ray-runtime-env", "pip=[decord]"]
    base = ["--annotations", str(tmp_path), "--model", str(tmp_path)]
    for flags in ([*dotted, *pair], [*pair, *dotted]):
        cfg = layered(PriorsConfig, None, [*base, *flags], {"dataset": "demo"})
        assert cfg.ray_runtime_env == {"env_vars": {"HF_HOME": "/mnt/hf"}, "pip": ["decord"]}


def test_every_setting_is_reachable_from_flags_and_listed_in_help(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    """Every field of PriorsConfig (nested ones included) is a flag, and ``priors run --help``
    lists it with its type and default."""
    from groundwork.settings import field_rows, layered
    from pipeline.config import PriorsConfig

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    rows = field_rows(PriorsConfig)
    assert len(rows) > 30
    for dotted, _, _, _ in rows:
        if dotted != "dataset":
            assert f"--{dotted.replace('_', '-')} " in text, dotted
    assert "--sampling.top-p float" in text and "[1.0]" in text
    cfg = layered(
        PriorsConfig,
        None,
        [
            "--annotations",
            str(tmp_path),
            "--model",
            "m",
            "--sampling.top-p",
            "0.5",
            "--sampling.seed",
            "3",
            "--splits",
            "train,val",
            "--retry-temperature",
            "0.9",
            "--embed-batch-size",
            "7",
            "--visual-interval",
            "2",
            "--no-progress",
            "--retry-errors",
            "--kinds",
            "narrative",
            "event",
        ],
        {"dataset": "demo"},
    )
    assert (cfg.sampling.top_p, cfg.sampling.seed, cfg.splits, cfg.retry_temperature) == (0.5, 3, ["train", "val"], 0.9)
    assert (cfg.embed_batch_size, cfg.visual_interval, cfg.progress, cfg.retry_errors) == (7, 2.0, False, True)
    assert cfg.kinds == ["narrative", "event"]


def test_settings_come_from_a_yaml_file_then_flags(tmp_path: Path) -> None:
    from groundwork.settings import layered
    from pipeline.config import PriorsConfig

    path = tmp_path / "priors.yaml"
    path.write_text(f"annotations: {tmp_path}\nmodel: m\nsampling: {{temperature: 0.2, seed: 4}}\nkinds: [event]\n")
    cfg = layered(PriorsConfig, path, ["--sampling.seed", "5"], {"dataset": "demo"})
    assert (cfg.sampling.temperature, cfg.sampling.seed, cfg.kinds) == (0.2, 5, ["event"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ValueError, match=r"bad.yaml \(line 2, column 1\): not valid YAML"):
        layered(PriorsConfig, bad, [], {"dataset": "demo"})


def test_status_counts_structured_requests_apart_from_their_items(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    two = json.dumps([[0.0, 2.0, "a circle appears"], [2.0, 5.0, "it turns red"]])
    events = {
        **_batch(["r1", "r2", "r3"], ["event"] * 3, ["ok", "ok", "error"], ["", "", ""]),
        "items": [two, "[]", ""],
        "embedded": [False] * 3,
    }  # r2: zero valid events, still answered
    rewrites = {
        **_batch(["q1"], ["query_rewrite"], ["ok"], [""]),
        "embedded": [False],
        "items": [json.dumps([[0.0, 5.0, t] for t in ("a shape", "a circle shows up", "a small red circle")])],
    }
    WriteStage(cache, "enc", {"event": PROV}).process_batch(events)
    WriteStage(cache, "enc", {"query_rewrite": PROV}).process_batch(rewrites)

    code, out, _ = _run(capsys, "status", "--cache", str(cache), "--json")
    assert code == 0
    assert json.loads(out)["priors"] == {
        "event": {"ok": 2, "error": 1, "items": 2},
        "query_rewrite": {"ok": 1, "error": 0, "items": 3},
    }
    code, out, _ = _run(capsys, "status", "--cache", str(cache))
    assert "event          ok        2  error      1  items        2" in out
    assert "query_rewrite  ok        1  error      0  items        3" in out
