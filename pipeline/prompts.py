"""Versioned prompt templates: one YAML file per template id in ``prompts/``.

A file holds ``id``, ``version`` (an int), ``changelog`` (one ``{version, note}`` per edit),
``description``, ``n_images`` (how many images go with the text; 0 = text-only), ``variables``
(each variable the template uses, with an example value used to test-render it), ``template``
(Jinja2, rendered in a sandbox with StrictUndefined) and, for structured outputs,
``json_schema``. Anything wrong is a ``PromptError`` naming the file and the field, raised when
the template is loaded, before any model loads. The template's ``sha256`` and version go into
every cache key and output row, so an edit can never pass for the old prompt.

A prompt id is a name (letters, digits, ``_``, ``-``), never a path, so no id can reach a file
outside the prompt folders. ``load_prompt(id, version, root)`` searches a user's own folder
``root`` first (the config's ``prompts_dir``), then the shipped ``prompts/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import yaml
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from groundwork.cache.hashing import canonical_json, sha256_text
from groundwork.errors import InputError

PROMPTS_ROOT = Path(__file__).resolve().parents[1] / "prompts"
PROMPT_ID = re.compile(r"[A-Za-z0-9_-]+")  # ids are names, never paths

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


class PromptError(InputError):
    """A template that cannot be used; the message names the file and the field. A user error
    (``groundwork.errors.InputError``, hence still a ``ValueError``): the CLIs print it and exit 2."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        super().__init__(f"{path}: field '{field}': {problem}")


class ChangelogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    note: str = Field(min_length=1)


class PromptTemplate(BaseModel):
    """One prompt template at one version. ``render(**variables)`` gives the user text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    changelog: list[ChangelogEntry] = Field(min_length=1)
    description: str = Field(min_length=1)
    n_images: int = Field(ge=0)
    variables: dict[str, Any] = Field(default_factory=dict)
    template: str = Field(min_length=1)
    json_schema: dict[str, Any] | None = None
    source: str = Field("", exclude=True)  # the file it came from, for error messages

    @property
    def sha256(self) -> str:
        spec = {"id": self.id, "version": self.version, "template": self.template, "json_schema": self.json_schema}
        return sha256_text(canonical_json(spec))

    def render(self, **variables: Any) -> str:
        missing = sorted(set(self.variables) - set(variables))
        unknown = sorted(set(variables) - set(self.variables))
        if missing or unknown:
            problem = f"render got missing variables {missing} and unknown variables {unknown}"
            raise PromptError(self.source or self.id, "variables", f"{problem}; declared: {sorted(self.variables)}")
        try:
            return _ENV.from_string(self.template).render(**variables).strip()
        except jinja2.TemplateError as exc:
            raise PromptError(self.source or self.id, "template", f"does not render: {exc}") from exc

    def parse_output(self, text: str) -> Any:
        """The model's JSON answer, validated against ``json_schema``; ValueError when it is not."""
        if self.json_schema is None:
            msg = f"prompt '{self.id}' v{self.version} has no json_schema; its output is plain text"
            raise ValueError(msg)
        try:
            value = json.loads(_strip_code_fence(text))
            jsonschema.validate(value, self.json_schema)
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            msg = f"output of prompt '{self.id}' v{self.version} does not match its json_schema: {exc}"
            raise ValueError(msg) from exc
        return value


def _strip_code_fence(text: str) -> str:
    """Models often wrap JSON in ```json fences; take what is inside."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()


def _read(path: Path) -> PromptTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PromptError(path, "yaml", f"does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(path, "yaml", f"expected a mapping, got {type(data).__name__}")
    try:
        prompt = PromptTemplate(**data, source=str(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "yaml"
        raise PromptError(path, field, f"{err['msg']} (got {err.get('input')!r})") from exc
    _check(path, prompt)
    return prompt


def _check(path: Path, prompt: PromptTemplate) -> None:
    if prompt.id != path.stem:
        raise PromptError(path, "id", f"'{prompt.id}' does not match the file name '{path.stem}'")
    versions = [entry.version for entry in prompt.changelog]
    if versions != sorted(set(versions)) or versions[-1] != prompt.version:
        problem = f"versions {versions} must increase and end at the current version {prompt.version}"
        raise PromptError(path, "changelog", problem)
    try:
        parsed = _ENV.parse(prompt.template)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(path, "template", f"does not parse (line {exc.lineno}): {exc.message}") from exc
    undeclared = sorted(meta.find_undeclared_variables(parsed) - set(prompt.variables))
    if undeclared:
        raise PromptError(path, "template", f"uses variables {undeclared} not declared in 'variables'")
    if prompt.json_schema is not None:
        try:
            jsonschema.validators.validator_for(prompt.json_schema).check_schema(prompt.json_schema)
        except jsonschema.SchemaError as exc:
            raise PromptError(path, "json_schema", f"is not a valid JSON schema: {exc.message}") from exc
    prompt.render(**prompt.variables)


def load_prompt(prompt_id: str, version: int | None = None, root: str | Path | None = None) -> PromptTemplate:
    """The template ``<prompt_id>.yaml``; ``version`` None means the file's (latest) one.

    ``root`` is a user's own prompt folder: it is searched first, then the shipped ``prompts/``
    (so a user's file of the same id overrides the shipped one, and the shipped ids stay
    available). ``prompt_id`` is a name (letters, digits, ``_``, ``-``), never a path: anything
    else (``../../x``, ``a/b``, an absolute path) is a ``PromptError`` naming it."""
    if not isinstance(prompt_id, str) or not PROMPT_ID.fullmatch(prompt_id):
        problem = f"{prompt_id!r} is not a prompt name (letters, digits, '_' and '-' only; ids are not paths)"
        raise PromptError(str(prompt_id), "id", problem)
    folders = search_path(root)
    path = next((folder / f"{prompt_id}.yaml" for folder in folders if (folder / f"{prompt_id}.yaml").is_file()), None)
    if path is None:
        known = sorted({p.stem for folder in folders for p in folder.glob("*.yaml")})
        searched = " then ".join(str(f) for f in folders)
        raise PromptError(
            folders[0] / f"{prompt_id}.yaml",
            "id",
            f"unknown prompt id '{prompt_id}' (searched {searched}); available: {', '.join(known)}",
        )
    prompt = _read(path)
    if version is not None and version != prompt.version:
        problem = f"version {version} is not available; the file holds version {prompt.version}"
        raise PromptError(path, "version", f"{problem} (changelog: {[e.version for e in prompt.changelog]})")
    return prompt


def search_path(root: str | Path | None = None) -> list[Path]:
    """The folders ``load_prompt`` searches, in order: ``root`` (when given) then ``PROMPTS_ROOT``.
    A ``root`` that is not a folder is a ``PromptError``."""
    if root is None:
        return [PROMPTS_ROOT]
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise PromptError(folder, "prompts_dir", "is not a folder of <prompt id>.yaml files")
    return [folder] if folder.resolve() == PROMPTS_ROOT.resolve() else [folder, PROMPTS_ROOT]


def validate_all(root: str | Path | None = None) -> dict[str, PromptTemplate]:
    """Load and check every template in ``root`` (default: the shipped ``prompts/``); the first
    problem raises a PromptError. Only ``root``'s own files are read."""
    folder = Path(root) if root is not None else PROMPTS_ROOT
    return {path.stem: _read(path) for path in sorted(folder.glob("*.yaml"))}
