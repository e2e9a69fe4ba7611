"""Validating one document by Backstage's own rules, before anything is written."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings

from services.catalog.refs import QUOTE_LIMIT, EntityRef, is_valid_name, near_miss, parse_entity_ref, quote
from services.descriptors.parse import (
    API_VERSIONS,
    CHAT_ANNOTATIONS,
    DNS_LABEL,
    KEPT_METADATA,
    KEPT_PROFILE,
    KEPT_SPEC,
    KIND,
    LINK_FIELDS,
    MODELLED_KINDS,
    NAME_ANNOTATION,
    OBJECT_NAME,
    PROJECT_SLUG_ANNOTATION,
    ROOT_FIELDS,
    SOURCE_LOCATION_ANNOTATION,
    TAG,
    TEAM_SLUG_ANNOTATION,
    URL,
    component_slug,
)
from services.descriptors.report import DocumentResult
from services.errors import InvalidInput
from services.hosts.repository_keys import normalize_repository
from services.models.catalog import WELL_KNOWN_LIFECYCLES, WELL_KNOWN_TYPES

# ---------------------------------------------------------------------------------------------
# Validating one document.


class Ref(NamedTuple):
    ref: EntityRef
    written: str  # the name as the document wrote it (case kept), for entities declared from it
    path: str  # the field it came from, for messages
    text: str  # the reference as written


@dataclass(slots=True)  # one per document of an import: 126,200 of them in a 100,000-service catalog
class Entity:
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


_FIELD_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")
_MOST_NAMED = 10  # names in one message; the rest are counted
MOST_PROBLEMS = 20  # problems listed for one document (a list of 100,000 bad tags is one more line)


def listing(names: list[str]) -> str:
    """Names or field paths for a message (`spec.x, metadata.y`): an odd or long one quoted, at most ten."""
    shown = [name if len(name) <= QUOTE_LIMIT and _FIELD_NAME.match(name) else quote(name)
             for name in names[:_MOST_NAMED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


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


@functools.lru_cache(maxsize=4096)
def _item_path(path: str, index: int) -> str:
    """`path[index]`, one string for all the documents that keep it (in their Refs)."""
    return f"{path}[{index}]"


def _written_name(text: str) -> str:
    """The name part of a reference as written (`group:default/Team-A` -> `Team-A`)."""
    rest = text.strip().partition(":")[2] if ":" in text else text.strip()
    return rest.rpartition("/")[2]


def _valid_prefixed(value: str, suffix: re.Pattern[str]) -> bool:
    """Backstage's `prefix/suffix` rule for annotation and label keys."""
    parts = value.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not (0 < len(prefix) <= 253 and all(DNS_LABEL.match(p) and len(p) <= 63 for p in prefix.split("."))):
            return False
    elif len(parts) == 1:
        name = parts[0]
    else:
        return False
    return 0 < len(name) <= 63 and bool(suffix.match(name))


class _Checks:
    """Reads the typed fields of one document, collecting every problem rather than stopping at the first."""

    def __init__(self, ref_cache: dict[tuple[str, ...], Any]) -> None:
        self.problems: list[str] = []
        self.unlisted = 0  # problems past MOST_PROBLEMS, counted
        self.ref_cache = ref_cache

    def fail(self, message: str) -> None:
        if len(self.problems) < MOST_PROBLEMS:
            self.problems.append(message)
        else:
            self.unlisted += 1

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
            self.fail(f"{path} must be a string, not {_type_name(value)} ({quote(value)})")
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
            self.fail(f"{path} must be a list, not {_type_name(values)} ({quote(values)})")
            return []
        good: list[str] = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value:
                self.fail(f"{path}[{index}] must be a non-empty string, not {quote(value)}")
            else:
                good.append(value)
        return good

    def ref(self, text: str | None, path: str, *, default_kind: str | None,
            kinds: Sequence[str] | None) -> Ref | None:
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
            self.fail(f"{path} {quote(text)} must name a {' or a '.join(kinds)}, not a {ref.kind}")
            return None
        # One Ref per reference as written in each field (in the same cache, under a longer key): an
        # import keeps the Refs of every document, and the same owners recur in thousands of them.
        made = self.ref_cache.get((text, default_kind, path))
        if made is None:
            made = self.ref_cache[(text, default_kind, path)] = Ref(ref, _written_name(text), path, text)
        return made

    def refs(self, parent: dict[str, Any], key: str, path: str, *, default_kind: str | None,
             kinds: Sequence[str] | None, required: bool = False) -> list[Ref]:
        found: list[Ref] = []
        seen: set[EntityRef] = set()
        for index, text in enumerate(self.string_list(parent, key, path, required=required)):
            ref = self.ref(text, _item_path(path, index), default_kind=default_kind, kinds=kinds)
            if ref is not None and ref.ref not in seen:
                seen.add(ref.ref)
                found.append(ref)
        return found


def _check_metadata(checks: _Checks, metadata: dict[str, Any]) -> dict[str, Any]:
    """The common metadata fields, validated by Backstage's envelope and field-format rules."""
    name = checks.string(metadata, "name", "metadata.name", required=True)
    if name is not None and not is_valid_name(name):
        checks.fail(f"metadata.name {quote(name)} is not a valid entity name "
                    "(1-63 characters: letters and digits, separated by single - _ or .)")
        name = None
    namespace = checks.string(metadata, "namespace", "metadata.namespace") or "default"
    if not (len(namespace) <= 63 and DNS_LABEL.match(namespace)):
        checks.fail(f"metadata.namespace {quote(namespace)} is not a valid namespace "
                    "(lower-case letters and digits separated by -)")
    title = checks.string(metadata, "title", "metadata.title", max_length=200)
    description = checks.string(metadata, "description", "metadata.description", allow_empty=True)
    labels = checks.mapping(metadata, "labels", "metadata.labels")
    for key, value in labels.items():
        if not isinstance(key, str) or not _valid_prefixed(key, OBJECT_NAME):
            checks.fail(f"metadata.labels key {quote(key)} is not a valid label key")
        elif not (value == "" or (isinstance(value, str) and len(value) <= 63 and OBJECT_NAME.match(value))):
            checks.fail(f"metadata.labels.{key} {quote(value)} is not a valid label value")
    annotations = checks.mapping(metadata, "annotations", "metadata.annotations")
    for key, value in annotations.items():
        if not isinstance(key, str) or not _valid_prefixed(key, OBJECT_NAME):
            checks.fail(f"metadata.annotations key {quote(key)} is not a valid annotation key")
        elif not isinstance(value, str):
            checks.fail(f"metadata.annotations.{key} must be a string, not {_type_name(value)}")
    tags = checks.string_list(metadata, "tags", "metadata.tags")
    for index, tag in enumerate(tags):
        if len(tag) > 63 or not TAG.match(tag):
            checks.fail(f"metadata.tags[{index}] {quote(tag)} is not a valid tag "
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
            if url is not None and not URL.match(url):
                checks.fail(f"{path}.url {quote(url)} is not a URL")
            title_text = checks.string(link, "title", f"{path}.title")
            if title_text is not None and not title_text.strip():
                checks.fail(f"{path}.title is blank")
            icon = checks.string(link, "icon", f"{path}.icon")
            if icon is not None and not (len(icon) <= 63 and OBJECT_NAME.match(icon)):
                checks.fail(f"{path}.icon {quote(icon)} is not a valid icon name")
            checks.string(link, "type", f"{path}.type")
            # A link keeps Backstage's four fields (all strings, checked above); anything else is named.
            links.append({key: link[key] for key in LINK_FIELDS if key in link})
            unkept.extend(f"{path}.{str(key)[:QUOTE_LIMIT]}" for key in link if key not in LINK_FIELDS)
    return {"name": name, "namespace": namespace, "title": title, "description": description or "",
            "annotations": dict(annotations), "tags": list(tags), "links": links, "unkept": unkept}


def _unkept(kind: str, metadata: dict[str, Any], spec: dict[str, Any], namespace: str,
            extra: list[str]) -> list[str]:
    """The fields present in a document that Slipway does not keep (named in the report)."""
    fields = [f"metadata.{str(key)[:QUOTE_LIMIT]}" for key in metadata if key not in KEPT_METADATA[kind]]
    if kind == "Component":
        fields += extra
    fields += [f"spec.{str(key)[:QUOTE_LIMIT]}" for key in spec if key not in KEPT_SPEC[kind]]
    profile = spec.get("profile")
    if kind in KEPT_PROFILE and isinstance(profile, dict):
        fields += [f"spec.profile.{str(key)[:QUOTE_LIMIT]}" for key in profile if key not in KEPT_PROFILE[kind]]
    notes = [f"not kept: {listing(fields)}"] if fields else []
    if namespace != "default":
        notes.append(f"namespace '{namespace}' not kept (Slipway has one namespace)")
    return notes


def validate(document: Any, result: DocumentResult,
              ref_cache: dict[tuple[str, str | None], EntityRef | str] | None = None) -> Entity | LocationTargets | None:
    """The document as an Entity (or, for a `kind: Location`, its targets), or None with the result
    saying why it was skipped or refused."""
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
    if not (len(kind) <= 63 and KIND.match(kind)):
        result.kind = kind if len(kind) <= QUOTE_LIMIT else quote(kind)
        result.fail(f"kind {quote(kind)} is not a valid kind")
        return None
    result.kind = kind
    if kind == "Location":
        return _followed(document, result)
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
        checks.fail(f"apiVersion {quote(api_version)} is not one Backstage accepts for {kind} "
                    f"({', '.join(API_VERSIONS)})")
    foreign = [str(key)[:QUOTE_LIMIT + 1] for key in document if key not in ROOT_FIELDS]
    if foreign:
        checks.fail(f"unknown top-level field{'s' if len(foreign) > 1 else ''} {listing(foreign)}")
    metadata_map = checks.mapping(document, "metadata", "metadata", required=True)
    metadata = _check_metadata(checks, metadata_map)
    spec = checks.mapping(document, "spec", "spec", required=True)
    values, refs = _SPEC_CHECKS[kind](checks, metadata, spec)
    if checks.problems:
        result.fail(*checks.problems, *([f"and {checks.unlisted:,} more problems"] if checks.unlisted else []))
        return None
    name = metadata["name"]
    key = component_slug(name) if kind == "Component" else name.lower()
    for note in _unkept(kind, metadata_map, spec, metadata["namespace"], metadata["unkept"]):
        result.note(note)
    if kind == "Component":
        _check_component_sense(key, values, refs, result)
    if kind == "Group" and values.pop("_title_unkept", False):
        result.note("not kept: metadata.title (the display name is spec.profile.displayName)")
    return Entity(result=result, kind=kind, name=name, namespace=metadata["namespace"], key=key,
                   values=values, refs=refs)


MOST_TARGETS = 1000  # targets one Location document may name


@dataclass(slots=True)
class LocationTargets:
    """A `kind: Location` document: the targets it names, to be read by the location being refreshed."""

    result: DocumentResult
    targets: list[str]


def _followed(document: dict[str, Any], result: DocumentResult) -> LocationTargets | None:
    """A Location's spec.target and spec.targets (Backstage's fields), or None with the result saying why not."""
    checks = _Checks({})
    metadata = checks.mapping(document, "metadata", "metadata", required=False) or {}
    if isinstance(metadata.get("name"), str):
        result.name = metadata["name"][:100]
    spec = checks.mapping(document, "spec", "spec", required=True)
    targets: list[str] = []
    if spec is not None:
        single = checks.string(spec, "target", "spec.target", required=False)
        if single:
            targets.append(single)
        many = spec.get("targets")
        if many is not None and not isinstance(many, list):
            checks.fail(f"spec.targets must be a list, not {_type_name(many)}")
        elif many:
            if len(many) > MOST_TARGETS:
                checks.fail(f"spec.targets names {len(many):,} targets; at most {MOST_TARGETS:,} are read")
            for index, target in enumerate(many[:MOST_TARGETS]):
                if isinstance(target, str) and target.strip():
                    targets.append(target.strip())
                else:
                    checks.fail(f"spec.targets[{index}] must be a non-empty string, not {_type_name(target)}")
        if not targets and not checks.problems:
            checks.fail("a Location needs spec.target or spec.targets")
    if checks.problems:
        result.fail(*checks.problems)
        return None
    result.outcome = "followed"
    return LocationTargets(result=result, targets=targets)


def _owner_ref(checks: _Checks, spec: dict[str, Any]) -> Ref | None:
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


def _check_component_sense(key: str, values: dict[str, Any], refs: dict[str, Any], result: DocumentResult) -> None:
    """Warnings, not refusals: a near miss of a well-known type or lifecycle (kept as written: free text is
    Backstage's rule), and a dependency on itself (left out: a service cannot depend on itself)."""
    for name, known in (("type", WELL_KNOWN_TYPES), ("lifecycle", WELL_KNOWN_LIFECYCLES)):
        suggestion = near_miss(values[name], known)
        if suggestion is not None:
            result.note(f"spec.{name} {quote(values[name])} looks like the well-known {quote(suggestion)}: "
                        "kept as written; check the spelling")
    own = [dep for dep in refs["depends_on"] if dep.ref.kind == "component" and component_slug(dep.ref.name) == key]
    if own:
        refs["depends_on"] = [dep for dep in refs["depends_on"] if dep not in own]
        result.note("spec.dependsOn names the component itself: not kept (a service cannot depend on itself)")


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


def repository_of(annotations: dict[str, str]) -> tuple[str | None, str | None]:
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
            return None, f"{PROJECT_SLUG_ANNOTATION} {quote(slug)} is not owner/name: no repository"
    location = annotations.get(SOURCE_LOCATION_ANNOTATION, "")
    if location.startswith("url:"):
        try:
            return normalize_repository(location[4:]), None
        except InvalidInput:
            return None, None
    return None, None
