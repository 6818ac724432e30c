"""Small readers shared by adapters: locating split files, loading JSON and text lines with
named errors, and typed field getters. Every problem is an ``InputError`` naming the file, the
line or entry, and the field."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from groundwork.errors import InputError

SHOWN = 80  # characters of a bad value quoted in an error message


def shown(value: object) -> str:
    """``repr(value)``, cut to ``SHOWN`` characters (a bad field may hold a whole file)."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


def is_number(x: object) -> bool:
    """A JSON number: an int or a float, not a bool (NaN and infinities included)."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def as_float(x: int | float | str) -> float:
    """``float(x)``, except that an integer too large for a float becomes ±inf (``float()``
    raises OverflowError) so that the non-finite policies see it. Strings parse as ``float()``
    does ("nan", "inf", "1e999" included); one that is not a number raises ValueError."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf  # type: ignore[operator]


def split_files(annotations: Path, files: dict[str, str], optional: tuple[str, ...] = ()) -> dict[str, Path]:
    """``{split: path}`` for an adapter's expected files in ``annotations``. A missing required
    file is an error naming the folder and every expected name; optional ones are skipped."""
    root = Path(annotations)
    if not root.is_dir():
        msg = f"annotations folder {root} does not exist (expected files: {', '.join(files.values())})"
        raise InputError(msg)
    found = {split: root / name for split, name in files.items() if (root / name).is_file()}
    missing = [name for split, name in files.items() if split not in found and split not in optional]
    if missing:
        msg = f"annotations folder {root} lacks {', '.join(missing)} (expected: {', '.join(files.values())})"
        raise InputError(msg)
    return found


def parse_json(text: str | bytes, where: str) -> Any:
    """``json.loads`` with every failure as an ``InputError`` naming ``where``: bad syntax, an
    integer of more than 4,300 digits, nesting too deep for the parser. ``NaN`` and
    ``Infinity`` are accepted (the policies count them)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        msg = f"{where}: not valid JSON ({e})"
        raise InputError(msg) from None


def load_json(path: Path) -> Any:
    return parse_json(Path(path).read_bytes(), str(path))


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of a UTF-8 file, split on ``\\n`` only (a query
    text may hold other line-separator characters), without the line end. A line that is not
    UTF-8 is an ``InputError`` naming it."""
    for line_no, raw in enumerate(Path(path).read_bytes().split(b"\n"), start=1):
        try:
            yield line_no, raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError as e:
            msg = f"{path}:{line_no}: not valid UTF-8 ({e})"
            raise InputError(msg) from None


def require(entry: dict[str, Any], field: str, where: str) -> Any:
    """``entry[field]``, or an InputError naming where the entry came from and the missing field."""
    if not isinstance(entry, dict):
        msg = f"{where}: expected a JSON object, got {type(entry).__name__}"
        raise InputError(msg)
    if field not in entry:
        msg = f"{where}: missing field '{field}' (has: {shown(', '.join(sorted(map(str, entry))) or 'nothing')})"
        raise InputError(msg)
    return entry[field]


def bad_field(where: str, field: str, expected: str, value: object) -> InputError:
    return InputError(f"{where}: field '{field}' must be {expected}, got {shown(value)}")


def id_field(entry: dict[str, Any], field: str, where: str) -> str:
    """A query or video id: a non-empty string or an integer, as a string. ``null``, a float,
    a list... are refused (``"vid": null`` would otherwise become a video named "None")."""
    value = require(entry, field, where)
    if isinstance(value, bool) or not isinstance(value, int | str) or (isinstance(value, str) and not value.strip()):
        raise bad_field(where, field, "a non-empty string or an integer", value)
    return str(value)


def text_field(entry: dict[str, Any], field: str, where: str) -> str:
    value = require(entry, field, where)
    if not isinstance(value, str):
        raise bad_field(where, field, "a string", value)
    return value


def number_field(entry: dict[str, Any], field: str, where: str) -> float:
    """A JSON number as a float; NaN and ±inf are returned as they are (policies count them)."""
    value = require(entry, field, where)
    if not is_number(value):
        raise bad_field(where, field, "a number", value)
    return as_float(value)


def list_field(entry: dict[str, Any], field: str, where: str) -> list[Any]:
    value = require(entry, field, where)
    if not isinstance(value, list):
        raise bad_field(where, field, "a list", value)
    return value


def dict_field(entry: dict[str, Any], field: str, where: str) -> dict[str, Any]:
    value = require(entry, field, where)
    if not isinstance(value, dict):
        raise bad_field(where, field, "a JSON object", value)
    return value
