"""Running the priors graph on a Ray cluster (``pipeline.cluster``).

The end-to-end test starts a real two-node cluster on this machine with ``ray start`` (a head and
a worker node, each its own raylet) from a Python that has the project's dependencies but not the
project: a throwaway venv whose site-packages holds one ``.pth`` line naming ``.venv``'s
site-packages. A plain path entry is not scanned for ``.pth`` files, so the editable install's
import hook in ``.venv`` never runs there and neither ``pipeline`` nor ``groundwork`` imports (the
test checks it). The driver (this project's venv, in a subprocess) runs the real graph with
``ray_address`` set, so the project reaches the workers through ``runtime_env`` only; the fake
backend (``tests.pipeline.fake_backends``) goes the way a user's own code does, as
``ray_runtime_env.py_modules``. The cluster's cache is an S3 bucket (moto's S3 server on
localhost, ``tests.s3_server``; the nodes get its credentials from their environment), so the
workers of both nodes write through pyarrow's S3 client, as they would to a lab's object store.
The cached rows must equal a local run's. The cluster's processes
are stopped by their ids (``ray start --block`` stops what it started when terminated; anything
left that names the test's Ray temp folder is killed after), never with ``ray stop``, which would
stop every Ray on the machine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from groundwork.cache.fs import StorePath
from groundwork.cache.layout import PRIOR_SCHEMA
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError
from pipeline.cluster import SHIPPED, merge_runtime_env, model_gpus, project_runtime_env, stage_project, worker_path
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: F401
from tests.s3_server import s3_endpoint, s3_uri  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
FAKE = "fake-scripted-json"
KINDS = ["narrative", "event", "query_rewrite"]
COMPARED = [f.name for f in PRIOR_SCHEMA if f.name not in ("latency_ms", "created_at")]


def test_runtime_env_merges_a_users_extras() -> None:
    base = {"working_dir": "/staged", "env_vars": {"A": "1"}}
    extra = {"env_vars": {"B": "2", "A": "3"}, "py_modules": ["/mine"], "pip": ["einops"]}
    assert merge_runtime_env(base, extra) == {
        "working_dir": "/staged",
        "env_vars": {"A": "3", "B": "2"},
        "py_modules": ["/mine"],
        "pip": ["einops"],
    }
    assert merge_runtime_env(base, None) == base
    with pytest.raises(InputError, match="py_modules"):
        merge_runtime_env(base, {"working_dir": "."})
    with pytest.raises(InputError, match="ray_runtime_env.env_vars: expected a dict"):
        merge_runtime_env(base, {"env_vars": "A=1"})  # what a KEY=VALUE flag would give


def test_the_staged_project_holds_the_packages_and_the_prompts(tmp_path: Path) -> None:
    assert stage_project(tmp_path) == list(SHIPPED)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SHIPPED)
    assert (tmp_path / "pipeline" / "graph.py").is_file() and (tmp_path / "prompts" / "narrate_frame.yaml").is_file()
    assert not list(tmp_path.rglob("__pycache__")) and not list(tmp_path.rglob("*.pyc"))
    with project_runtime_env({"env_vars": {"X": "1"}}) as env:
        staged = Path(env["working_dir"])
        assert (staged / "groundwork" / "cache" / "store.py").is_file() and env["env_vars"] == {"X": "1"}
    assert not staged.exists()  # removed once ray.init has uploaded it


def test_worker_paths_and_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "m").mkdir(parents=True)
    assert worker_path("models/m") == str(tmp_path / "models" / "m")
    assert worker_path("llava-hf/llava-1.5-7b-hf") == "llava-hf/llava-1.5-7b-hf"  # a hub id stays
    assert worker_path(None) is None and worker_path("/abs/x") == "/abs/x"
    assert (model_gpus("cuda", 0.0), model_gpus("cuda:1", 0.5), model_gpus("cpu", 0.0)) == (1.0, 0.5, 0.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_python(folder: Path) -> Path:
    """A venv whose interpreter sees this venv's packages (a ``.pth`` path line) but not the project."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(folder)], check=True)  # noqa: SLF001
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def cluster_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS")}
    # Ray >= 2.5x turns token authentication on for `ray start --head`; a throwaway local cluster needs none
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    return env


def _ports() -> list[str]:
    """Every port a node binds, free ones (the defaults may be taken by another Ray on the machine)."""
    flags = (
        "--ray-client-server-port",
        "--dashboard-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
        "--node-manager-port",
        "--object-manager-port",
    )
    return [x for flag in flags for x in (flag, str(_free_port()))]


def _wait_started(proc: subprocess.Popen, log: Path, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while "Ray runtime started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the {what} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def _stop(procs: list[subprocess.Popen], ray_tmp: Path) -> None:
    for proc in reversed(procs):  # worker node first
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):  # anything left of this cluster only
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if str(ray_tmp).encode() in cmdline and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@contextmanager
def two_node_cluster(python: Path, ray_tmp: Path, logs: Path) -> Iterator[str]:
    """A head (1 CPU) and a worker node (2 CPUs, resource ``worker_node``) started with ``python``;
    yields the head's address."""
    port = _free_port()
    cli = [
        str(python),
        "-c",
        "from ray.scripts.scripts import main; main()",
        "start",
        "--block",
        "--disable-usage-stats",
        "--node-ip-address",
        "127.0.0.1",
        "--temp-dir",
        str(ray_tmp),
    ]
    env, procs = cluster_env(), []
    try:
        head_log = logs / "head.log"
        procs.append(
            subprocess.Popen(
                [*cli, "--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false", *_ports()],
                cwd=logs,
                env=env,
                stdout=head_log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        _wait_started(procs[0], head_log, "head node")
        worker_log = logs / "worker.log"
        procs.append(
            subprocess.Popen(
                [
                    *cli,
                    "--address",
                    f"127.0.0.1:{port}",
                    "--num-cpus",
                    "2",
                    "--resources",
                    '{"worker_node": 1}',
                    *_ports(),
                ],
                cwd=logs,
                env=env,
                stdout=worker_log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        _wait_started(procs[1], worker_log, "worker node")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(procs, ray_tmp)


DRIVER = """
import json, sys
import ray
from pathlib import Path
from pipeline.backends.base import BACKENDS
from pipeline.graph import run_priors
from tests.pipeline.fake_backends import FakeScriptedJSONBackend
from tests.pipeline.priors_fixtures import priors_config

BACKENDS.register({fake!r})(FakeScriptedJSONBackend)
config = priors_config(Path({demo!r}), Path({model!r}), {cache!r}, Path({manifest!r}), limit=2,
                       backend={fake!r}, kinds={kinds!r}, ray_address={address!r},
                       ray_runtime_env={{"py_modules": [{tests!r}]}})
report = run_priors(config)

@ray.remote(num_cpus=0.01, resources={{"worker_node": 0.01}})
def where():
    import os, sys, pipeline, groundwork
    return {{"pipeline": pipeline.__file__, "groundwork": groundwork.__file__, "python": sys.executable,
             "cwd": os.getcwd()}}

print("RESULT " + json.dumps({{"report": report.model_dump(), "worker": ray.get(where.remote()),
                               "nodes": len([n for n in ray.nodes() if n["Alive"]])}}))
"""


def _rows(cache: str | Path) -> dict[str, list[dict]]:
    store = CacheStore(cache)
    return {kind: sorted(store.priors(kind).select(COMPARED).to_pylist(), key=lambda r: r["key"]) for kind in KINDS}


@pytest.mark.slow
def test_a_two_node_cluster_without_the_project_runs_the_graph(
    demo_dir: Path,  # noqa: F811
    tmp_path: Path,
    s3_uri,  # noqa: ANN001, F811
) -> None:
    started = time.monotonic()
    cache = s3_uri("cluster-cache")  # before cluster_env(): it sets the store's credentials in os.environ
    python = bare_python(tmp_path / "bare-venv")
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import ray, pyarrow\n"
            "for name in ('pipeline', 'groundwork'):\n"
            "    try:\n        __import__(name)\n        print('importable', name)\n"
            "    except ImportError:\n        pass",
        ],
        cwd=tmp_path,
        env=cluster_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.strip() == ""  # the cluster's Python has the dependencies, not the project

    model = tmp_path / "fake-model"  # keys need a model revision: a folder with a config.json
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": FAKE}))
    from pipeline.backends.base import BACKENDS
    from pipeline.graph import run_priors
    from tests.pipeline.fake_backends import FakeScriptedJSONBackend

    if FAKE not in BACKENDS:
        BACKENDS.register(FAKE)(FakeScriptedJSONBackend)
    marks = {"bare venv": time.monotonic() - started}
    local = run_priors(
        priors_config(
            demo_dir, model, tmp_path / "local-cache", tmp_path / "local.parquet", limit=2, backend=FAKE, kinds=KINDS
        )
    )  # the reference
    marks["local run"] = time.monotonic() - started

    ray_tmp = Path(tempfile.mkdtemp(prefix="gw-ray-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        with two_node_cluster(python, ray_tmp, logs) as address:
            script = DRIVER.format(
                fake=FAKE,
                demo=str(demo_dir),
                model=str(model),
                kinds=KINDS,
                address=address,
                cache=cache,
                manifest=str(tmp_path / "cluster.parquet"),
                tests=str(REPO / "tests"),
            )
            marks["cluster start"] = time.monotonic() - started
            driver = subprocess.run(
                [sys.executable, "-c", script], cwd=REPO, env=cluster_env(), capture_output=True, text=True, timeout=240
            )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    marks["cluster run"] = time.monotonic() - started
    lines = [x for x in driver.stdout.splitlines() if x.startswith("RESULT ")]
    assert driver.returncode == 0 and lines, f"driver failed:\n{driver.stdout[-3000:]}\n{driver.stderr[-5000:]}"
    result = json.loads(lines[0].removeprefix("RESULT "))

    assert result["nodes"] == 2
    worker = result["worker"]
    assert worker["python"] == str(python)  # the worker node runs the cluster's Python ...
    for module in ("pipeline", "groundwork"):  # ... and imports the project from the shipped working_dir
        assert not worker[module].startswith(str(REPO)) and worker[module].startswith(str(ray_tmp)), worker
        assert worker[module].startswith(worker["cwd"])
    report = result["report"]
    assert report["model_calls"] == local.model_calls > 0 and report["errors"] == local.errors == {}
    assert report["rows_written"] == local.rows_written and report["items_by_kind"] == local.items_by_kind

    assert isinstance(CacheStore(cache).root, StorePath)
    cluster_rows, local_rows = _rows(cache), _rows(tmp_path / "local-cache")
    assert {k: len(v) for k, v in cluster_rows.items()} == {k: len(v) for k, v in local_rows.items()}
    assert all(cluster_rows[k] for k in KINDS)
    assert cluster_rows == local_rows  # keys, texts, times, status, provenance: all equal
    import pyarrow.parquet as pq

    def manifest_rows(path: Path) -> list[dict]:
        return pq.read_table(path).to_pylist()

    assert manifest_rows(tmp_path / "cluster.parquet") == manifest_rows(tmp_path / "local.parquet")
    print(
        f"two-node cluster test: {time.monotonic() - started:.1f} s;",
        ", ".join(f"{k} done at {v:.1f} s" for k, v in marks.items()),
    )
