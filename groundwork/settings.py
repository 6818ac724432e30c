"""Layered settings, one parser for every command line of both halves:

    typed defaults (a pydantic model)  <-  a YAML file (--config)  <-  dotted flags

A flag names a field by its dotted path, with ``-`` or ``_`` alike: ``--sampling.top-p 0.9``,
``--optim.lr 1e-3``, ``--video-root /data``. Values are read as YAML scalars (``1e-3``, ``true``,
``null``, ``[a, b]``). A list field also takes ``a,b,c``; a dict field takes ``KEY=VALUE`` (repeat
the flag for more keys) or ``--field.KEY VALUE``; a scalar given twice takes the last value. A bool
field may be given bare (``--retry-errors``) or negated (``--no-progress``); a list field takes
every value up to the next flag (``--features a b``). An unknown or mistyped flag is an ``InputError`` naming it and the
closest field; a value of the wrong type names the field, the value and what was expected.

``field_rows`` / ``fields_help`` list every field (dotted name, type, default, description) from
the model itself, so ``--help`` can show all of them and no default is written twice.
"""

from __future__ import annotations

import difflib
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from groundwork.errors import InputError, MissingInputError


# -- reading values ---------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A flag's value as YAML (``1e-3`` is a float, which plain YAML 1.1 reads as a string)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and value and value[0] in "+-.0123456789" and any(c in value for c in ".eE"):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a mapping (``yaml.safe_load``: no python tags); errors name the file."""
    path = Path(path)
    if not path.is_file():
        msg = f"config file {path} does not exist"
        raise MissingInputError(msg)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        msg = f"config file {path}{at}: not valid YAML: {problem}"
        raise InputError(msg) from None
    if not isinstance(values, dict):
        msg = f"config file {path}: the top level must be a mapping of fields, got {type(values).__name__}"
        raise InputError(msg)
    return values


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, nested mappings merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


# -- the model's fields -----------------------------------------------------------------------
def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(_unwrap(annotation))
    if origin in (list, tuple, set) or _unwrap(annotation) in (list, tuple):
        return "list"
    if origin is dict or _unwrap(annotation) is dict:
        return "dict"
    if _unwrap(annotation) is bool:
        return "bool"
    return "model" if _is_model(_unwrap(annotation)) else "scalar"


def _lookup(model: type[BaseModel] | None, path: list[str]) -> FieldInfo | None:
    """The field at a dotted path, or None when the path is not a declared field (or leads into
    a free-form section such as the model options of a training config)."""
    cls: Any = model
    info = None
    for i, part in enumerate(path):
        if not _is_model(cls) or part not in cls.model_fields:
            return None
        info = cls.model_fields[part]
        ann = _unwrap(info.annotation)
        if i + 1 < len(path):
            if _kind(ann) == "dict":  # --field.KEY VALUE: the rest names a key of the dict
                return None
            cls = ann
    return info


def _all_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        ann = _unwrap(info.annotation)
        out.append(prefix + name)
        if _is_model(ann):
            out += _all_paths(ann, f"{prefix}{name}.")
    return out


# -- flags ------------------------------------------------------------------------------------
def _key(flag: str) -> list[str]:
    return [p.replace("-", "_") for p in flag.split(".")]


def parse_flags(args: Iterable[str], model: type[BaseModel] | None = None) -> dict[str, Any]:
    """``["--optim.lr", "1e-3", "--model.alpha=0.3", "--retry-errors"]`` -> nested dict of values.

    With ``model``, lists, dicts and bools are read as its field types allow (see the module doc);
    unknown flags are left for validation to name."""
    args = list(args)
    flat: dict[tuple[str, ...], Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            msg = f"unexpected argument {arg!r}: settings are given as --section.field VALUE (or --field=VALUE)"
            raise InputError(msg)
        name, eq, text = arg[2:].partition("=")
        path = _key(name)
        info = _lookup(model, path) if model is not None else None
        negated = None
        if not eq and name.startswith("no-") and model is not None:
            target = _lookup(model, _key(name[3:]))
            if target is not None and _kind(target.annotation) == "bool":
                negated = _key(name[3:])
        has_value = eq or (i + 1 < len(args) and not args[i + 1].startswith("--"))
        if negated is not None and not eq:
            path, value = negated, False
        elif not has_value:
            if info is not None and _kind(info.annotation) != "bool":
                msg = f"--{name} has no value (give --{name} VALUE)"
                raise InputError(msg)
            value = True  # a bare flag: a bool switched on
        elif not eq and info is not None and _kind(info.annotation) == "list":
            values = []  # a list flag takes every value up to the next flag: --features a b
            while i + 1 < len(args) and not args[i + 1].startswith("--"):
                values += _read(info, args[i + 1], name)
                i += 1
            value = values
        else:
            if not eq:
                text, i = args[i + 1], i + 1
            value = _read(info, text, name)
        key = tuple(path)
        if key in flat:
            flat[key] = _combine(flat[key], value, info, name)
        else:
            flat[key] = value
        i += 1
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                msg = f"--{'.'.join(path)}: '{part}' is given both as a value and as a section"
                raise InputError(msg)
        last = path[-1]
        if isinstance(node.get(last), dict) and isinstance(value, dict):  # --env.a X, then --env b=Y
            node[last] = merge(node[last], value)
        else:
            node[last] = value
    return out


def _read(info: FieldInfo | None, text: str, name: str) -> Any:
    kind = _kind(info.annotation) if info is not None else "scalar"
    if kind == "list":
        value = parse_value(text)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value if isinstance(value, list) else [value]
    if kind == "dict":
        value = parse_value(text)
        if isinstance(value, dict):
            return value
        return parse_pair(text, name)
    return parse_value(text)


def parse_pair(text: str, name: str) -> dict[str, Any]:
    """``KEY=VALUE`` of a dict flag ``--name`` as ``{KEY: VALUE}``, the value read as a YAML scalar
    (``parse_value``); anything else is an ``InputError`` naming the flag."""
    key, sep, rest = text.partition("=")
    if not sep or not key.strip():
        msg = f"--{name} expects KEY=VALUE (repeat the flag for more keys), got {text!r}"
        raise InputError(msg)
    return {key.strip(): parse_value(rest)}


def _combine(old: Any, new: Any, info: FieldInfo | None, name: str) -> Any:
    kind = _kind(info.annotation) if info is not None else "scalar"
    if kind == "dict" and isinstance(old, dict) and isinstance(new, dict):
        return {**old, **new}
    if kind == "list" and isinstance(old, list) and isinstance(new, list):
        return old + new
    return new  # a scalar given twice: the last one wins, as with argparse (a base command plus an override)


# -- validation -------------------------------------------------------------------------------
def _allowed(cls: type[BaseModel] | None) -> list[str]:
    return sorted(cls.model_fields) if cls is not None else []


def explain(err: ValidationError, prefix: str, root: type[BaseModel]) -> str:
    """A pydantic error as one line per problem, naming the dotted field; an unknown field gets
    the closest allowed one and the list of allowed ones."""
    lines = []
    for e in err.errors():
        path = [str(p) for p in e["loc"]]
        field = ".".join(([prefix] if prefix else []) + path)
        if e["type"] == "extra_forbidden":
            cls: Any = root
            for p in path[:-1]:
                ann = _unwrap(cls.model_fields[p].annotation) if p in getattr(cls, "model_fields", {}) else None
                cls = ann if _is_model(ann) else None
                if cls is None:
                    break
            allowed = _allowed(cls)
            close = difflib.get_close_matches(path[-1], allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"unknown field '{field}'{hint} allowed: {', '.join(allowed)}")
        elif e["type"] == "value_error":
            text = e["msg"].removeprefix("Value error, ")
            lines.append(
                text if not field or text.startswith((field, f"{root.__name__}.{field}")) else f"{field}: {text}"
            )
        else:
            lines.append(f"field '{field}': {e['msg']} (got {e.get('input')!r})")
    return "; ".join(lines)


def build(model: type[BaseModel], values: Mapping[str, Any], source: str = "config") -> Any:
    """Validate ``values`` into ``model``; every failure is one ``InputError`` naming the fields."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as err:
        msg = f"invalid settings ({source}): " + explain(err, "", model)
        raise InputError(msg) from None


def layered(
    model: type[BaseModel],
    config: str | Path | None = None,
    flags: Iterable[str] = (),
    given: Mapping[str, Any] | None = None,
) -> Any:
    """defaults <- YAML ``config`` <- ``given`` (a command's own options) <- dotted ``flags``."""
    values: dict[str, Any] = load_yaml(config) if config is not None else {}
    sources = [str(config)] if config is not None else ["defaults"]
    if given:
        values = merge(values, given)
    flags = list(flags)
    if flags:
        values = merge(values, parse_flags(flags, model))
        sources.append("flags")
    return build(model, values, " + ".join(sources))


# -- help ---------------------------------------------------------------------------------------
def _type_name(annotation: Any) -> str:
    ann = _unwrap(annotation)
    origin = typing.get_origin(ann)
    if origin is Literal:
        return "|".join(str(a) for a in typing.get_args(ann))
    if origin in (list, tuple, set):
        (arg, *_) = typing.get_args(ann) or (Any,)
        return f"{_type_name(arg)},..."
    if origin is dict:
        k, v = typing.get_args(ann) or (str, Any)
        return f"{_type_name(k).upper()}={_type_name(v).upper()}"
    if isinstance(ann, type):
        metavar = getattr(ann, "cli_metavar", None)  # a model read from one string (PromptChoice)
        return metavar or {"str": "text", "Path": "path", "PosixPath": "path"}.get(ann.__name__, ann.__name__)
    return str(ann).replace("typing.", "")


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        return "(see its fields)"
    if isinstance(value, dict):
        return ",".join(f"{k}={getattr(v, 'id', v)}" for k, v in value.items()) or "{}"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "[]"
    return str(value)


def field_rows(model: type[BaseModel], prefix: str = "", skip: Iterable[str] = ()) -> list[tuple[str, str, str, str]]:
    """(dotted name, type, default, description) for every field, nested models expanded."""
    skip = set(skip)
    rows = []
    for name, info in model.model_fields.items():
        dotted = prefix + name
        if dotted in skip:
            continue
        ann = _unwrap(info.annotation)
        if _is_model(ann):
            rows += field_rows(ann, dotted + ".", skip)
            continue
        rows.append((dotted, _type_name(info.annotation), _default(info), (info.description or "").strip()))
    return rows


def fields_help(rows: list[tuple[str, str, str, str]], title: str) -> str:
    """A plain-text table of ``field_rows`` for a command's ``--help`` (kept as written: the
    ``\\b`` line tells click not to re-wrap it)."""
    flags = [f"--{dotted.replace('_', '-')} {kind}" for dotted, kind, _, _ in rows]
    width = min(46, max(len(f) for f in flags)) if flags else 0
    lines = ["\b", title]
    for flag, (_, _, default, desc) in zip(flags, rows, strict=True):
        lines.append(f"  {flag:<{width}}  [{textwrap.shorten(default, 60)}]")
        lines += textwrap.wrap(desc, 100, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)
