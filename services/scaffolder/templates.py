"""Golden-path templates: the registry over scaffolds/, input validation and safe rendering.

A template is a plain cookiecutter template. Portal metadata lives in the private `_slipway` key of
its cookiecutter.json (title, description, tags, per-input rules, environments) and labels in
`__prompts__`.

Input is data, never code. cookiecutter itself renders every value it is given as a Jinja template
and lets rendered paths leave the output directory, so the portal does not call its generator:
values are validated here, put in the rendering context as plain strings (Jinja never parses a
context value), templates are rendered in Jinja's sandbox, hooks are never run, and every produced
path is checked to stay inside the project. This is the only module that imports cookiecutter.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from cookiecutter.environment import ExtensionLoaderMixin
from cookiecutter.generate import is_copy_only_path
from django.conf import settings
from django.utils import timezone
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from services.catalog.refs import SLUG_PATTERN, SLUG_RULE
from services.errors import InvalidInput, NotFound

MAX_STRING = 1000
MAX_FILES = 500
MAX_FILE_BYTES = 1024 * 1024
PORTAL_FILLED = ("owner",)  # always set from the run's owner team, never from the form
SKIPPED_FOR_VERSION = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
NAME_INPUT = "service_name"


class SandboxedCookiecutterEnvironment(ExtensionLoaderMixin, SandboxedEnvironment):
    """cookiecutter's environment (its default extensions, strict undefined) inside Jinja's sandbox."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(undefined=StrictUndefined, **kwargs)


class TemplateBroken(Exception):
    """The template itself (not the user's input) cannot be rendered: a platform-team problem."""

@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str  # string | integer | boolean | choice
    default: Any
    label: str
    help: str = ""
    pattern: str = ""
    pattern_help: str = ""  # the pattern in words, for people (messages never show the regular expression)
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Any, ...] = ()
    required: bool = True
    multiline: bool = False

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"title": self.label}
        if self.help:
            schema["description"] = self.help
        if self.type == "choice":
            schema["type"] = "integer" if all(isinstance(c, int) for c in self.choices) else "string"
            schema["enum"] = list(self.choices)
        elif self.type == "integer":
            schema["type"] = "integer"
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.type == "boolean":
            schema["type"] = "boolean"
        else:
            schema["type"] = "string"
            if self.pattern:
                schema["pattern"] = self.pattern
            schema["minLength"] = self.min_length if self.min_length is not None else (1 if self.required else 0)
            schema["maxLength"] = self.max_length or MAX_STRING
        if self.default not in (None, ""):
            schema["default"] = self.default
        return schema


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    title: str
    description: str
    tags: tuple[str, ...]
    version: str
    variables: dict[str, Any]
    inputs: tuple[InputSpec, ...]
    environments: tuple[dict[str, Any], ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    portal_filled: tuple[str, ...] = ()

    def input(self, name: str) -> InputSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    def json_schema(self) -> dict[str, Any]:
        """A JSON Schema of the inputs a user gives (the web form is generated from it)."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.title,
            "type": "object",
            "additionalProperties": False,
            "required": [spec.name for spec in self.inputs if spec.required],
            "properties": {spec.name: spec.json_schema() for spec in self.inputs},
        }


# ---------------------------------------------------------------------------------------------
# The registry.


def scaffolds_dir() -> Path:
    return Path(settings.SLIPWAY_SCAFFOLDS_DIR)


def _content_version(path: Path) -> str:
    """The template version: a hash of every file's path and bytes (changes when anything changes)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not SKIPPED_FOR_VERSION & set(p.parts)):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _input_spec(name: str, default: Any, prompts: dict[str, Any], rules: dict[str, Any]) -> InputSpec:
    label = prompts.get(name, name.replace("_", " ").capitalize())
    if isinstance(label, dict):  # cookiecutter's choice prompts: {"__prompt__": ..., choice: label}
        label = label.get("__prompt__", name)
    if isinstance(default, list):
        kind, choices, default = "choice", tuple(default), default[0] if default else None
    else:
        choices = tuple(rules.get("choices", ()))
        kind = rules.get("type") or ("boolean" if isinstance(default, bool) else
                                     "integer" if isinstance(default, int) else "string")
        if kind == "choice" and not choices:
            raise TemplateBroken(f"input {name} is a choice without choices")
    return InputSpec(
        name=name, type=kind, default=default, label=str(label), help=str(rules.get("help", "")),
        pattern=str(rules.get("pattern", "")), pattern_help=str(rules.get("pattern_help", "")),
        min_length=rules.get("min_length"),
        max_length=rules.get("max_length"), minimum=rules.get("minimum"), maximum=rules.get("maximum"),
        choices=choices, required=bool(rules.get("required", True)), multiline=bool(rules.get("multiline", False)),
    )


def _load_template(path: Path) -> Template:
    config = json.loads((path / "cookiecutter.json").read_text())
    meta = config.get("_slipway") or {}
    if (path / "hooks").exists():
        raise TemplateBroken(f"{path.name}: hooks are not allowed in golden paths (they would run code)")
    prompts = config.get("__prompts__") or {}
    rules = meta.get("inputs") or {}
    # Inputs with a `source` (owner, github_org) are filled by the portal, never asked for.
    portal_filled = {name for name, rule in rules.items() if isinstance(rule, dict) and rule.get("source")}
    inputs = tuple(
        _input_spec(name, value, prompts, rules.get(name, {}))
        for name, value in config.items()
        if not name.startswith("_") and name in rules and name not in PORTAL_FILLED and name not in portal_filled
    )
    if not any(spec.name == NAME_INPUT for spec in inputs):
        raise TemplateBroken(f"{path.name}: a golden path needs a '{NAME_INPUT}' input")
    return Template(
        name=path.name, path=path, title=str(meta.get("title", path.name)),
        description=str(meta.get("description", "")), tags=tuple(meta.get("tags", ())),
        version=_content_version(path), variables=config, inputs=inputs,
        environments=tuple(meta.get("environments", ())), metadata=meta,
        portal_filled=tuple(sorted(portal_filled | ({"owner"} & set(config)))),
    )


@lru_cache(maxsize=32)
def _cached_template(path: str, mtime_key: tuple[float, ...]) -> Template:
    return _load_template(Path(path))


def _mtime_key(path: Path) -> tuple[float, ...]:
    return tuple(sorted(p.stat().st_mtime for p in path.rglob("*") if p.is_file()))


def template_list() -> list[Template]:
    """Every golden path under scaffolds/, by name."""
    root = scaffolds_dir()
    if not root.is_dir():
        return []
    return [
        _cached_template(str(path), _mtime_key(path))
        for path in sorted(root.iterdir())
        if (path / "cookiecutter.json").is_file()
    ]


def template_get(name: str) -> Template:
    """One golden path by name, or NotFound."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", name):
        raise NotFound(f"No template '{name}'.", {"template": [f"no template '{name}'"]})
    path = scaffolds_dir() / name
    if not (path / "cookiecutter.json").is_file():
        raise NotFound(f"No template '{name}'.", {"template": [f"no template '{name}'"]})
    return _cached_template(str(path), _mtime_key(path))


# ---------------------------------------------------------------------------------------------
# Validation: every value checked against its declared rules before anything is stored.


def _string_problem(spec: InputSpec, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains characters that are not valid text"
    allowed_controls = {"\n", "\t"} if spec.multiline else set()
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co") and char not in allowed_controls for char in value):
        return "contains control or invisible formatting characters"
    if spec.required and not value.strip():
        return "is required"
    limit = spec.max_length or MAX_STRING
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if spec.min_length is not None and len(value) < spec.min_length:
        return f"must be at least {spec.min_length} characters"
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        # The template's words for its pattern (`pattern_help` beside `pattern` in its metadata), else a
        # plain sentence: people are never answered with a regular expression.
        return f"must be {spec.pattern_help}" if spec.pattern_help else (
            "is not in the form this template expects for it (see the field's help)")
    return None


def _value_problem(spec: InputSpec, value: Any) -> str | None:
    if spec.type == "choice":
        return None if value in spec.choices and type(value) is type(spec.choices[0]) else (
            "must be one of " + ", ".join(str(c) for c in spec.choices))
    if spec.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be a whole number"
        if spec.minimum is not None and value < spec.minimum:
            return f"must be at least {spec.minimum}"
        if spec.maximum is not None and value > spec.maximum:
            return f"must be at most {spec.maximum}"
        return None
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    return _string_problem(spec, value)


def inputs_validate(template: Template, raw: Any) -> dict[str, Any]:
    """Check user inputs against the template's declared rules; answer the clean values or raise
    InvalidInput naming each bad field as `inputs.<name>`."""
    if not isinstance(raw, dict):
        raise InvalidInput.field("inputs", "must be an object of input names to values")
    errors: dict[str, list[str]] = {}
    for key in raw:
        if not isinstance(key, str) or key.startswith("_"):
            errors[f"inputs.{key}"] = ["private template keys cannot be set"]
        elif key in PORTAL_FILLED or key in template.portal_filled:
            errors[f"inputs.{key}"] = ["is set by the portal, not an input"]
        elif template.input(key) is None:
            errors[f"inputs.{key}"] = [f"unknown input of template '{template.name}'"]
    values: dict[str, Any] = {}
    for spec in template.inputs:
        if spec.name in raw:
            value = raw[spec.name]
        elif spec.required and spec.type == "string" and spec.default in (None, ""):
            errors[f"inputs.{spec.name}"] = ["is required"]
            continue
        else:
            value = spec.default
        problem = _value_problem(spec, value)
        if problem is None and spec.name == NAME_INPUT and not SLUG_PATTERN.match(value):
            problem = f"must be a DNS label, {SLUG_RULE} (it names the repository)"
        if problem:
            errors[f"inputs.{spec.name}"] = [problem]
        else:
            values[spec.name] = value
    if errors:
        first = next(iter(errors.items()))
        raise InvalidInput(f"Invalid input: {first[0]} {first[1][0]}.", errors)
    return values


# ---------------------------------------------------------------------------------------------
# Rendering.


def _context(template: Template, values: dict[str, Any], portal: dict[str, Any],
             environment: SandboxedEnvironment) -> dict[str, Any]:
    """The cookiecutter context: template keys in order, user values as data, derived defaults
    (the template author's own Jinja) rendered in the sandbox."""
    context: dict[str, Any] = {}
    for key, default in template.variables.items():
        if key.startswith("_"):
            # Private keys are the template's; the portal may only fill in a dict's values (provenance).
            extra = portal.get(key)
            context[key] = {**default, **extra} if isinstance(default, dict) and isinstance(extra, dict) else default
        elif key in portal:
            context[key] = portal[key]
        elif key in values:
            context[key] = values[key]
        elif isinstance(default, str) and ("{{" in default or "{%" in default):
            try:
                context[key] = environment.from_string(default).render(cookiecutter=context)
            except TemplateError as error:
                raise TemplateBroken(f"{template.name}: default of '{key}' does not render: {error}") from None
        elif isinstance(default, list):
            context[key] = default[0] if default else ""
        else:
            context[key] = default
    return context


def _safe_relative(path: str) -> str:
    """A rendered path, checked: relative, no `..`, no odd characters, inside the project."""
    if not path or "\x00" in path or "\\" in path or path.startswith("/"):
        raise TemplateBroken(f"rendered path {path!r} is not a safe relative path")
    parts = PurePosixPath(path).parts
    if any(part in ("", ".", "..") or part != part.strip() or len(part) > 255 for part in parts):
        raise TemplateBroken(f"rendered path {path!r} leaves the project or has an empty segment")
    return PurePosixPath(*parts).as_posix()


def scaffold_render(template: Template, values: dict[str, Any], *, portal: dict[str, Any]) -> dict[str, str]:
    """Render the template with validated values into {relative path: text} (nothing touches disk)."""
    environment = SandboxedCookiecutterEnvironment(context={"cookiecutter": template.variables},
                                                   keep_trailing_newline=True, autoescape=False)
    context = _context(template, values, portal, environment)
    full_context = {"cookiecutter": context}
    roots = [p for p in template.path.iterdir() if p.is_dir() and "{{" in p.name and "cookiecutter" in p.name]
    if len(roots) != 1:
        raise TemplateBroken(f"{template.name}: expected one project folder named with {{{{cookiecutter...}}}}")
    root = roots[0]
    files: dict[str, str] = {}
    for directory, subdirectories, filenames in os.walk(root, followlinks=False):
        subdirectories.sort()
        for filename in sorted(filenames):
            source = Path(directory) / filename
            if source.is_symlink():
                raise TemplateBroken(f"{template.name}: symbolic links are not allowed ({source.name})")
            relative_template_path = source.relative_to(template.path).as_posix()
            inner = source.relative_to(root).as_posix()
            try:
                rendered_path = environment.from_string(inner).render(**full_context)
                raw = source.read_bytes()
                if len(raw) > MAX_FILE_BYTES:
                    raise TemplateBroken(f"{inner} is larger than {MAX_FILE_BYTES} bytes")
                text = raw.decode("utf-8")
                if not is_copy_only_path(relative_template_path, full_context):
                    text = environment.from_string(text).render(**full_context)
            except UnicodeDecodeError:
                raise TemplateBroken(f"{template.name}: {inner} is not UTF-8 text") from None
            except TemplateError as error:
                raise TemplateBroken(f"{template.name}: {inner} does not render: {error}") from None
            path = _safe_relative(rendered_path)
            if path in files:
                raise TemplateBroken(f"{template.name}: two files render to {path}")
            files[path] = text
            if len(files) > MAX_FILES:
                raise TemplateBroken(f"{template.name}: more than {MAX_FILES} files")
    return files


def portal_values(template: Template, *, owner: str, run_id: str = "", team: Any = None,
                  service_name: str = "", host: str = "") -> dict[str, Any]:
    """What the portal fills in itself: the owner, the organisation, provenance, and what it knows that
    a generated runbook would otherwise leave as placeholders (`_slipway_portal`: the team's contacts,
    where the repository is, today's date). All of it is data in the context, never rendered itself."""
    host = host or settings.SLIPWAY_REPO_HOST
    organisation = settings.SLIPWAY_GITHUB_ORG if host == "github" else ""
    owner_slug = organisation or settings.SLIPWAY_LOCAL_OWNER
    repository_url = ""
    if host == "local" and service_name:  # no web page: say where the bare repository is
        repository_url = str(Path(settings.SLIPWAY_REPOSITORY_DIR) / settings.SLIPWAY_LOCAL_OWNER / f"{service_name}.git")
    return {
        "owner": owner,
        "github_org": owner_slug,
        "_slipway_provenance": {"template_version": template.version, "generator": "slipway",
                                "run_id": run_id or None},
        "_slipway_portal": {
            "team_name": str(getattr(team, "name", "") or ""), "chat_channel": str(getattr(team, "chat_channel", "") or ""),
            "on_call": str(getattr(team, "on_call", "") or ""), "email": str(getattr(team, "email", "") or ""),
            "repository_url": repository_url, "reviewed_on": timezone.localdate().isoformat(),
        },
    }
