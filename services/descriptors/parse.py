"""Reading descriptor files: YAML as Backstage reads it (safe, bounded), and the format's constants."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from services.errors import CatalogError

API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
# Export writes the kinds in this order: what a document refers to comes before it.
MODELLED_KINDS = ("Domain", "System", "Group", "User", "Component")
NAME_ANNOTATION = "slipway.dev/backstage-name"
PROJECT_SLUG_ANNOTATION = "github.com/project-slug"
SOURCE_LOCATION_ANNOTATION = "backstage.io/source-location"
TEAM_SLUG_ANNOTATION = "github.com/team-slug"
CHAT_ANNOTATIONS = ("slack.com/channel", "slack.com/channel-name", "slack.com/channel-id")
ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "relations", "status")
LINK_FIELDS = ("url", "title", "icon", "type")
BATCH_SIZE = 1000
# Large enough to keep query counts low, small enough for any database's parameter limit.
CHUNK_SIZE = 2000

# Backstage's field formats (catalog-model validation: KubernetesValidatorFunctions, makeValidator).
DNS_LABEL = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")

# What each kind keeps; any other field present is named in the report as not kept.
KEPT_METADATA = {
    "Component": {"name", "namespace", "title", "description", "tags", "links", "annotations"},
    "Group": {"name", "namespace", "title", "description", "annotations"},
    "User": {"name", "namespace"},
    "System": {"name", "namespace", "title", "description"},
    "Domain": {"name", "namespace", "title", "description"},
}
KEPT_SPEC = {
    "Component": {"type", "lifecycle", "owner", "system", "dependsOn"},
    "Group": {"type", "profile", "parent", "children", "members"},
    "User": {"profile", "memberOf"},
    "System": {"owner", "domain"},
    "Domain": {"owner"},
}
KEPT_PROFILE = {"Group": {"displayName", "email"}, "User": {"displayName", "email", "picture"}}


class DescriptorInputError(CatalogError):
    """The input as a whole cannot be read: no such path, or no descriptor file in it."""

# ---------------------------------------------------------------------------------------------
# YAML as Backstage reads it.

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG, _MAP_TAG, _SEQ_TAG, _NULL_TAG = (f"tag:yaml.org,2002:{name}" for name in ("str", "map", "seq", "null"))


class DescriptorLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's safe loader with YAML 1.2 scalars, as Backstage parses descriptors.

    PyYAML follows YAML 1.1, where `yes`, `on` and `2024-01-01` are a boolean and a date; Backstage
    (YAML 1.2) reads them as strings, so an annotation `x/enabled: yes` is valid there and here.
    """

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        """PyYAML's Resolver.resolve without path resolvers (none are registered): called for every
        node libyaml composes, the generic one was about a sixth of the parsing time (profiled)."""
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG


DescriptorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
DescriptorLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def component_slug(name: str) -> str:
    """The service slug of a valid Backstage name: a DNS label (lower case, `_` and `.` become `-`)."""
    return name.lower().replace("_", "-").replace(".", "-")


# ---------------------------------------------------------------------------------------------
# Reading files.


def descriptor_files(folder: Path) -> list[Path]:
    """The .yaml/.yml files under `folder`, recursively, in a stable order; hidden folders are left out."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in sorted(files)
                     if name.lower().endswith((".yaml", ".yml")) and not name.startswith("."))
    return found


class _MergeKey(Exception):
    """A `<<` merge key: left to PyYAML's own constructor."""


def _build(node: yaml.Node, loader: Any, memo: dict[int, Any]) -> Any:
    """A composed node as plain data (dicts, lists, strings); other tags go to PyYAML's constructor."""
    tag, kind = node.tag, node.id
    if kind == "scalar":
        if tag == _STR_TAG:
            return node.value
        if tag == _NULL_TAG:
            return None
    elif (kind == "mapping" and tag == _MAP_TAG) or (kind == "sequence" and tag == _SEQ_TAG):
        done = memo.get(id(node))
        if done is not None:
            return done
        if kind == "sequence":
            items: list[Any] = []
            memo[id(node)] = items
            items.extend(_build(item, loader, memo) for item in node.value)
            return items
        mapping: dict[Any, Any] = {}
        memo[id(node)] = mapping
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _MergeKey
            key = _build(key_node, loader, memo)
            value = _build(value_node, loader, memo)
            try:
                mapping[key] = value
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark) from None
        return mapping
    return loader.construct_object(node, deep=True)


def _load_documents(text: str) -> Iterator[Any]:
    """Every document of a YAML stream, as yaml.load_all with DescriptorLoader would give it.

    libyaml composes the nodes; turning them into dicts, lists and strings here is faster than
    PyYAML's generic constructor (measured on the 10k-service file). Anything unusual (other tags,
    merge keys) goes to that constructor. An alias is built once, so a document of nested aliases
    ("billion laughs") stays as small here as in PyYAML.
    """
    loader = DescriptorLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            try:
                yield _build(node, loader, {})
            except _MergeKey:
                yield loader.construct_document(node)
            loader.constructed_objects = {}
    finally:
        loader.dispose()


def read_text(path: Path) -> str:
    """A file's text; raises ValueError with a readable message when it cannot be read as UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ValueError(f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def parse_text(text: str) -> list[Any]:
    """Every document of a YAML stream; raises ValueError with a readable message when it is not YAML."""
    try:
        return list(_load_documents(text))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"YAML syntax error{where}: {error.problem or error.context}") from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as error:
        # A scalar PyYAML cannot construct (`!!int x`, an odd tag) is bad input like any other.
        raise ValueError(f"YAML error: {error}") from None
