"""Backstage descriptors (catalog-info.yaml) into and out of the catalog.

Import reads every document of a file or folder, validates each one fully by Backstage's own rules
before anything is written, resolves the references between documents (and to the catalog), then
writes only what differs, with a handful of bulk queries in one transaction. Export writes the
catalog back as multi-document descriptors that import again into the same catalog.

Mapping (Backstage -> Slipway):
- Component -> Service. The slug is the name as a DNS label: lower case, `_` and `.` become `-`
  (every valid Backstage name maps to a valid slug); a name that differs from its slug is kept in
  the annotation `slipway.dev/backstage-name` so export gives the entity its own name back.
  `github.com/project-slug` (else a `url:` `backstage.io/source-location`) gives the repository.
- Group -> Team (slug = lower-case name; display name, email, type, parent, children, members, and
  the chat channel from a `slack.com/channel` annotation). User -> user + Profile + memberships.
- System -> System, Domain -> Domain (their owner must be a team: Slipway has no user owners there).
- Other kinds (API, Resource, Location, Template, ...) are reported as skipped, not as errors.
Slipway has one namespace: entities of other namespaces are imported into it (two entities that
meet there are reported), and references compare case-insensitively, as in Backstage.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import DatabaseError, connection, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from services.audit import bump_generation, current_context
from services.errors import CatalogError, InvalidInput
from services.models import AuditEvent, Domain, Membership, Profile, Service, ServiceDependency, System, Team
from services.refs import EntityRef, is_valid_name, normalize_repository, parse_entity_ref

User = get_user_model()

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
_DNS_LABEL = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")

# What each kind keeps; any other field present is named in the report as not kept.
_KEPT_METADATA = {
    "Component": {"name", "namespace", "title", "description", "tags", "links", "annotations"},
    "Group": {"name", "namespace", "title", "description", "annotations"},
    "User": {"name", "namespace"},
    "System": {"name", "namespace", "title", "description"},
    "Domain": {"name", "namespace", "title", "description"},
}
_KEPT_SPEC = {
    "Component": {"type", "lifecycle", "owner", "system", "dependsOn"},
    "Group": {"type", "profile", "parent", "children", "members"},
    "User": {"profile", "memberOf"},
    "System": {"owner", "domain"},
    "Domain": {"owner"},
}
_KEPT_PROFILE = {"Group": {"displayName", "email"}, "User": {"displayName", "email", "picture"}}


class DescriptorInputError(CatalogError):
    """The input as a whole cannot be read: no such path, or no descriptor file in it."""


# ---------------------------------------------------------------------------------------------
# YAML as Backstage reads it.

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
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
# The report.


@dataclass
class DocumentResult:
    """What the import did with one document, and why."""

    file: str
    index: int  # 1-based position of the document in its file
    kind: str = ""
    name: str = ""
    outcome: str = ""  # created | updated | unchanged | skipped | invalid
    reasons: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.index}"

    def fail(self, *reasons: str) -> None:
        self.outcome = "invalid"
        self.reasons.extend(reasons)
        self.notes.clear()  # what would not have been kept no longer matters

    def skip(self, reason: str) -> None:
        self.outcome = "skipped"
        self.reasons.append(reason)
        self.notes.clear()

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def line(self) -> str:
        """One line of the human report: `file:index Kind name -> outcome`."""
        if self.outcome == "invalid":
            body = "skipped (invalid): " + "; ".join(self.reasons)
        elif self.outcome == "skipped":
            body = "skipped: " + "; ".join(self.reasons)
        elif self.outcome == "updated":
            body = f"updated ({', '.join(self.changes)})"
        else:
            body = self.outcome
        if self.notes:
            body += " - " + "; ".join(self.notes)
        return f"{self.location} {self.kind or '?'} {self.name or '?'} -> {body}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "index": self.index, "kind": self.kind, "name": self.name,
            "outcome": self.outcome, "reasons": self.reasons, "changes": self.changes, "notes": self.notes,
        }


@dataclass
class ImportReport:
    """The outcome of one import: a result per document, unreadable files, and what was declared."""

    dry_run: bool = False
    strict: bool = False
    files_read: int = 0
    documents: list[DocumentResult] = field(default_factory=list)
    file_errors: list[dict[str, str]] = field(default_factory=list)
    declared_teams: list[str] = field(default_factory=list)
    declared_users: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("created", "updated", "unchanged", "skipped", "invalid"), 0)
        for result in self.documents:
            counts[result.outcome] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0: nothing errored; 1: some documents or files were invalid; 2: nothing could be read."""
        if self.files_read == 0:
            return 2
        if self.file_errors or any(result.outcome == "invalid" for result in self.documents):
            return 1
        return 0

    def lines(self) -> Iterator[str]:
        for error in self.file_errors:
            yield f"{error['file']} -> skipped (unreadable): {error['error']}"
        for result in self.documents:
            yield result.line()

    def summary(self) -> str:
        counts = self.counts()
        files = self.files_read + len(self.file_errors)
        text = (
            f"{len(self.documents)} documents in {files} file{'s' if files != 1 else ''}: "
            + ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
        )
        if self.file_errors:
            text += f"; {len(self.file_errors)} file{'s' if len(self.file_errors) != 1 else ''} unreadable"
        text += "."
        if self.declared_teams:
            text += ("\nTeams declared by this import (named as owner, parent or member, not described): "
                     + ", ".join(self.declared_teams))
        if self.declared_users:
            text += "\nUsers declared by this import (named, not described): " + ", ".join(self.declared_users)
        if self.dry_run:
            text += "\nDry run: nothing was written."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "strict": self.strict, "exit_code": self.exit_code,
            "summary": self.counts() | {"files_read": self.files_read, "files_unreadable": len(self.file_errors)},
            "declared": {"teams": self.declared_teams, "users": self.declared_users},
            "file_errors": self.file_errors,
            "documents": [result.as_dict() for result in self.documents],
        }


# ---------------------------------------------------------------------------------------------
# Reading files.


def _descriptor_files(folder: Path) -> list[Path]:
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


def _read_text(path: Path) -> str:
    """A file's text; raises ValueError with a readable message when it cannot be read as UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ValueError(f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def _parse_text(text: str) -> list[Any]:
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


# ---------------------------------------------------------------------------------------------
# Validating one document.


class _Ref(NamedTuple):
    ref: EntityRef
    written: str  # the name as the document wrote it (case kept), for entities declared from it
    path: str  # the field it came from, for messages
    text: str  # the reference as written


@dataclass
class _Entity:
    """A valid document of a modelled kind, reduced to what Slipway keeps of it."""

    result: DocumentResult
    kind: str
    name: str  # metadata.name as written
    namespace: str
    key: str  # the row it maps to: service slug, team/system/domain slug, lower-case username
    values: dict[str, Any]
    refs: dict[str, Any]
    resolved: dict[str, Any] = field(default_factory=dict)
    declared: dict[str, list[str]] = field(default_factory=dict)  # role -> names this entity declared


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 80 else text[:77] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _written_name(text: str) -> str:
    """The name part of a reference as written (`group:default/Team-A` -> `Team-A`)."""
    rest = text.strip().partition(":")[2] if ":" in text else text.strip()
    return rest.rpartition("/")[2]


def _valid_prefixed(value: str, suffix: re.Pattern[str]) -> bool:
    """Backstage's `prefix/suffix` rule for annotation and label keys."""
    parts = value.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not (0 < len(prefix) <= 253 and all(_DNS_LABEL.match(p) and len(p) <= 63 for p in prefix.split("."))):
            return False
    elif len(parts) == 1:
        name = parts[0]
    else:
        return False
    return 0 < len(name) <= 63 and bool(suffix.match(name))


class _Checks:
    """Reads the typed fields of one document, collecting every problem rather than stopping at the first."""

    def __init__(self, ref_cache: dict[tuple[str, str | None], EntityRef | str]) -> None:
        self.problems: list[str] = []
        self.ref_cache = ref_cache

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def mapping(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any]:
        if key not in parent:
            if required:
                self.fail(f"{path} is missing")
            return {}
        value = parent[key]
        if not isinstance(value, dict):
            self.fail(f"{path} must be a mapping, not {_type_name(value)}")
            return {}
        return value

    def string(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False,
               allow_empty: bool = False, max_length: int | None = None) -> str | None:
        if key not in parent:
            if required:
                self.fail(f"{path} is missing")
            return None
        value = parent[key]
        if value is None:
            self.fail(f"{path} is {'missing (null)' if required else 'null'}")
            return None
        if not isinstance(value, str):
            self.fail(f"{path} must be a string, not {_type_name(value)} ({_show(value)})")
            return None
        if not value and not allow_empty:
            self.fail(f"{path} is empty")
            return None
        if max_length is not None and len(value) > max_length:
            self.fail(f"{path} is longer than {max_length} characters (Slipway keeps at most {max_length})")
            return None
        return value

    def string_list(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[str]:
        if key not in parent:
            if required:
                self.fail(f"{path} is missing")
            return []
        values = parent[key]
        if not isinstance(values, list):
            self.fail(f"{path} must be a list, not {_type_name(values)} ({_show(values)})")
            return []
        good: list[str] = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value:
                self.fail(f"{path}[{index}] must be a non-empty string, not {_show(value)}")
            else:
                good.append(value)
        return good

    def ref(self, text: str | None, path: str, *, default_kind: str | None,
            kinds: Sequence[str] | None) -> _Ref | None:
        if text is None:
            return None
        # The same references recur across documents (owners, systems): parse each text once.
        parsed = self.ref_cache.get((text, default_kind))
        if parsed is None:
            try:
                parsed = parse_entity_ref(text, default_kind=default_kind, field="ref")
            except InvalidInput as error:
                parsed = error.errors.get("ref", [error.detail])[0]
            self.ref_cache[(text, default_kind)] = parsed
        if isinstance(parsed, str):
            self.fail(f"{path}: {parsed}")
            return None
        ref = parsed
        if kinds and ref.kind not in kinds:
            self.fail(f"{path} {_show(text)} must name a {' or a '.join(kinds)}, not a {ref.kind}")
            return None
        return _Ref(ref, _written_name(text), path, text)

    def refs(self, parent: dict[str, Any], key: str, path: str, *, default_kind: str | None,
             kinds: Sequence[str] | None, required: bool = False) -> list[_Ref]:
        found: list[_Ref] = []
        seen: set[EntityRef] = set()
        for index, text in enumerate(self.string_list(parent, key, path, required=required)):
            ref = self.ref(text, f"{path}[{index}]", default_kind=default_kind, kinds=kinds)
            if ref is not None and ref.ref not in seen:
                seen.add(ref.ref)
                found.append(ref)
        return found


def _check_metadata(checks: _Checks, metadata: dict[str, Any]) -> dict[str, Any]:
    """The common metadata fields, validated by Backstage's envelope and field-format rules."""
    name = checks.string(metadata, "name", "metadata.name", required=True)
    if name is not None and not is_valid_name(name):
        checks.fail(f"metadata.name {_show(name)} is not a valid entity name "
                    "(1-63 characters: letters and digits, separated by single - _ or .)")
        name = None
    namespace = checks.string(metadata, "namespace", "metadata.namespace") or "default"
    if not (len(namespace) <= 63 and _DNS_LABEL.match(namespace)):
        checks.fail(f"metadata.namespace {_show(namespace)} is not a valid namespace "
                    "(lower-case letters and digits separated by -)")
    title = checks.string(metadata, "title", "metadata.title", max_length=200)
    description = checks.string(metadata, "description", "metadata.description", allow_empty=True)
    labels = checks.mapping(metadata, "labels", "metadata.labels")
    for key, value in labels.items():
        if not isinstance(key, str) or not _valid_prefixed(key, _OBJECT_NAME):
            checks.fail(f"metadata.labels key {_show(key)} is not a valid label key")
        elif not (value == "" or (isinstance(value, str) and len(value) <= 63 and _OBJECT_NAME.match(value))):
            checks.fail(f"metadata.labels.{key} {_show(value)} is not a valid label value")
    annotations = checks.mapping(metadata, "annotations", "metadata.annotations")
    for key, value in annotations.items():
        if not isinstance(key, str) or not _valid_prefixed(key, _OBJECT_NAME):
            checks.fail(f"metadata.annotations key {_show(key)} is not a valid annotation key")
        elif not isinstance(value, str):
            checks.fail(f"metadata.annotations.{key} must be a string, not {_type_name(value)}")
    tags = checks.string_list(metadata, "tags", "metadata.tags")
    for index, tag in enumerate(tags):
        if len(tag) > 63 or not _TAG.match(tag):
            checks.fail(f"metadata.tags[{index}] {_show(tag)} is not a valid tag "
                        "(lower-case letters, digits, : + #, separated by single -; at most 63)")
    links: list[dict[str, str]] = []
    unkept: list[str] = []
    if "links" in metadata:
        raw_links = metadata["links"]
        if not isinstance(raw_links, list):
            checks.fail(f"metadata.links must be a list, not {_type_name(raw_links)}")
            raw_links = []
        for index, link in enumerate(raw_links):
            path = f"metadata.links[{index}]"
            if not isinstance(link, dict):
                checks.fail(f"{path} must be a mapping with a url, not {_type_name(link)}")
                continue
            url = checks.string(link, "url", f"{path}.url", required=True)
            if url is not None and not _URL.match(url):
                checks.fail(f"{path}.url {_show(url)} is not a URL")
            title_text = checks.string(link, "title", f"{path}.title")
            if title_text is not None and not title_text.strip():
                checks.fail(f"{path}.title is blank")
            icon = checks.string(link, "icon", f"{path}.icon")
            if icon is not None and not (len(icon) <= 63 and _OBJECT_NAME.match(icon)):
                checks.fail(f"{path}.icon {_show(icon)} is not a valid icon name")
            checks.string(link, "type", f"{path}.type")
            # A link keeps Backstage's four fields (all strings, checked above); anything else is named.
            links.append({key: link[key] for key in LINK_FIELDS if key in link})
            unkept.extend(f"{path}.{key}" for key in link if key not in LINK_FIELDS)
    return {"name": name, "namespace": namespace, "title": title, "description": description or "",
            "annotations": dict(annotations), "tags": list(tags), "links": links, "unkept": unkept}


def _unkept(kind: str, metadata: dict[str, Any], spec: dict[str, Any], namespace: str,
            extra: list[str]) -> list[str]:
    """The fields present in a document that Slipway does not keep (named in the report)."""
    fields = [f"metadata.{key}" for key in metadata if key not in _KEPT_METADATA[kind]]
    if kind == "Component":
        fields += extra
    fields += [f"spec.{key}" for key in spec if key not in _KEPT_SPEC[kind]]
    profile = spec.get("profile")
    if kind in _KEPT_PROFILE and isinstance(profile, dict):
        fields += [f"spec.profile.{key}" for key in profile if key not in _KEPT_PROFILE[kind]]
    notes = [f"not kept: {', '.join(str(f) for f in fields)}"] if fields else []
    if namespace != "default":
        notes.append(f"namespace '{namespace}' not kept (Slipway has one namespace)")
    return notes


def _validate(document: Any, result: DocumentResult,
              ref_cache: dict[tuple[str, str | None], EntityRef | str] | None = None) -> _Entity | None:
    """The document as an _Entity, or None with the result saying why it was skipped or refused."""
    if not isinstance(document, dict):
        result.fail(f"a document must be a mapping, not {_type_name(document)}")
        return None
    if "apiVersion" not in document and "kind" not in document:
        result.skip("not a Backstage entity (no apiVersion and no kind)")
        return None
    metadata_raw = document.get("metadata")
    if isinstance(metadata_raw, dict) and isinstance(metadata_raw.get("name"), str):
        result.name = metadata_raw["name"][:100]  # a report line, not a dump of bad input
    kind = document.get("kind")
    if not isinstance(kind, str) or not kind:
        result.fail("kind is missing" if kind is None else "kind is empty" if kind == ""
                    else f"kind must be a string, not {_type_name(kind)}")
        return None
    if not (len(kind) <= 63 and _KIND.match(kind)):
        result.kind = kind
        result.fail(f"kind {_show(kind)} is not a valid kind")
        return None
    result.kind = kind
    if kind not in MODELLED_KINDS:
        for modelled in MODELLED_KINDS:
            if kind.lower() == modelled.lower():
                result.fail(f"kind '{kind}' must be written '{modelled}'")
                return None
        result.skip(f"kind {kind} is not modelled by Slipway")
        return None

    checks = _Checks({} if ref_cache is None else ref_cache)
    api_version = checks.string(document, "apiVersion", "apiVersion", required=True)
    if api_version is not None and api_version not in API_VERSIONS:
        checks.fail(f"apiVersion {_show(api_version)} is not one Backstage accepts for {kind} "
                    f"({', '.join(API_VERSIONS)})")
    foreign = [str(key) for key in document if key not in ROOT_FIELDS]
    if foreign:
        checks.fail(f"unknown top-level field{'s' if len(foreign) > 1 else ''} {', '.join(foreign)}")
    metadata_map = checks.mapping(document, "metadata", "metadata", required=True)
    metadata = _check_metadata(checks, metadata_map)
    spec = checks.mapping(document, "spec", "spec", required=True)
    values, refs = _SPEC_CHECKS[kind](checks, metadata, spec)
    if checks.problems:
        result.fail(*checks.problems)
        return None
    name = metadata["name"]
    key = component_slug(name) if kind == "Component" else name.lower()
    for note in _unkept(kind, metadata_map, spec, metadata["namespace"], metadata["unkept"]):
        result.note(note)
    if kind == "Group" and values.pop("_title_unkept", False):
        result.note("not kept: metadata.title (the display name is spec.profile.displayName)")
    return _Entity(result=result, kind=kind, name=name, namespace=metadata["namespace"], key=key,
                   values=values, refs=refs)


def _owner_ref(checks: _Checks, spec: dict[str, Any]) -> _Ref | None:
    return checks.ref(checks.string(spec, "owner", "spec.owner", required=True), "spec.owner",
                      default_kind="group", kinds=("group", "user"))


def _check_component(checks: _Checks, metadata: dict[str, Any],
                     spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    type_ = checks.string(spec, "type", "spec.type", required=True, max_length=100)
    lifecycle = checks.string(spec, "lifecycle", "spec.lifecycle", required=True, max_length=100)
    owner = _owner_ref(checks, spec)
    system = checks.ref(checks.string(spec, "system", "spec.system"), "spec.system",
                        default_kind="system", kinds=("system",))
    # Backstage gives dependsOn no default kind: a bare name is an error there, and here.
    depends_on = checks.refs(spec, "dependsOn", "spec.dependsOn", default_kind=None, kinds=None)
    annotations = metadata["annotations"]
    name = metadata["name"] or ""
    annotations.pop(NAME_ANNOTATION, None)
    if name and component_slug(name) != name:
        annotations[NAME_ANNOTATION] = name
    values = {
        "name": metadata["title"] or name, "description": metadata["description"], "type": type_,
        "lifecycle": lifecycle, "tags": metadata["tags"], "links": metadata["links"], "annotations": annotations,
    }
    return values, {"owner": owner, "system": system, "depends_on": depends_on}


def _check_group(checks: _Checks, metadata: dict[str, Any],
                 spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    team_type = checks.string(spec, "type", "spec.type", required=True, max_length=50)
    profile = checks.mapping(spec, "profile", "spec.profile")
    display_name = checks.string(profile, "displayName", "spec.profile.displayName", max_length=200)
    email = checks.string(profile, "email", "spec.profile.email", max_length=254)
    checks.string(profile, "picture", "spec.profile.picture")
    parent = checks.ref(checks.string(spec, "parent", "spec.parent"), "spec.parent",
                        default_kind="group", kinds=("group",))
    children = checks.refs(spec, "children", "spec.children", default_kind="group", kinds=("group",), required=True)
    members = checks.refs(spec, "members", "spec.members", default_kind="user", kinds=("user",))
    annotations = metadata["annotations"]
    name = metadata["name"] or ""
    annotations.pop(NAME_ANNOTATION, None)
    if name and name.lower() != name:
        annotations[NAME_ANNOTATION] = name
    chat = next((annotations[key] for key in CHAT_ANNOTATIONS if annotations.get(key)), "")
    if len(chat) > 200:
        checks.fail("the chat channel annotation is longer than 200 characters (Slipway keeps at most 200)")
    github_team = annotations.get(TEAM_SLUG_ANNOTATION, "").rpartition("/")[2]
    if len(github_team) > 100:
        checks.fail(f"{TEAM_SLUG_ANNOTATION} is longer than 100 characters (Slipway keeps at most 100)")
    values = {
        "name": display_name or metadata["title"] or name, "description": metadata["description"],
        "email": email or "", "chat_channel": chat, "github_team_slug": github_team, "team_type": team_type,
        "annotations": annotations,
        "_title_unkept": bool(display_name and metadata["title"] and metadata["title"] != display_name),
    }
    return values, {"parent": parent, "children": children, "members": members,
                    "has_members": "members" in spec}


def _check_user(checks: _Checks, metadata: dict[str, Any],
                spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    profile = checks.mapping(spec, "profile", "spec.profile")
    display_name = checks.string(profile, "displayName", "spec.profile.displayName", max_length=200)
    email = checks.string(profile, "email", "spec.profile.email", max_length=254)
    picture = checks.string(profile, "picture", "spec.profile.picture", max_length=500)
    member_of = checks.refs(spec, "memberOf", "spec.memberOf", default_kind="group", kinds=("group",),
                            required=True)
    values = {"username": metadata["name"], "email": email or "", "display_name": display_name or "",
              "picture": picture or ""}
    return values, {"member_of": member_of}


def _check_system(checks: _Checks, metadata: dict[str, Any],
                  spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    owner = _owner_ref(checks, spec)
    domain = checks.ref(checks.string(spec, "domain", "spec.domain"), "spec.domain",
                        default_kind="domain", kinds=("domain",))
    values = {"name": metadata["title"] or metadata["name"] or "", "description": metadata["description"]}
    return values, {"owner": owner, "domain": domain}


def _check_domain(checks: _Checks, metadata: dict[str, Any],
                  spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    owner = _owner_ref(checks, spec)
    values = {"name": metadata["title"] or metadata["name"] or "", "description": metadata["description"]}
    return values, {"owner": owner}


_SPEC_CHECKS = {
    "Component": _check_component, "Group": _check_group, "User": _check_user,
    "System": _check_system, "Domain": _check_domain,
}


_SIMPLE_SLUG = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*/[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


def _repository_of(annotations: dict[str, str]) -> tuple[str | None, str | None]:
    """The repository key named by a component's annotations, and a note when one is unusable."""
    slug = annotations.get(PROJECT_SLUG_ANNOTATION)
    if slug:
        if _SIMPLE_SLUG.match(slug) and not slug.lower().endswith(".git"):
            # What normalize_repository gives for a plain owner/name, without its parsing.
            return f"{settings.SLIPWAY_DEFAULT_GIT_HOST}/{slug}".lower(), None
        try:
            if "/" not in slug.strip().strip("/"):
                raise InvalidInput("no owner")
            return normalize_repository(f"{settings.SLIPWAY_DEFAULT_GIT_HOST}/{slug.strip()}"), None
        except InvalidInput:
            return None, f"{PROJECT_SLUG_ANNOTATION} {_show(slug)} is not owner/name: no repository"
    location = annotations.get(SOURCE_LOCATION_ANNOTATION, "")
    if location.startswith("url:"):
        try:
            return normalize_repository(location[4:]), None
        except InvalidInput:
            return None, None
    return None, None


# ---------------------------------------------------------------------------------------------
# Importing.


def catalog_import(*, path: str | os.PathLike[str], actor: Any = None, strict: bool = False,
                   dry_run: bool = False) -> ImportReport:
    """Import Backstage descriptors from a file or a folder (recursively); returns the report.

    Every document is validated before anything is written; invalid ones are reported and skipped,
    the valid ones imported. Re-importing the same input changes nothing and records no audit event.
    `strict` refuses documents naming a team, user, system or domain that is neither in the catalog
    nor in the input (by default such teams and users are created as declared). `dry_run` writes nothing.
    """
    root = Path(path)
    if not root.exists():
        raise DescriptorInputError(f"'{path}' does not exist.")
    folder = root if root.is_dir() else None
    files = _descriptor_files(root) if folder else [root]
    if not files:
        raise DescriptorInputError(f"'{path}' holds no .yaml or .yml file.")
    report = ImportReport(dry_run=dry_run, strict=strict)
    # An import makes hundreds of thousands of long-lived objects and no reference cycles: the
    # collector's repeated full passes over them were a third of the 10k-service import's time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        entities = _read(files, folder, str(path), report)
        importer = _Importer(entities, report, strict=strict, actor=actor)
        if dry_run:
            importer.run(write=False)
        else:
            try:
                with transaction.atomic():
                    importer.run(write=True)
            except DatabaseError as error:
                # Only a concurrent write can get here (everything was validated and diffed first).
                raise CatalogError(f"The catalog changed during the import; nothing was written ({error}).") from None
    finally:
        if collecting:
            gc.enable()
    return report


_Checked = tuple[list[DocumentResult], list[_Entity], int]  # results, valid entities, documents read
# A file this large is parsed and validated in two halves at once, one in a forked process: on the
# 10k-service file (4.4 MB) parsing was the largest part of the import, and machines have 2+ cores.
PARALLEL_BYTES = 1_000_000
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)


def _read(files: list[Path], folder: Path | None, given: str, report: ImportReport) -> list[_Entity]:
    """Parse and validate every document, file by file; only the reduced entities are kept."""
    entities: list[_Entity] = []
    ref_cache: dict[tuple[str, str | None], EntityRef | str] = {}
    for file in files:
        label = str(file.relative_to(folder)) if folder else given
        try:
            results, valid, _ = _check_file(file, label, ref_cache)
        except ValueError as error:
            report.file_errors.append({"file": label, "error": str(error)})
            continue
        report.files_read += 1
        report.documents.extend(results)
        entities.extend(valid)
    return entities


def _check_text(text: str, label: str, ref_cache: dict[tuple[str, str | None], EntityRef | str]) -> _Checked:
    """Parse and validate one YAML stream; raises ValueError when it is not YAML."""
    documents = _parse_text(text)
    results: list[DocumentResult] = []
    entities: list[_Entity] = []
    for index, document in enumerate(documents, start=1):
        if document is None:
            continue  # an empty document (a stray `---`, a comment-only header): nothing to say
        result = DocumentResult(file=label, index=index)
        results.append(result)
        entity = _validate(document, result, ref_cache)
        if entity is not None:
            entities.append(entity)
    return results, entities, len(documents)


def _check_file(path: Path, label: str, ref_cache: dict[tuple[str, str | None], EntityRef | str]) -> _Checked:
    text = _read_text(path)
    if len(text) >= PARALLEL_BYTES:
        checked = _check_halves(text, label, ref_cache)
        if checked is not None:
            return checked
    return _check_text(text, label, ref_cache)


def _check_halves(text: str, label: str,
                  ref_cache: dict[tuple[str, str | None], EntityRef | str]) -> _Checked | None:
    """_check_text on the two halves of a stream at once, or None to do it the plain way.

    The cut is a document start (`---` at the start of a line, which ends any scalar in YAML);
    a stream with directives, a single core, or any error in either half goes the plain way, so
    what is reported never depends on the cut.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    match = _DOCUMENT_START.search(text, len(text) // 2)
    if cpus < 2 or match is None or re.search(r"^%", text, re.MULTILINE):
        return None
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        return None
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_check_in_child, args=(text[match.start():], label, ref_cache, sender),
                            daemon=True)
    child.start()
    sender.close()
    try:
        try:
            first: _Checked | None = _check_text(text[:match.start()], label, ref_cache)
        except ValueError:
            first = None
        try:
            second: _Checked | None = receiver.recv()
        except (EOFError, OSError):
            second = None
    finally:
        receiver.close()
        child.join()
    if first is None or second is None:
        return None
    for result in second[0]:
        result.index += first[2]
    return first[0] + second[0], first[1] + second[1], first[2] + second[2]


def _check_in_child(text: str, label: str, ref_cache: dict[tuple[str, str | None], EntityRef | str],
                    sender: Any) -> None:
    try:
        checked: _Checked | None = _check_text(text, label, ref_cache)
    except Exception:  # noqa: BLE001 - the parent redoes the whole file and reports any error itself
        checked = None
    sender.send(checked)
    sender.close()


def _chunks(values: Iterable[Any], size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _row_defaults(model: type[models.Model], now: Any) -> dict[str, Any]:
    """Every column of a new row of `model`: the fields' defaults, with its timestamps set to `now`."""
    row: dict[str, Any] = {}
    for field_ in model._meta.concrete_fields:
        if not field_.primary_key and not field_.generated:  # the database computes generated columns
            stamped = getattr(field_, "auto_now", False) or getattr(field_, "auto_now_add", False)
            row[field_.attname] = now if stamped else field_.get_default()
    return row


def _adapters(model: type[models.Model]) -> dict[str, tuple[str, Callable[[Any], Any] | None]]:
    """attname -> (column, how Django adapts a value of it for this database, or None as is)."""
    ops = connection.ops
    adapters: dict[str, tuple[str, Callable[[Any], Any] | None]] = {}
    for field_ in model._meta.concrete_fields:
        adapt: Callable[[Any], Any] | None = None
        if isinstance(field_, models.JSONField):
            adapt = functools.partial(ops.adapt_json_value, encoder=field_.encoder)
        elif isinstance(field_, models.DateTimeField):
            adapt = functools.lru_cache(maxsize=4)(ops.adapt_datetimefield_value)  # rows share one `now`
        adapters[field_.attname] = (field_.column, adapt)
    return adapters


def _execute_many(model: type[models.Model], sql_for: Callable[[list[str]], str], rows: list[dict[str, Any]],
                  names: list[str]) -> None:
    adapters = _adapters(model)
    converted = [(index, adapters[name][1]) for index, name in enumerate(names) if adapters[name][1] is not None]
    sql = sql_for([connection.ops.quote_name(adapters[name][0]) for name in names])
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, BATCH_SIZE):
            params = []
            for row in chunk:
                values = [row[name] for name in names]
                for index, convert in converted:
                    values[index] = convert(values[index])
                params.append(values)
            cursor.executemany(sql, params)


def _insert(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """INSERT rows (dicts of attname -> value): COPY on PostgreSQL, executemany elsewhere.

    Measured on the 10k-service import: bulk_create's per-value ORM work (model instances, field
    preparation, SQL assembly) took most of the time, and on PostgreSQL a pipelined executemany
    still quoted every value in Python; these write the same rows, with Django's own value
    adapters, several times faster. Bulk writes send no signals either way.
    """
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = list(rows[0])
    if connection.vendor == "postgresql":
        adapters = _adapters(model)
        columns = ", ".join(connection.ops.quote_name(adapters[name][0]) for name in names)
        converted = [(index, adapters[name][1]) for index, name in enumerate(names) if adapters[name][1]]
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = [row[name] for name in names]
                for index, convert in converted:
                    values[index] = convert(values[index])
                copy.write_row(values)
        return
    # Identifiers come from the model's metadata, quoted; every value is a query parameter.
    _execute_many(model, lambda columns: (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                                          f"VALUES ({', '.join(['%s'] * len(columns))})"), rows, names)


def _update(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """UPDATE rows by primary key (`id` plus the columns to set), one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(name for name in row if name != "id"))].append(row)
    table = connection.ops.quote_name(model._meta.db_table)

    def sql_for(columns: list[str]) -> str:
        # Identifiers come from the model's metadata, quoted; every value is a query parameter.
        return f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns[:-1])} WHERE {columns[-1]} = %s"  # noqa: S608

    for names, group in groups.items():
        _execute_many(model, sql_for, group, [*names, "id"])


def _delete(model: type[models.Model], ids: list[int]) -> None:
    """DELETE rows by primary key (rows nothing else refers to: memberships, dependencies)."""
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({placeholders})", chunk)  # noqa: S608


def _ids(model: type[models.Model], column: str, values: Iterable[str]) -> dict[str, int]:
    """The primary keys of rows just inserted, by their natural key."""
    found: dict[str, int] = {}
    for chunk in _chunks(values):
        found.update(model.objects.filter(**{f"{column}__in": chunk}).values_list(column, "id"))
    return found


@dataclass
class _Planned:
    """One row to create or update, with the changes the audit event and the report record."""

    key: str
    entity: _Entity | None  # None for a team or user declared by the import
    existing: dict[str, Any] | None  # the row as loaded, None when it is to be created
    values: dict[str, Any]
    changes: dict[str, Any]


TEAM_COLUMNS = ("id", "slug", "parent_id", "name", "description", "email", "chat_channel", "github_team_slug",
                "team_type", "annotations", "declared_by_import")
SERVICE_COLUMNS = ("id", "slug", "name", "description", "type", "lifecycle", "tags", "links", "annotations",
                   "repository", "owner_team_id", "owner_user_id", "system_id")


class _Importer:
    """One import: resolves references, diffs against the catalog, then writes the differences in bulk.

    Rows are read as dicts (values()), compared in memory and written with executemany: a fixed
    handful of queries per table whatever the size of the input.
    """

    def __init__(self, entities: list[_Entity], report: ImportReport, *, strict: bool, actor: Any) -> None:
        self.report = report
        self.strict = strict
        self.actor = actor
        self.now = timezone.now()
        self.entities: dict[str, dict[str, _Entity]] = {kind: {} for kind in MODELLED_KINDS}
        self.declared_teams: dict[str, str] = {}  # key -> name as written
        self.declared_users: dict[str, str] = {}
        self.audit: list[tuple[str, str, str, dict[str, Any]]] = []  # action, object type, key, changes
        for entity in entities:
            self._index(entity)

    def _index(self, entity: _Entity) -> None:
        bucket = self.entities[entity.kind]
        other = bucket.get(entity.key)
        if other is None:
            bucket[entity.key] = entity
            return
        where = other.result.location
        if other.namespace != entity.namespace:
            entity.result.skip(f"{entity.kind} '{other.name}' of namespace '{other.namespace}' is already "
                               f"defined at {where}, and Slipway has one namespace")
        elif other.name.lower() != entity.name.lower():
            entity.result.fail(f"'{entity.name}' and '{other.name}' ({where}) would both be service '{entity.key}'")
        else:
            entity.result.fail(f"{entity.kind} '{entity.name}' is already defined at {where}")

    def run(self, *, write: bool) -> None:
        self._load()
        if self.strict:
            self._refuse_unresolved()
        self._resolve()
        self._plan_teams()
        self._plan_users()
        self._plan_memberships()
        self._plan_groupings()
        self._plan_services()
        self.report.declared_teams = sorted(self.declared_teams.values(), key=str.lower)
        self.report.declared_users = sorted(self.declared_users.values(), key=str.lower)
        if write:
            self._apply()

    # -- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        """The rows the import touches, in a few queries whatever the input's size."""
        self.teams: dict[str, dict[str, Any]] = {row["slug"]: row for row in Team.objects.values(*TEAM_COLUMNS)}
        self.team_slug = {row["id"]: slug for slug, row in self.teams.items()}
        self.systems: dict[str, dict[str, Any]] = {
            row["slug"]: row for row in System.objects.values("id", "slug", "name", "description", "owner_id",
                                                              "domain_id")}
        self.system_slug = {row["id"]: slug for slug, row in self.systems.items()}
        self.domains: dict[str, dict[str, Any]] = {
            row["slug"]: row for row in Domain.objects.values("id", "slug", "name", "description", "owner_id")}
        self.domain_slug = {row["id"]: slug for slug, row in self.domains.items()}

        components = self.entities["Component"]
        wanted_users = set(self.entities["User"])
        for entity in components.values():
            owner = entity.refs["owner"]
            if owner.ref.kind == "user":
                wanted_users.add(owner.ref.name)
        for entity in self.entities["Group"].values():
            wanted_users.update(member.ref.name for member in entity.refs["members"])
        self.users: dict[str, dict[str, Any]] = {}
        self._load_users(lower_name__in=sorted(wanted_users))
        self.profiles: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(sorted(row["id"] for row in self.users.values())):
            for row in Profile.objects.filter(user_id__in=chunk).values("id", "user_id", "display_name", "picture",
                                                                        "declared_by_import"):
                self.profiles[row["user_id"]] = row

        targets = {component_slug(dep.ref.name) for entity in components.values()
                   for dep in entity.refs["depends_on"] if dep.ref.kind == "component"}
        self.services: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(components) | targets)):
            for row in Service.objects.filter(slug__in=chunk).order_by().values(*SERVICE_COLUMNS):
                self.services[row["slug"]] = row
        for key, entity in list(components.items()):
            row = self.services.get(key)
            held_by = (row["annotations"] or {}).get(NAME_ANNOTATION, row["slug"]) if row else entity.name
            if held_by.lower() != entity.name.lower():
                entity.result.fail(f"service '{key}' is already in the catalog as Component '{held_by}'")
                del components[key]
        owner_ids = {row["owner_user_id"] for row in self.services.values() if row["owner_user_id"]}
        self._load_users(id__in=sorted(owner_ids - {row["id"] for row in self.users.values()}))

        self.dependencies: dict[int, dict[str, tuple[int, int | None]]] = defaultdict(dict)
        existing_ids = [self.services[key]["id"] for key in components if key in self.services]
        for chunk in _chunks(existing_ids):
            rows = ServiceDependency.objects.filter(service_id__in=chunk).values_list(
                "id", "service_id", "target_ref", "target_id")
            for row_id, service_id, target_ref, target_id in rows:
                self.dependencies[service_id][target_ref] = (row_id, target_id)

        described_ids = [self.users[key]["id"] for key in self.entities["User"] if key in self.users]
        listing_ids = [self.teams[key]["id"] for key, entity in self.entities["Group"].items()
                       if key in self.teams and entity.refs["has_members"]]
        membership_rows: list[tuple[int, int, int]] = []
        for column, ids in (("user_id", described_ids), ("team_id", listing_ids)):
            for chunk in _chunks(ids):
                membership_rows.extend(Membership.objects.filter(**{f"{column}__in": chunk})
                                       .values_list("id", "user_id", "team_id"))
        self._load_users(id__in=sorted({user_id for _, user_id, _ in membership_rows} - set(self.user_key)))
        self.memberships: dict[tuple[str, str], int] = {  # (user key, team slug) -> row id
            (self.user_key[user_id], self.team_slug[team_id]): row_id for row_id, user_id, team_id in membership_rows}

    def _load_users(self, **lookup: list[Any]) -> None:
        """Users by lower-case name or id; the first of two names that differ only in case wins."""
        ((name, values),) = lookup.items()
        for chunk in _chunks(values):
            query = (User.objects.annotate(lower_name=Lower("username")).filter(**{name: chunk})
                     .order_by("pk").values("id", "username", "email", "lower_name"))
            for row in query:
                self.users.setdefault(row["lower_name"], row)
        self.user_key = {row["id"]: key for key, row in self.users.items()}

    # -- resolving references --------------------------------------------------------------------

    def _known(self, ref: _Ref) -> bool:
        kind, key = ref.ref.kind, ref.ref.name
        if kind == "group":
            return key in self.entities["Group"] or key in self.teams
        if kind == "user":
            return key in self.entities["User"] or key in self.users
        if kind == "system":
            return key in self.entities["System"] or key in self.systems
        if kind == "domain":
            return key in self.entities["Domain"] or key in self.domains
        return True

    def _references(self, entity: _Entity) -> Iterator[_Ref]:
        """The references an import must resolve (dependsOn is kept as a reference, never refused)."""
        for name, value in entity.refs.items():
            if name in ("depends_on", "has_members") or value is None:
                continue
            for ref in value if isinstance(value, list) else [value]:
                # A system's or domain's owner must be a team here: a user owner is not kept, so not needed.
                if not (entity.kind in ("System", "Domain") and ref.ref.kind == "user"):
                    yield ref

    def _refuse_unresolved(self) -> None:
        """--strict: refuse documents naming what is neither in the catalog nor in the input."""
        refused = True
        while refused:  # refusing one document can leave others naming it unresolved
            refused = False
            for bucket in self.entities.values():
                for key, entity in list(bucket.items()):
                    missing = [ref for ref in self._references(entity) if not self._known(ref)]
                    if missing:
                        entity.result.fail(*(f"{ref.path} {_show(ref.text)} names a {ref.ref.kind} that is "
                                             "neither in the catalog nor in this import (--strict)" for ref in missing))
                        del bucket[key]
                        refused = True

    def _team(self, ref: _Ref, entity: _Entity, role: str) -> str:
        key = ref.ref.name
        if key not in self.entities["Group"] and key not in self.teams and key not in self.declared_teams:
            self.declared_teams[key] = ref.written
        if key in self.declared_teams:
            entity.declared.setdefault(f"{role} team", []).append(ref.written)
        return key

    def _user(self, ref: _Ref, entity: _Entity, role: str) -> str:
        key = ref.ref.name
        if key not in self.entities["User"] and key not in self.users and key not in self.declared_users:
            self.declared_users[key] = ref.written
        if key in self.declared_users:
            entity.declared.setdefault(f"{role} user", []).append(ref.written)
        return key

    def _grouping(self, ref: _Ref | None, entity: _Entity) -> str | None:
        if ref is None:
            return None
        if self._known(ref):
            return ref.ref.name
        entity.result.note(f"{ref.ref.kind} '{ref.written}' is not in the catalog: not kept")
        return None

    def _resolve(self) -> None:
        for entity in self.entities["Group"].values():
            refs = entity.refs
            entity.resolved = {
                "parent": self._team(refs["parent"], entity, "parent") if refs["parent"] else None,
                "children": [self._team(child, entity, "child") for child in refs["children"]],
                "members": [self._user(member, entity, "member") for member in refs["members"]],
            }
        for entity in self.entities["User"].values():
            entity.resolved = {"member_of": [self._team(team, entity, "group") for team in entity.refs["member_of"]]}
        for kind in ("Domain", "System"):
            for entity in self.entities[kind].values():
                owner = entity.refs["owner"]
                if owner.ref.kind == "user":
                    entity.result.note(f"owner 'user:{owner.written}' not kept (a {kind.lower()}'s owner is a team)")
                    team = None
                else:
                    team = self._team(owner, entity, "owner")
                entity.resolved = {"owner": team}
                if kind == "System":
                    entity.resolved["domain"] = self._grouping(entity.refs["domain"], entity)
        for entity in self.entities["Component"].values():
            owner = entity.refs["owner"]
            entity.resolved = {
                "owner": ("team", self._team(owner, entity, "owner")) if owner.ref.kind == "group"
                else ("user", self._user(owner, entity, "owner")),
                "system": self._grouping(entity.refs["system"], entity),
                "depends_on": [str(dep.ref) for dep in entity.refs["depends_on"]],
            }
        for bucket in self.entities.values():
            for entity in bucket.values():
                for role, names in entity.declared.items():
                    entity.result.note(f"{role}{'s' if len(names) > 1 else ''} {', '.join(names)} "
                                       f"not described anywhere: declared by this import")

    # -- planning ---------------------------------------------------------------------------------

    def _settle(self, planned: _Planned, object_type: str, action: str) -> None:
        """Record the outcome of one planned row in its document's result and in the audit trail."""
        result = planned.entity.result if planned.entity else None
        if planned.existing is None:
            if result:
                result.outcome = "created"
            self.audit.append((f"{action}.create", object_type, planned.key, planned.changes))
        elif planned.changes:
            if result:
                result.outcome = "updated"
                result.changes = sorted(planned.changes)
            self.audit.append((f"{action}.update", object_type, planned.key, planned.changes))
        elif result:
            result.outcome = "unchanged"

    @staticmethod
    def _diff(existing: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {name: [existing[name], value] for name, value in values.items() if existing[name] != value}

    def _plan_teams(self) -> None:
        # A parent is stated by the child (spec.parent) or by the parent (spec.children), often in
        # files imported separately: what this import says wins, and what it cannot see is kept.
        groups = self.entities["Group"]
        own_parent = {key: entity.resolved["parent"] for key, entity in groups.items()}
        from_children: dict[str, str] = {}
        for key, entity in groups.items():
            for child in entity.resolved["children"]:
                if child in groups or child in self.declared_teams:
                    current = own_parent.get(child)
                else:  # in the catalog, not described here
                    current = self.team_slug.get(self.teams[child]["parent_id"])
                if current in (None, key):
                    from_children.setdefault(child, key)
                else:
                    entity.result.note(f"child '{child}' has parent '{current}', which is kept")
        self.parents: dict[str, str | None] = {}
        for key in groups:
            kept = self.team_slug.get(self.teams[key]["parent_id"]) if key in self.teams else None
            if kept in groups:
                kept = None  # its group is in this import and does not list it: no longer a child
            self.parents[key] = own_parent[key] or from_children.get(key) or kept
        self.parents.update((key, from_children.get(key)) for key in self.declared_teams)
        self.parents.update((key, parent) for key, parent in from_children.items() if key not in self.parents)
        # No cycles: edges are added one by one, each refused if it would close a loop.
        current = {slug: self.team_slug.get(row["parent_id"]) for slug, row in self.teams.items()}
        current.update(dict.fromkeys(self.parents))
        for key, parent in self.parents.items():
            node, seen = parent, set()
            while node is not None and node != key and node not in seen:
                seen.add(node)
                node = current.get(node)
            if parent is not None and node == key:
                self.parents[key] = None
                if key in groups:
                    groups[key].result.note(f"parent '{parent}' not kept: it would make a cycle of teams")
            else:
                current[key] = parent

        self.team_plan: list[_Planned] = []
        for key, entity in groups.items():
            values = {k: v for k, v in entity.values.items() if not k.startswith("_")} | {"declared_by_import": False}
            row = self.teams.get(key)
            if row is None:
                changes = {k: v for k, v in values.items() if v not in ("", {}, False)}
                if self.parents[key]:
                    changes["parent"] = self.parents[key]
            else:
                changes = self._diff(row, values)
                old_parent = self.team_slug.get(row["parent_id"])
                if old_parent != self.parents[key]:
                    changes["parent"] = [old_parent, self.parents[key]]
            self.team_plan.append(_Planned(key, entity, row, values, changes))
        for key, written in self.declared_teams.items():
            changes = {"declared_by_import": True} | ({"parent": self.parents[key]} if self.parents[key] else {})
            self.team_plan.append(_Planned(key, None, None, {"name": written, "declared_by_import": True}, changes))
        for key, parent in self.parents.items():  # teams of the catalog that a group here lists as children
            row = self.teams.get(key)
            if key not in groups and row is not None and self.team_slug.get(row["parent_id"]) != parent:
                self.team_plan.append(_Planned(key, None, row, {}, {"parent": [self.team_slug.get(row["parent_id"]),
                                                                               parent]}))

    def _plan_users(self) -> None:
        self.user_plan: list[_Planned] = []
        for key, entity in self.entities["User"].items():
            row = self.users.get(key)
            profile = self.profiles.get(row["id"]) if row else None
            values = {"email": entity.values["email"], "display_name": entity.values["display_name"],
                      "picture": entity.values["picture"], "declared_by_import": False}
            profile_values = {k: v for k, v in values.items() if k != "email"}
            if row is None:
                changes = {k: v for k, v in values.items() if v not in ("", False)}
            else:
                changes = self._diff(row, {"email": values["email"]})
                changes |= ({k: [None, v] for k, v in profile_values.items()} if profile is None
                            else self._diff(profile, profile_values))
            self.user_plan.append(_Planned(key, entity, row, {"username": entity.name, **values}, changes))
        for key, written in self.declared_users.items():
            self.user_plan.append(_Planned(key, None, None, {"username": written, "email": "", "display_name": "",
                                                             "picture": "", "declared_by_import": True},
                                           {"declared_by_import": True}))

    def _plan_memberships(self) -> None:
        """A User document's memberOf is its whole list; a Group's members add to whatever else says so."""
        users, groups = self.entities["User"], self.entities["Group"]
        wanted = {key: set(entity.resolved["member_of"]) for key, entity in users.items()}
        listed: set[tuple[str, str]] = set()
        for team, entity in groups.items():
            for member in entity.resolved["members"]:
                listed.add((member, team))
                if member in wanted:
                    wanted[member].add(team)
        desired = listed | {(user, team) for user, teams in wanted.items() for team in teams}
        self.membership_adds = sorted(desired - set(self.memberships))
        self.membership_removes = sorted(pair for pair in self.memberships
                                         if pair[0] in wanted and pair[1] not in wanted[pair[0]])
        before_user: dict[str, set[str]] = defaultdict(set)
        before_team: dict[str, set[str]] = defaultdict(set)
        for user, team in self.memberships:
            before_user[user].add(team)
            before_team[team].add(user)
        after_team = {team: set(members) for team, members in before_team.items()}
        for user, team in self.membership_adds:
            after_team.setdefault(team, set()).add(user)
        for user, team in self.membership_removes:
            after_team[team].discard(user)
        for planned in self.team_plan:
            entity = planned.entity
            if entity is not None and entity.refs["has_members"]:
                before, after = before_team.get(planned.key, set()), after_team.get(planned.key, set())
                if before != after:
                    planned.changes["members"] = [sorted(before), sorted(after)] if planned.existing else sorted(after)
            self._settle(planned, "team", "team")
        for planned in self.user_plan:
            if planned.entity is not None and before_user[planned.key] != wanted[planned.key]:
                planned.changes["member_of"] = ([sorted(before_user[planned.key]), sorted(wanted[planned.key])]
                                                if planned.existing else sorted(wanted[planned.key]))
            self._settle(planned, "user", "person")

    def _plan_groupings(self) -> None:
        self.grouping_plan: dict[str, list[_Planned]] = {"Domain": [], "System": []}
        for kind, rows in (("Domain", self.domains), ("System", self.systems)):
            for key, entity in self.entities[kind].items():
                row = rows.get(key)
                values = dict(entity.values)
                relations = {"owner": entity.resolved["owner"]}
                if kind == "System":
                    relations["domain"] = entity.resolved["domain"]
                if row is None:
                    changes = {k: v for k, v in (values | relations).items() if v}
                else:
                    changes = self._diff(row, values)
                    old = {"owner": self.team_slug.get(row["owner_id"])}
                    if kind == "System":
                        old["domain"] = self.domain_slug.get(row["domain_id"])
                    changes |= {k: [old[k], v] for k, v in relations.items() if old[k] != v}
                planned = _Planned(key, entity, row, values | relations, changes)
                self.grouping_plan[kind].append(planned)
                self._settle(planned, kind.lower(), kind.lower())

    def _plan_services(self) -> None:
        components = self.entities["Component"]
        claims: dict[str, list[str]] = defaultdict(list)
        repositories: dict[str, str | None] = {}
        for key, entity in components.items():
            repository, note = _repository_of(entity.values["annotations"])
            if note:
                entity.result.note(note)
            if repository and len(repository) > 300:
                entity.result.note(f"repository '{repository[:60]}...' is longer than 300 characters: not kept")
                repository = None
            repositories[key] = repository
            if repository:
                claims[repository].append(key)
        holders = {row["repository"]: slug for slug, row in self.services.items() if row["repository"]}
        unknown = sorted(set(claims) - set(holders))
        for chunk in _chunks(unknown):
            holders.update(Service.objects.filter(repository__in=chunk).values_list("repository", "slug"))
        for repository, claimants in claims.items():
            # The holder keeps it; else the service named like the repository, else the first by slug:
            # the same winner whatever the order of the documents, so a round trip keeps it.
            holder = holders.get(repository)
            if holder is not None and (holder not in components or holder in claimants):
                winner = holder
            else:
                short = repository.rpartition("/")[2]
                winner = short if short in claimants else min(claimants)
            for key in claimants:
                if key != winner:
                    repositories[key] = None
                    components[key].result.note(f"repository '{repository}' belongs to service '{winner}': not kept")

        self.service_plan: list[_Planned] = []
        for key, entity in components.items():
            row = self.services.get(key)
            owner_kind, owner_key = entity.resolved["owner"]
            owner = owner_key if owner_kind == "team" else f"user:{self._username(owner_key)}"
            values = dict(entity.values) | {"repository": repositories[key]}
            relations = {"owner": owner, "system": entity.resolved["system"],
                         "depends_on": sorted(entity.resolved["depends_on"])}
            if row is None:
                changes = {k: v for k, v in (values | relations).items() if v not in ("", None, [], {})}
            else:
                changes = self._diff(row, values)
                old = {"owner": self._service_owner(row), "system": self.system_slug.get(row["system_id"]),
                       "depends_on": sorted(self.dependencies[row["id"]])}
                changes |= {k: [old[k], v] for k, v in relations.items() if old[k] != v}
            planned = _Planned(key, entity, row, values | relations, changes)
            self.service_plan.append(planned)
            self._settle(planned, "service", "service")

    def _username(self, key: str) -> str:
        """A person's username as the catalog has it, or as the import will create it."""
        if key in self.users:
            return self.users[key]["username"]
        if key in self.entities["User"]:
            return self.entities["User"][key].name
        return self.declared_users.get(key, key)

    def _service_owner(self, row: dict[str, Any]) -> str | None:
        if row["owner_team_id"]:
            return self.team_slug.get(row["owner_team_id"])
        key = self.user_key.get(row["owner_user_id"])
        return f"user:{self.users[key]['username'] if key else row['owner_user_id']}"

    # -- writing ----------------------------------------------------------------------------------

    def _apply(self) -> None:
        """Write every planned change in bulk; bulk writes send no signals, so the generation is bumped once."""
        wrote = self._apply_teams()
        wrote |= self._apply_users()
        wrote |= self._apply_memberships()
        wrote |= self._apply_groupings()
        wrote |= self._apply_services()
        if self.audit:
            self._apply_audit()
        if wrote:
            bump_generation()

    def _apply_teams(self) -> bool:
        defaults = _row_defaults(Team, self.now)
        new = [{**defaults, "slug": p.key, **p.values} for p in self.team_plan if p.existing is None]
        _insert(Team, new)
        self.team_ids = {slug: row["id"] for slug, row in self.teams.items()}
        self.team_ids.update(_ids(Team, "slug", [row["slug"] for row in new]))
        changed = []
        for planned in self.team_plan:
            names = set(planned.changes) - {"parent", "members"}
            if planned.existing is not None and names:
                changed.append({"id": planned.existing["id"], "updated_at": self.now,
                                **{name: planned.values[name] for name in names}})
        _update(Team, changed)
        reparented = []
        for key, parent in self.parents.items():
            old = self.teams[key]["parent_id"] if key in self.teams else None
            new_parent = self.team_ids[parent] if parent else None
            if old != new_parent:
                reparented.append({"id": self.team_ids[key], "parent_id": new_parent})
        _update(Team, reparented)
        return bool(new or changed or reparented)

    def _apply_users(self) -> bool:
        defaults = _row_defaults(User, self.now)
        # An unusable password, made without hashing (people imported here sign in another way):
        # what make_password(None) stores, at a fraction of its cost for thousands of users.
        new = [{**defaults, "username": p.values["username"], "email": p.values["email"],
                "password": UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)}
               for p in self.user_plan if p.existing is None]
        _insert(User, new)
        self.user_ids = {key: row["id"] for key, row in self.users.items()}
        self.user_ids.update((name.lower(), pk) for name, pk in _ids(User, "username", [r["username"] for r in new]).items())
        _update(User, [{"id": p.existing["id"], "email": p.values["email"]}
                       for p in self.user_plan if p.existing is not None and "email" in p.changes])
        profile_fields = ("display_name", "picture", "declared_by_import")
        defaults = _row_defaults(Profile, self.now)
        new_profiles, changed_profiles = [], []
        for planned in self.user_plan:
            user_id = self.user_ids[planned.key]
            values = {name: planned.values[name] for name in profile_fields}
            profile = self.profiles.get(user_id)
            if profile is None and (planned.existing is None or planned.entity is not None):
                new_profiles.append({**defaults, "user_id": user_id, **values})
            elif profile is not None and set(planned.changes) & set(profile_fields):
                changed_profiles.append({"id": profile["id"], **values})
        _insert(Profile, new_profiles)
        _update(Profile, changed_profiles)
        return bool(new or new_profiles or changed_profiles or any(
            p.existing is not None and "email" in p.changes for p in self.user_plan))

    def _apply_memberships(self) -> bool:
        _delete(Membership, [self.memberships[pair] for pair in self.membership_removes])
        defaults = _row_defaults(Membership, self.now)
        _insert(Membership, [{**defaults, "user_id": self.user_ids[user], "team_id": self.team_ids[team],
                              "role": Membership.Role.MEMBER.value} for user, team in self.membership_adds])
        return bool(self.membership_adds or self.membership_removes)

    def _apply_groupings(self) -> bool:
        self.domain_ids = {slug: row["id"] for slug, row in self.domains.items()}
        self.system_ids = {slug: row["id"] for slug, row in self.systems.items()}
        wrote = False
        for kind, model, ids in (("Domain", Domain, self.domain_ids), ("System", System, self.system_ids)):
            defaults = _row_defaults(model, self.now)
            new, changed = [], []
            for planned in self.grouping_plan[kind]:
                values = {"name": planned.values["name"], "description": planned.values["description"],
                          "owner_id": self.team_ids[planned.values["owner"]] if planned.values["owner"] else None}
                if kind == "System":
                    domain = planned.values["domain"]
                    values["domain_id"] = self.domain_ids[domain] if domain else None
                if planned.existing is None:
                    new.append({**defaults, "slug": planned.key, **values})
                elif planned.changes:
                    changed.append({"id": planned.existing["id"], **values})
            _insert(model, new)
            ids.update(_ids(model, "slug", [row["slug"] for row in new]))
            _update(model, changed)
            wrote |= bool(new or changed)
        return wrote

    def _apply_services(self) -> bool:
        # A repository moving between services is released first: the column is unique.
        released = [{"id": p.existing["id"], "repository": None} for p in self.service_plan
                    if p.existing is not None and "repository" in p.changes and p.existing["repository"]]
        _update(Service, released)
        defaults = _row_defaults(Service, self.now)
        fields = ("name", "description", "type", "lifecycle", "tags", "links", "annotations", "repository")
        new, changed = [], []
        for planned in self.service_plan:
            owner_kind, owner_key = planned.entity.resolved["owner"]
            system = planned.values["system"]
            values = {name: planned.values[name] for name in fields} | {
                "owner_team_id": self.team_ids[owner_key] if owner_kind == "team" else None,
                "owner_user_id": self.user_ids[owner_key] if owner_kind == "user" else None,
                "system_id": self.system_ids[system] if system else None,
            }
            if planned.existing is None:
                new.append({**defaults, "slug": planned.key, **values})
            elif set(planned.changes) - {"depends_on"}:
                changed.append({"id": planned.existing["id"], "updated_at": self.now, **values})
        _insert(Service, new)
        self.service_ids = {slug: row["id"] for slug, row in self.services.items()}
        self.service_ids.update(_ids(Service, "slug", [row["slug"] for row in new]))
        _update(Service, changed)
        return self._apply_dependencies() or bool(new or changed or released)

    def _apply_dependencies(self) -> bool:
        """Each imported service's dependsOn becomes its dependencies; targets link when they exist."""
        service_ids = self.service_ids

        def target_of(target_ref: str) -> int | None:
            kind, _, rest = target_ref.partition(":")
            return service_ids.get(component_slug(rest.rpartition("/")[2])) if kind == "component" else None

        removed: list[int] = []
        new: list[dict[str, Any]] = []
        relinked: dict[int, int] = {}
        for planned in self.service_plan:
            service_id = service_ids[planned.key]
            rows = self.dependencies.get(service_id, {})
            wanted = planned.entity.resolved["depends_on"]
            removed.extend(row_id for target_ref, (row_id, _) in rows.items() if target_ref not in wanted)
            for target_ref in wanted:
                target = target_of(target_ref)
                if target_ref not in rows:
                    new.append({"service_id": service_id, "target_ref": target_ref, "target_id": target})
                elif target is not None and rows[target_ref][1] != target:
                    relinked[rows[target_ref][0]] = target
        _delete(ServiceDependency, removed)
        _insert(ServiceDependency, new)
        # Dependencies recorded before their target existed (by this import or an earlier one) link now.
        pending = list(ServiceDependency.objects.filter(target__isnull=True, target_ref__startswith="component:")
                       .values_list("pk", "target_ref"))
        unknown = {component_slug(ref.rpartition("/")[2]) for _, ref in pending} - set(service_ids)
        service_ids = dict(service_ids)
        for chunk in _chunks(sorted(unknown)):
            service_ids.update(Service.objects.filter(slug__in=chunk).values_list("slug", "pk"))
        for pk, target_ref in pending:
            target = target_of(target_ref)
            if target is not None:
                relinked[pk] = target
        _update(ServiceDependency, [{"id": pk, "target_id": target} for pk, target in relinked.items()])
        return bool(removed or new or relinked)

    def _apply_audit(self) -> None:
        """One event per created or updated row, as audit_record writes them, inserted in bulk."""
        context = current_context()
        is_user = self.actor is not None and getattr(self.actor, "is_authenticated", False)
        ids = {"team": self.team_ids, "user": self.user_ids, "domain": self.domain_ids, "system": self.system_ids,
               "service": self.service_ids}
        defaults = _row_defaults(AuditEvent, self.now) | {
            "actor_id": self.actor.pk if is_user else None,
            "actor_name": self.actor.get_username() if is_user else "system",
            "source": context.source, "request_id": context.request_id,
        }
        _insert(AuditEvent, [
            {**defaults, "action": action, "object_type": object_type, "object_id": str(ids[object_type][key]),
             "object_repr": (self._username(key) if object_type == "user" else key)[:300], "changes": changes}
            for action, object_type, key, changes in self.audit
        ])


# ---------------------------------------------------------------------------------------------
# Exporting.


@dataclass
class CatalogExport:
    """The catalog as Backstage entities, and what could not be written as Backstage expects it."""

    documents: list[dict[str, Any]]
    warnings: list[str]

    def dump(self) -> str:
        """The documents as one multi-document YAML text."""
        return descriptors_dump(self.documents)


def descriptors_dump(documents: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML; strings YAML 1.1 would read as booleans or dates are quoted."""
    return yaml.dump_all(documents, Dumper=_BaseDumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=120)


def _entity(kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSIONS[0], "kind": kind,
            "metadata": {k: v for k, v in metadata.items() if v not in (None, "", [], {})}, "spec": spec}


def _title(display: str, name: str) -> str | None:
    return display if display and display != name else None


def catalog_export(*, include_declared: bool = False) -> CatalogExport:
    """The catalog as Backstage descriptors: Domains, Systems, Groups, Users, then Components.

    Teams and people that an import only declared (named, never described) are left out unless
    `include_declared`: importing the export declares them again from the references.
    """
    warnings: list[str] = []
    teams = list(Team.objects.order_by("slug"))
    team_names = {team.pk: (team.annotations or {}).get(NAME_ANNOTATION) or team.slug for team in teams}

    def group_ref(team_id: int) -> str:
        return f"group:default/{team_names[team_id]}"

    profiles = {profile.user_id: profile for profile in Profile.objects.all()}
    memberships = list(Membership.objects.values_list("team_id", "user_id"))
    service_rows = list(Service.objects.order_by("slug"))
    user_ids = set(profiles) | {user_id for _, user_id in memberships} | {
        s.owner_user_id for s in service_rows if s.owner_user_id}
    users: dict[int, Any] = {}
    for chunk in _chunks(sorted(user_ids)):
        users.update((user.pk, user) for user in User.objects.filter(pk__in=chunk))

    def user_ref(user_id: int) -> str:
        return f"user:default/{users[user_id].get_username()}"

    documents: list[dict[str, Any]] = []
    for domain in Domain.objects.order_by("slug"):
        name = domain.slug  # the original case of a name is not kept; references ignore case
        spec: dict[str, Any] = {}
        if domain.owner_id:
            spec["owner"] = group_ref(domain.owner_id)
        else:
            warnings.append(f"Domain '{domain.slug}' has no owner team; Backstage requires spec.owner.")
        documents.append(_entity("Domain", {"name": name, "title": _title(domain.name, name),
                                            "description": domain.description}, spec))
    domain_slugs = dict(Domain.objects.values_list("pk", "slug"))
    for system in System.objects.order_by("slug"):
        name = system.slug  # the original case of a name is not kept; references ignore case
        spec = {}
        if system.owner_id:
            spec["owner"] = group_ref(system.owner_id)
        else:
            warnings.append(f"System '{system.slug}' has no owner team; Backstage requires spec.owner.")
        if system.domain_id:
            spec["domain"] = f"domain:default/{domain_slugs[system.domain_id]}"
        documents.append(_entity("System", {"name": name, "title": _title(system.name, name),
                                            "description": system.description}, spec))

    members: dict[int, list[int]] = defaultdict(list)
    member_of: dict[int, list[int]] = defaultdict(list)
    for team_id, user_id in memberships:
        members[team_id].append(user_id)
        member_of[user_id].append(team_id)
    children: dict[int, list[int]] = defaultdict(list)
    for team in teams:
        if team.parent_id:
            children[team.parent_id].append(team.pk)
    for team in teams:
        if team.declared_by_import and not include_declared:
            continue
        name = team_names[team.pk]
        if not is_valid_name(name):
            warnings.append(f"Team '{team.slug}' is not a valid Backstage name: not exported.")
            continue
        annotations = {k: v for k, v in (team.annotations or {}).items() if k != NAME_ANNOTATION}
        if team.chat_channel and not any(annotations.get(key) for key in CHAT_ANNOTATIONS):
            annotations[CHAT_ANNOTATIONS[0]] = team.chat_channel
        if team.github_team_slug and TEAM_SLUG_ANNOTATION not in annotations and settings.SLIPWAY_GITHUB_ORG:
            annotations[TEAM_SLUG_ANNOTATION] = f"{settings.SLIPWAY_GITHUB_ORG}/{team.github_team_slug}"
        profile = {k: v for k, v in (("displayName", _title(team.name, name)), ("email", team.email)) if v}
        spec = {"type": team.team_type or "team"}
        if profile:
            spec["profile"] = profile
        if team.parent_id:
            spec["parent"] = group_ref(team.parent_id)
        spec["children"] = sorted(group_ref(child) for child in children[team.pk])
        if members[team.pk]:
            spec["members"] = sorted(user_ref(user_id) for user_id in members[team.pk])
        documents.append(_entity("Group", {"name": name, "description": team.description,
                                           "annotations": annotations}, spec))

    for user_id in sorted(users, key=lambda pk: users[pk].get_username().lower()):
        user, profile = users[user_id], profiles.get(user_id)
        described = (profile is not None and (include_declared or not profile.declared_by_import)) or (
            profile is None and user_id in member_of)
        if not described:
            continue
        if not is_valid_name(user.get_username()):
            warnings.append(f"User '{user.get_username()}' is not a valid Backstage name: not exported.")
            continue
        user_profile = {k: v for k, v in (("displayName", profile.display_name if profile else ""),
                                          ("email", user.email), ("picture", profile.picture if profile else "")) if v}
        spec = {"profile": user_profile} if user_profile else {}
        spec["memberOf"] = sorted(group_ref(team_id) for team_id in member_of[user_id])
        documents.append(_entity("User", {"name": user.get_username()}, spec))

    dependencies: dict[int, list[str]] = defaultdict(list)
    for service_id, target_ref in ServiceDependency.objects.order_by("target_ref").values_list(
            "service_id", "target_ref"):
        dependencies[service_id].append(target_ref)
    system_slugs = dict(System.objects.values_list("pk", "slug"))
    for service in service_rows:
        annotations = dict(service.annotations or {})
        name = annotations.pop(NAME_ANNOTATION, None) or service.slug
        if service.repository and PROJECT_SLUG_ANNOTATION not in annotations \
                and SOURCE_LOCATION_ANNOTATION not in annotations:
            host, _, repository_path = service.repository.partition("/")
            if host == settings.SLIPWAY_DEFAULT_GIT_HOST:
                annotations[PROJECT_SLUG_ANNOTATION] = repository_path
            else:
                annotations[SOURCE_LOCATION_ANNOTATION] = f"url:https://{service.repository}"
        # Backstage requires type and lifecycle; Slipway allows them blank.
        spec = {"type": service.type or "unknown", "lifecycle": service.lifecycle or "unknown",
                "owner": group_ref(service.owner_team_id) if service.owner_team_id else user_ref(service.owner_user_id)}
        if service.system_id:
            spec["system"] = f"system:default/{system_slugs[service.system_id]}"
        if dependencies[service.pk]:
            spec["dependsOn"] = dependencies[service.pk]
        documents.append(_entity("Component", {
            "name": name, "title": _title(service.name, name), "description": service.description,
            "tags": list(service.tags or []), "links": list(service.links or []), "annotations": annotations,
        }, spec))
    return CatalogExport(documents=documents, warnings=warnings)
