"""Import rules that keep the architecture as the design card draws it (checked on the source,
with Python's own parser, so a lazy import inside a function counts too):

- ``groundwork`` (the neutral core) imports neither half;
- ``grounding`` never imports ``pipeline`` (training and inference never need the priors
  pipeline, its backends or its models);
- ``pipeline.stages`` never imports Ray (only ``pipeline.ray_adapter`` does);
- product code never imports the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("groundwork", "pipeline", "grounding")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in _sources(package):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    return bad


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("groundwork", ("pipeline", "grounding", "tests")),
        ("grounding", ("pipeline", "tests")),
        ("pipeline", ("grounding", "tests")),
        ("pipeline/stages", ("ray",)),
        ("pipeline/kinds", ("ray",)),
    ],
)
def test_import_rules(package: str, forbidden: tuple[str, ...]) -> None:
    assert _sources(package), f"no sources under {package}"
    assert _offenders(package, forbidden) == []


def test_only_the_ray_adapter_imports_ray() -> None:
    users = sorted(
        {
            str(p.relative_to(REPO))
            for p in _sources("pipeline")
            if any(n == "ray" or n.startswith("ray.") for n in _imports(p))
        }
    )
    assert users == ["pipeline/ray_adapter.py"]
