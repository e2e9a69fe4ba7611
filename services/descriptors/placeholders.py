"""Backstage's `$text`, `$json` and `$yaml` placeholders (its PlaceholderProcessor), as an API entity's
definition uses them: where the placeholder points, and the definition text made of what was read there.

    spec:
      definition:
        $text: ./openapi.yaml          # a file next to the descriptor, read through the repository host
        $yaml: /specs/api.yaml         # from the repository's root
        $json: https://specs.example.com/api.json   # a URL: fetched by services/hosts/fetch.py

Where it points follows Backstage (ScmIntegration.resolveUrl): an absolute URL as it is; a path starting
with `/` from the root of the descriptor's repository; any other path relative to the descriptor's own
file (its last segment is a file, not a folder). A relative path never leaves the repository.

Where Backstage quietly leaves a `$`-keyed mapping alone (an unknown `$foo`, a value that is not a
string, other keys beside it), Slipway says why: a definition must be text, so such a value could only
fail Backstage's own validation later, without the reason.

Reading is bounded: at most `max_bytes`, YAML through parse.py's limits (nodes, aliases, expanded
size), nesting at most MAX_DEPTH levels, and the written-out definition at most twice `max_bytes`
(aliases to a long string would otherwise multiply it).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import yaml

from services.catalog.refs import quote
from services.descriptors.parse import BaseDumper, RefusedDocument, parse_text
from services.hosts.base import checked_repository_path

KINDS = ("text", "json", "yaml")
# Nesting of a parsed definition: far above real ones (an OpenAPI document nests about 15 levels),
# far below what writing it out again by recursion could not afford.
MAX_DEPTH = 64
MAX_VALUE_LENGTH = 2000
# `/<owner>/<name>/<blob|tree|raw>/<ref>/...`: where a repository's root is in a GitHub-style file URL.
_ROOT_MARKERS = ("blob", "tree", "raw", "src")


class PlaceholderError(ValueError):
    """A placeholder that cannot be followed, or what it points at that cannot be the definition;
    `reason` is the sentence to show next to the unresolved definition."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Placeholder:
    """Where a placeholder points: `url` (absolute, to fetch) or `path` (a file of the descriptor's own
    repository or folder, to read through its reader); exactly one is set."""

    kind: str  # text | json | yaml
    written: str  # the value as the descriptor wrote it
    url: str = ""
    path: str = ""


def resolve_placeholder(value: Any, *, base_url: str) -> Placeholder | None:
    """Where the placeholder `value` (`{"$text": "./openapi.yaml"}`) points, or None when `value` is no
    placeholder (a definition written inline). `base_url` is the descriptor's own address: an absolute URL,
    or its path inside its repository or folder (`services/payments/catalog-info.yaml`). Raises
    PlaceholderError with the reason."""
    if not isinstance(value, dict) or not any(isinstance(key, str) and key.startswith("$") for key in value):
        return None
    keys = list(value)
    if len(keys) != 1:
        shown = ", ".join(str(key) for key in keys[:5]) + (", ..." if len(keys) > 5 else "")
        raise PlaceholderError(f"a placeholder is a mapping of exactly one key ($text, $json or $yaml); "
                               f"this one has {len(keys)}: {shown[:200]}")
    key = keys[0]
    kind = key[1:]
    if kind not in KINDS:
        raise PlaceholderError(f"unknown placeholder {quote(key)}: Backstage knows $text, $json and $yaml")
    written = value[key]
    if not isinstance(written, str):
        raise PlaceholderError(f"${kind} expects a string (an absolute URL or a relative path), "
                               f"not {type(written).__name__} {quote(written)}")
    written = written.strip()
    if not written:
        raise PlaceholderError(f"${kind} is empty: give an absolute URL or a relative path")
    if len(written) > MAX_VALUE_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in written):
        raise PlaceholderError(f"${kind} {quote(written)} is not a URL or a path "
                               f"(control characters, or longer than {MAX_VALUE_LENGTH:,} characters)")
    scheme = urlsplit(written).scheme.lower() if ":" in written else ""
    if scheme and not (len(scheme) == 1 and written[1:3] in (":\\", ":/")):  # C:\ is a path, not a scheme
        if scheme not in ("http", "https"):
            raise PlaceholderError(f"${kind} {quote(written)}: scheme {scheme!r} is not followed (only https "
                                   "URLs and paths inside the repository)")
        return Placeholder(kind=kind, written=written, url=written)
    if "\\" in written:
        raise PlaceholderError(f"${kind} {quote(written)} is not a path inside the repository (use /)")
    if "://" in base_url:
        return Placeholder(kind=kind, written=written, url=_joined_url(written, base_url))
    return Placeholder(kind=kind, written=written, path=_joined_path(kind, written, base_url))


def _joined_path(kind: str, written: str, base: str) -> str:
    """A path relative to the descriptor's file (or to the root with a leading /), kept in the repository."""
    if written.startswith("/"):
        joined = posixpath.normpath(written.lstrip("/") or ".")
    else:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(base.strip("/")), written))
    if joined == ".." or joined.startswith("../"):
        raise PlaceholderError(f"${kind} {quote(written)} leaves the repository")
    if joined == "." or written.endswith("/"):
        raise PlaceholderError(f"${kind} {quote(written)} names a folder, not a file")
    try:
        return checked_repository_path(joined)
    except ValueError as error:
        raise PlaceholderError(f"${kind} {quote(written)}: {error}") from None


def _joined_url(written: str, base_url: str) -> str:
    """Backstage's resolveUrl for a relative path against the descriptor's URL (its query kept, as there)."""
    base = urlsplit(base_url)
    if written.startswith("/"):
        segments = base.path.split("/")
        # /owner/name/blob/ref/...: the repository's root is /owner/name/blob/ref
        root = "/".join(segments[:5]) if len(segments) > 4 and segments[3] in _ROOT_MARKERS else ""
        joined = urlsplit(urljoin(base_url, root + "/" + written.lstrip("/")))
    else:
        joined = urlsplit(urljoin(base_url, written))
    return urlunsplit((joined.scheme, joined.netloc, joined.path, base.query, ""))


# ---------------------------------------------------------------------------------------------
# What was read, as the definition.


def definition_text(kind: str, text: str, *, max_bytes: int) -> str:
    """The definition made of what a placeholder pointed at: `$text` the text as it is, `$json` and
    `$yaml` parsed (bounded) and written out again as JSON or YAML. Raises PlaceholderError."""
    if kind not in KINDS:
        raise PlaceholderError(f"unknown placeholder ${kind}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise PlaceholderError(f"${kind}: larger than {max_bytes:,} bytes")
    if kind == "text":
        return text
    value = _parsed_json(text) if kind == "json" else _parsed_yaml(text)
    _check_written_size(kind, value, limit=2 * max_bytes)
    try:
        if kind == "json":
            return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
        return str(yaml.dump(value, Dumper=BaseDumper, allow_unicode=True, sort_keys=False,
                             default_flow_style=False, width=120))
    except (yaml.YAMLError, TypeError, ValueError, RecursionError) as error:
        raise PlaceholderError(f"${kind}: the data cannot be written out as {kind.upper()}: "
                               f"{type(error).__name__}") from None


def _parsed_json(text: str) -> Any:
    try:
        return json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        raise PlaceholderError(f"$json: not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise PlaceholderError(f"$json: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise PlaceholderError(f"$json: not JSON Slipway can read: {quote(str(error))}") from None


def _parsed_yaml(text: str) -> Any:
    try:
        documents = parse_text(text)
    except ValueError as error:
        raise PlaceholderError(f"$yaml: {error}") from None
    if len(documents) != 1:
        raise PlaceholderError(f"$yaml: expected exactly one YAML document, found {len(documents)}")
    if isinstance(documents[0], RefusedDocument):
        raise PlaceholderError(f"$yaml: {documents[0].reason}")
    return documents[0]


def _check_written_size(kind: str, value: Any, *, limit: int) -> None:
    """Refuse data nested deeper than MAX_DEPTH, or whose written-out form would exceed `limit` bytes. A
    YAML alias to a list or mapping is written as an alias again, one to a string in full: strings count
    at each place they appear, lists and mappings once. Visits each list and mapping once."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(value, 1)]
    total = 0
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PlaceholderError(f"${kind}: nested more than {MAX_DEPTH} levels deep")
        total += 2 * depth + 4  # indentation, punctuation
        if isinstance(item, dict | list):
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = [part for pair in item.items() for part in pair] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str | bytes):
            total += len(item)
        else:
            total += 24
        if total > limit:
            raise PlaceholderError(f"${kind}: written out, the definition would be larger than {limit:,} bytes")
