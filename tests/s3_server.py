"""An S3 endpoint on localhost for the object-store cache tests: moto's S3 server (a stand-in for a
real object store, which cannot run here) spoken to by pyarrow's real S3 client over HTTP.

``s3_uri()`` gives a fresh bucket's cache URI; it names the endpoint (plain HTTP), and the
credentials (any: moto checks none) are in ``S3_ENV``, set in this process for the session and
to be passed to a subprocess run (a URI never carries credentials: it is written into manifests)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "groundwork-test",
    "AWS_SECRET_ACCESS_KEY": "groundwork-test",
    "AWS_EC2_METADATA_DISABLED": "true",  # no probing for an instance role
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``host:port`` of a moto S3 server that lives for the test session."""
    server_mod = pytest.importorskip("moto.server", reason="moto is a dev dependency (pip install -e .[dev])")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_uri(s3_endpoint: str) -> Callable[[str], str]:
    """``s3_uri(prefix)``: a fresh bucket's URI (one per call), ``s3://<bucket>/<prefix>?...``."""
    import pyarrow.fs as pafs

    def make(prefix: str = "cache") -> str:
        bucket = f"gw-{uuid.uuid4().hex[:12]}"
        query = f"endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
        fs, _ = pafs.FileSystem.from_uri(f"s3://{bucket}?{query}&allow_bucket_creation=true")
        fs.create_dir(bucket)
        return f"s3://{bucket}/{prefix}?{query}"

    return make
