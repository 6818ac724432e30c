from __future__ import annotations

import pytest

from tests.grounding.report.tiny_run import TinyRun, build_tiny_run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """A span model trained one epoch on the tiny corpus, with MP4s and query rewrites."""
    return build_tiny_run(tmp_path_factory.mktemp("report-run"))
