"""GitHub's own OpenAPI description (tests/github-openapi/): routing, validation and response skeletons."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

SPEC_PATH = Path(__file__).resolve().parent.parent / "github-openapi" / "github-rest-subset.json"
# The description's server: traffic to the fake is validated as if it had been sent to GitHub itself.
GITHUB_API = "https://api.github.com"
DOCS = "https://docs.github.com/rest"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head")
# Path parameters GitHub lets span several segments (`heads/feature/x`, branch `release/1.2`, file paths).
MULTI_SEGMENT_PARAMETERS = {"ref", "branch", "path"}

_openapi_lock = threading.Lock()
_openapi: Any = None
# openapi-core's validators are not documented as thread-safe; the fake's handler threads share one.
_validate_lock = threading.Lock()


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The OpenAPI document as a dict (read once per process)."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def openapi() -> Any:
    """The openapi-core `OpenAPI` object, built once per process (importing openapi-core takes ~2 s)."""
    global _openapi
    with _openapi_lock:
        if _openapi is None:
            from openapi_core import Config, OpenAPI

            # Validating the description itself costs ~3 s per process and it is GitHub's published
            # file, unchanged: test_fake_github checks it once with openapi-spec-validator instead.
            _openapi = OpenAPI.from_dict(spec(), config=Config(spec_validator_cls=None))
        return _openapi


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s inside the document."""
    while "$ref" in schema:
        node: Any = spec()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def component(name: str) -> dict[str, Any]:
    """A schema of `components/schemas` by name."""
    return spec()["components"]["schemas"][name]


# -- routing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One operation of the description: method, path template and a matcher for concrete paths."""

    method: str
    template: str
    pattern: re.Pattern[str]
    literal_length: int

    def match(self, path: str) -> dict[str, str] | None:
        """The decoded path parameters when `path` (still percent-encoded) fits this template."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}

    def encoded_path(self, params: dict[str, str]) -> str:
        """The template filled with `params`, each one a single percent-encoded segment (for openapi-core)."""
        return re.sub(r"\{(\w+)\}", lambda m: quote(params[m.group(1)], safe=""), self.template)


def _compile(template: str) -> re.Pattern[str]:
    regex = ""
    for piece in re.split(r"(\{\w+\})", template):
        if piece.startswith("{"):
            name = piece[1:-1]
            regex += f"(?P<{name}>.+)" if name in MULTI_SEGMENT_PARAMETERS else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(piece)
    return re.compile(regex)


@lru_cache(maxsize=1)
def routes() -> tuple[Route, ...]:
    """Every operation of the description, most specific template first."""
    found = []
    for template, operations in spec()["paths"].items():
        for method in operations:
            if method in HTTP_METHODS:
                literal = len(re.sub(r"\{\w+\}", "", template))
                found.append(Route(method.upper(), template, _compile(template), literal))
    return tuple(sorted(found, key=lambda route: -route.literal_length))


def find_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, params, path_known): the operation for `method path`; path_known says another method fits."""
    path_known = False
    for route in routes():
        params = route.match(path)
        if params is None:
            continue
        if route.method == method:
            return route, params, True
        path_known = True
    return None, {}, path_known


# -- validation ------------------------------------------------------------------------------------


@dataclass
class Problem:
    """Why a request does not satisfy the description, and what GitHub answers to it."""

    status: int
    message: str
    details: list[str] = field(default_factory=list)


def _schema_errors(error: BaseException) -> list[str]:
    found: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for schema_error in getattr(current, "schema_errors", None) or ():
            where = "/".join(str(part) for part in schema_error.path) or "(root)"
            found.append(f"{where}: {schema_error.message}")
        current = current.__cause__ or current.__context__
    return found or [str(error)]


def validate_request(
    route: Route,
    params: dict[str, str],
    query: dict[str, str],
    body: bytes | None,
    headers: dict[str, str],
) -> Problem | None:
    """Check a request against its operation; None when it is valid."""
    from openapi_core.templating.paths.exceptions import PathError
    from openapi_core.testing import MockRequest
    from openapi_core.validation.request.exceptions import (
        MissingRequestBodyError,
        ParameterValidationError,
        RequestBodyValidationError,
    )

    request = MockRequest(
        GITHUB_API,
        route.method.lower(),
        route.encoded_path(params),
        args=query,
        headers=headers,
        data=body or None,
        content_type="application/json",
    )
    try:
        with _validate_lock:
            openapi().validate_request(request)
    except PathError as error:  # pragma: no cover - the router and openapi-core disagree
        return Problem(404, "Not Found", [str(error)])
    except MissingRequestBodyError as error:
        return Problem(422, "Invalid request.\n\nA request body is required.", _schema_errors(error))
    except RequestBodyValidationError as error:
        details = _schema_errors(error)
        return Problem(422, "Invalid request.\n\n" + "\n".join(details), details)
    except ParameterValidationError as error:
        where = getattr(error, "location", "")
        details = _schema_errors(error)
        status = 404 if where == "path" else 422
        return Problem(status, "Invalid request.\n\n" + "\n".join(details), details)
    return None


def validate_response(
    route: Route,
    params: dict[str, str],
    query: dict[str, str],
    status: int,
    body: bytes,
    headers: dict[str, str],
) -> list[str]:
    """Problems of a response of the fake (empty when it satisfies the description)."""
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.testing import MockRequest, MockResponse

    request = MockRequest(GITHUB_API, route.method.lower(), route.encoded_path(params), args=query)
    response = MockResponse(body, status_code=status, headers=headers, content_type="application/json")
    try:
        with _validate_lock:
            openapi().validate_response(request, response)
    except ResponseNotFound:
        # GitHub documents few error statuses per operation (no 401 or 5xx anywhere), yet any operation
        # can answer them: hold such an answer to GitHub's generic error shape instead.
        return check_basic_error(status, body)
    except Exception as error:
        return _schema_errors(error)
    return []


def check_basic_error(status: int, body: bytes) -> list[str]:
    """Problems of an error answer measured against `basic-error` (message and documentation_url)."""
    if status < 400:
        return [f"status {status} is not described for this operation"]
    try:
        data = json.loads(body)
    except ValueError:
        return ["error body is not JSON"]
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return ["error body has no string 'message'"]
    extra = [
        key
        for key in ("documentation_url", "url", "status")
        if key in data and not isinstance(data[key], str)
    ]
    return [f"error body field {key!r} is not a string" for key in extra]


# -- response skeletons ----------------------------------------------------------------------------


class BodyBuilder:
    """Builds response bodies from a schema's REQUIRED fields, overlaid with the fake's known values.

    GitHub's examples do not always satisfy its schemas, so nothing is copied from them: every
    required field gets a value of its type (None when nullable), and URL-like fields point at the
    fake's own API root so that clients which follow them stay on the fake.
    """

    def __init__(self, api_url: str, now: str) -> None:
        self.api_url = api_url
        self.now = now

    def build(self, schema: dict[str, Any] | str, values: Any = None) -> Any:
        """A value of `schema` (or the named component) that keeps every given value."""
        if isinstance(schema, str):
            schema = component(schema)
        return self._build(schema, values, "")

    def _merge(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = resolve(schema)
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = self._merge(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged

    def _choose(self, schema: dict[str, Any], values: Any) -> dict[str, Any]:
        options = [self._merge(option) for option in schema.get("anyOf") or schema.get("oneOf") or []]
        if not options:
            return schema
        if isinstance(values, dict):
            # The alternative whose properties best cover the given values.
            return max(options, key=lambda option: len(set(option.get("properties", {})) & set(values)))
        return options[0]

    def _build(self, schema: dict[str, Any], values: Any, name: str) -> Any:
        schema = self._choose(self._merge(schema), values)
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind == "object":
            if values is not None and not isinstance(values, dict):
                return values
            values = values or {}
            properties = schema.get("properties", {})
            result: dict[str, Any] = {}
            for key in schema.get("required", []):
                if key in values:
                    value = values[key]
                    result[key] = None if value is None else self._build(properties.get(key, {}), value, key)
                else:
                    result[key] = self._default(properties.get(key, {}), key)
            for key, value in values.items():
                if key not in result:
                    result[key] = (
                        self._build(properties.get(key, {}), value, key) if value is not None else None
                    )
            return result
        if kind == "array" and isinstance(values, list):
            return [self._build(schema.get("items", {}), item, name) for item in values]
        return values

    def _default(self, schema: dict[str, Any], name: str) -> Any:
        schema = self._choose(self._merge(schema), None)
        if schema.get("nullable"):
            return None
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind == "object":
            return self._build(schema, {}, name)
        if kind == "array":
            return []
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return schema.get("minimum", 0)
        if kind == "string" or kind is None:
            if "enum" in schema:
                return schema["enum"][0]
            if schema.get("format") == "date-time":
                return self.now
            if name == "url" or name.endswith("_url") or schema.get("format") == "uri":
                return self.api_url
            if schema.get("format") == "email":
                return "noreply@example.com"
            return ""
        return None
