"""Small readers shared by adapters: locating split files, loading JSON with named errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def split_files(
    annotations: Path, files: dict[str, str], optional: tuple[str, ...] = ()
) -> dict[str, Path]:
    """``{split: path}`` for an adapter's expected files in ``annotations``. A missing required
    file is an error naming the folder and every expected name; optional ones are skipped."""
    root = Path(annotations)
    if not root.is_dir():
        msg = f"annotations folder {root} does not exist (expected files: {', '.join(files.values())})"
        raise ValueError(msg)
    found = {split: root / name for split, name in files.items() if (root / name).is_file()}
    missing = [name for split, name in files.items() if split not in found and split not in optional]
    if missing:
        msg = f"annotations folder {root} lacks {', '.join(missing)} (expected: {', '.join(files.values())})"
        raise ValueError(msg)
    return found


def load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        msg = f"{path}: not valid JSON ({e})"
        raise ValueError(msg) from e


def require(entry: dict[str, Any], field: str, where: str) -> Any:
    """``entry[field]``, or a ValueError naming where the entry came from and the missing field."""
    if not isinstance(entry, dict):
        msg = f"{where}: expected a JSON object, got {type(entry).__name__}"
        raise ValueError(msg)
    if field not in entry:
        msg = f"{where}: missing field '{field}' (has: {', '.join(sorted(entry)) or 'nothing'})"
        raise ValueError(msg)
    return entry[field]
