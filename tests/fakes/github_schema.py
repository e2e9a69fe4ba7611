"""GitHub's own OpenAPI descriptions (tests/github-openapi/): routing, validation and response skeletons of
the REST API, and validation of webhook payloads (`validate_webhook`)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

SPEC_DIR = Path(__file__).resolve().parent.parent / "github-openapi"
SPEC_PATH = SPEC_DIR / "github-rest-subset.json"
WEBHOOKS_PATH = SPEC_DIR / "github-webhooks-subset.json"
# The description's server: traffic to the fake is validated as if it had been sent to GitHub itself.
GITHUB_API = "https://api.github.com"
DOCS = "https://docs.github.com/rest"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head")
# Path parameters GitHub lets span several segments (`heads/feature/x`, branch `release/1.2`, file paths).
MULTI_SEGMENT_PARAMETERS = {"ref", "branch", "path"}
# GitHub's raw media types (`application/vnd.github.raw`, `...raw+json`, the older `...v3.raw`): the body is
# the file's bytes. The description names them only in prose (rest-api-description#6089): see check_raw.
RAW_MEDIA_TYPE = re.compile(r"application/vnd\.github(?:\.v3)?\.raw(?:\+json)?")
# Operations whose 200 answer is a `oneOf` with a `discriminator` on `type` that maps "array" to an array
# schema (a directory listing): a discriminator needs an object, so openapi-core rejects every array
# ("is not of type 'object'") and such an answer is checked against the array component itself.
ARRAY_ALTERNATIVES = {("GET", "/repos/{owner}/{repo}/contents/{path}"): "content-directory"}

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


def operation(route: Route) -> dict[str, Any]:
    """The description's operation object of `route`."""
    return spec()["paths"][route.template][route.method.lower()]


def _error_lines(errors: Any) -> list[str]:
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(errors, key=lambda error: [str(part) for part in error.absolute_path])
    ]


@cache
def _component_validator(name: str) -> Any:
    from openapi_schema_validator import OAS30Validator

    # The component is reached through a `$ref` from a root holding the components, so that its own
    # `$ref`s (#/components/...) resolve inside the same document.
    return OAS30Validator({"$ref": f"#/components/schemas/{name}", "components": spec()["components"]})


def validate_component(name: str, value: Any) -> list[str]:
    """Problems of `value` measured against the REST description's component schema `name`."""
    with _validate_lock:
        return _error_lines(_component_validator(name).iter_errors(value))


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
    *,
    content_type: str = "application/json",
    request_headers: dict[str, str] | None = None,
) -> list[str]:
    """Problems of a response of the fake (empty when it satisfies the description).

    `content_type` is the answer's media type; `request_headers` (lower-case names) the request's, which
    a 304 is checked against.
    """
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.testing import MockRequest, MockResponse

    if status == 304:
        problems = check_not_modified(route, body, request_headers or {})
        if problems or "304" not in operation(route).get("responses", {}):
            return problems
    elif RAW_MEDIA_TYPE.fullmatch(content_type.partition(";")[0].strip()):
        return check_raw(route, status)
    elif status == 200 and (route.method, route.template) in ARRAY_ALTERNATIVES and body.startswith(b"["):
        return validate_component(ARRAY_ALTERNATIVES[(route.method, route.template)], json.loads(body))

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


def check_not_modified(route: Route, body: bytes, request_headers: dict[str, str]) -> list[str]:
    """Problems of a 304 answer: it must have no body and answer a conditional GET.

    GitHub's description lists 304 ("Not modified") for a few operations only (contents, /user, pulls...),
    not for e.g. `GET /repos/{owner}/{repo}` or `GET /orgs/{org}/repos`, yet GitHub answers 304 to a
    matching `If-None-Match` on any GET that sent an ETag ("Use conditional requests if appropriate",
    best practices for the REST API): so a 304 is allowed on every GET, described or not.
    """
    problems = []
    if route.method != "GET":
        problems.append(f"304 answered to a {route.method} (only conditional GETs get one)")
    if not request_headers.get("if-none-match") and not request_headers.get("if-modified-since"):
        problems.append("304 answered to a request without If-None-Match or If-Modified-Since")
    if body:
        problems.append("a 304 answer has a body")
    return problems


def check_raw(route: Route, status: int) -> list[str]:
    """Problems of an answer in a raw media type (the file's bytes, no JSON to validate).

    The description documents the raw media types only in an operation's prose ("This endpoint supports
    the following custom media types ... application/vnd.github.raw+json"); its 200 `content` lists just
    application/json and application/vnd.github.object (GitHub's own schema bug, rest-api-description
    issue #6089). A raw answer is allowed where the prose documents it, with status 200.
    """
    problems = []
    if "application/vnd.github.raw" not in operation(route).get("description", ""):
        problems.append(f"{route.template} does not document the raw media type")
    if status != 200:
        problems.append(f"raw media type on a {status} answer")
    return problems


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


# -- webhooks --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def webhooks_spec() -> dict[str, Any]:
    """The webhook payload descriptions (OpenAPI 3.1 `webhooks`), read once per process."""
    return json.loads(WEBHOOKS_PATH.read_text(encoding="utf-8"))


def webhook_key(event: str, payload: Any = None) -> str:
    """The description's entry for an event: `push`, or `deployment_status` + action `created` as
    `deployment-status-created` (the `X-GitHub-Event` header names the event, the payload the action)."""
    webhooks = webhooks_spec()["webhooks"]
    key = event.replace("_", "-")
    if key not in webhooks and isinstance(payload, dict) and isinstance(payload.get("action"), str):
        key = f"{key}-{payload['action'].replace('_', '-')}"
    if key not in webhooks:
        raise KeyError(f"no webhook {event!r} in {WEBHOOKS_PATH.name} (has: {', '.join(sorted(webhooks))})")
    return key


@cache
def _webhook_validator(key: str) -> Any:
    from jsonschema import Draft202012Validator

    document = webhooks_spec()
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; the payload schema is the entry's request body, reached
    # by a `$ref` from a root that holds the whole document so that #/components/... resolve.
    pointer = f"#/webhooks/{key}/post/requestBody/content/application~1json/schema"
    root = {"$ref": pointer, "webhooks": document["webhooks"], "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate_webhook(event: str, payload: Any) -> list[str]:
    """Problems of a webhook payload measured against github-webhooks-subset.json (empty when valid).

    `event` is the `X-GitHub-Event` name (`push`, `repository`...; the payload's `action` picks the entry
    when the event has several) or the description's own key (`repository-archived`).
    """
    return _error_lines(_webhook_validator(webhook_key(event, payload)).iter_errors(payload))


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
