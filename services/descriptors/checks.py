"""Validating one document by Backstage's own rules, before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from services.catalog.refs import QUOTE_LIMIT, EntityRef, is_valid_name, near_miss, quote
from services.descriptors.extras import component_extras, group_extras
from services.descriptors.fields import Ref, _Checks, _type_name, _valid_prefixed, listing
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
    NAMESPACED_KINDS,
    OBJECT_NAME,
    PROJECT_SLUG_ANNOTATION,
    ROOT_FIELDS,
    SOURCE_LOCATION_ANNOTATION,
    TAG,
    TEAM_SLUG_ANNOTATION,
    URL,
    component_slug,
    entry_key,
    ref_key,
)
from services.descriptors.report import DocumentResult
from services.errors import InvalidInput
from services.hosts.repository_keys import normalize_repository
from services.models.catalog import WELL_KNOWN_LIFECYCLES, WELL_KNOWN_TYPES

# ---------------------------------------------------------------------------------------------
# Validating one document.


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
    if "links" in KEPT_METADATA[kind]:
        fields += extra
    fields += [f"spec.{str(key)[:QUOTE_LIMIT]}" for key in spec if key not in KEPT_SPEC[kind]]
    profile = spec.get("profile")
    if kind in KEPT_PROFILE and isinstance(profile, dict):
        fields += [f"spec.profile.{str(key)[:QUOTE_LIMIT]}" for key in profile if key not in KEPT_PROFILE[kind]]
    notes = [f"not kept: {listing(fields)}"] if fields else []
    if namespace != "default" and kind == "User":
        notes.append(f"namespace '{namespace}' not kept (a person has one account, in one namespace)")
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
    namespace = metadata["namespace"]
    key = (f"{namespace}/{name.lower()}" if kind in NAMESPACED_KINDS
           else name.lower() if kind == "User" else entry_key(kind, namespace, name))
    if len(key) > (63 if kind == "Component" else 100):
        result.fail(f"metadata.namespace and metadata.name together are too long: {kind}s outside the default "
                    f"namespace are kept as '<namespace>--<name>', at most {63 if kind == 'Component' else 100} "
                    "characters")
        return None
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


def _system_ref(checks: _Checks, spec: dict[str, Any]) -> Ref | None:
    return checks.ref(checks.string(spec, "system", "spec.system"), "spec.system", default_kind="system",
                      kinds=("system",))


def _check_component(checks: _Checks, metadata: dict[str, Any],
                     spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    type_ = checks.string(spec, "type", "spec.type", required=True, max_length=100)
    lifecycle = checks.string(spec, "lifecycle", "spec.lifecycle", required=True, max_length=100)
    owner = _owner_ref(checks, spec)
    system = _system_ref(checks, spec)
    # Backstage gives dependsOn no default kind: a bare name is an error there, and here.
    depends_on = checks.refs(spec, "dependsOn", "spec.dependsOn", default_kind=None, kinds=None)
    annotations = metadata["annotations"]
    name = metadata["name"] or ""
    annotations.pop(NAME_ANNOTATION, None)
    if name and component_slug(name) != name:  # the slug says it differently: the name as written is kept
        annotations[NAME_ANNOTATION] = name
    values = {
        "name": metadata["title"] or name, "description": metadata["description"], "type": type_,
        "lifecycle": lifecycle, "tags": metadata["tags"], "links": metadata["links"], "annotations": annotations,
    } | component_extras(checks, annotations)
    for key in values.pop("_derived"):  # written by an export from a field: the field is what counts
        if key in (PROJECT_SLUG_ANNOTATION, SOURCE_LOCATION_ANNOTATION) and "_repository" not in values:
            values["_repository"] = repository_of(annotations)[0] or ""
        annotations.pop(key, None)
    return values, {"owner": owner, "system": system, "depends_on": depends_on,
                    "provides_apis": checks.refs(spec, "providesApis", "spec.providesApis", default_kind="api",
                                                 kinds=None),
                    "consumes_apis": checks.refs(spec, "consumesApis", "spec.consumesApis", default_kind="api",
                                                 kinds=None),
                    "dependency_of": checks.refs(spec, "dependencyOf", "spec.dependencyOf", default_kind=None,
                                                 kinds=None)}


def _check_component_sense(key: str, values: dict[str, Any], refs: dict[str, Any], result: DocumentResult) -> None:
    """Warnings, not refusals: a near miss of a well-known type or lifecycle (kept as written: free text is
    Backstage's rule), and a dependency on itself (left out: a service cannot depend on itself)."""
    for name, known in (("type", WELL_KNOWN_TYPES), ("lifecycle", WELL_KNOWN_LIFECYCLES)):
        suggestion = near_miss(values[name], known)
        if suggestion is not None:
            result.note(f"spec.{name} {quote(values[name])} looks like the well-known {quote(suggestion)}: "
                        "kept as written; check the spelling")
    own = [dep for dep in refs["depends_on"] if dep.ref.kind == "component" and ref_key(dep.ref) == key]
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
    extras = group_extras(checks, annotations)
    chat = extras.pop("chat_channel", None)
    if chat is None:
        chat = next((annotations[key] for key in CHAT_ANNOTATIONS if annotations.get(key)), "")
    if len(chat) > 200:
        checks.fail("the chat channel annotation is longer than 200 characters (Slipway keeps at most 200)")
    github_team = extras.pop("github_team_slug", None)
    if github_team is None:
        github_team = annotations.get(TEAM_SLUG_ANNOTATION, "").rpartition("/")[2]
    for key in extras.pop("_derived"):  # written by an export from a field, read above: not kept
        annotations.pop(key, None)
    if len(github_team) > 100:
        checks.fail(f"{TEAM_SLUG_ANNOTATION} is longer than 100 characters (Slipway keeps at most 100)")
    values = {
        "name": display_name or metadata["title"] or name, "description": metadata["description"],
        "email": email or "", "chat_channel": chat, "github_team_slug": github_team, "team_type": team_type,
        "annotations": annotations,
        "_title_unkept": bool(display_name and metadata["title"] and metadata["title"] != display_name),
    } | extras
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


# An inline definition Slipway keeps: the largest in real catalogs is 348 KB (an OpenAPI document).
MAX_DEFINITION_CHARACTERS = 2_000_000
PLACEHOLDERS = ("$text", "$json", "$yaml")


def _namespaced_values(metadata: dict[str, Any], type_: str | None) -> dict[str, Any]:
    """What an API and a Resource keep of the common metadata."""
    return {"name": metadata["name"] or "", "title": metadata["title"] or "", "description": metadata["description"],
            "type": type_, "tags": metadata["tags"], "links": metadata["links"],
            "annotations": metadata["annotations"]}


def _check_definition(checks: _Checks, spec: dict[str, Any]) -> dict[str, str]:
    """spec.definition: the text itself, or one `$text`/`$json`/`$yaml` placeholder naming a file or URL
    (Backstage's placeholders), which a worker fetches later; never fetched while validating. It may be
    absent, as Backstage allows for APIs reached at their spec.remotes."""
    if "definition" not in spec:  # Backstage's newer API types (mcp-server, ai-model-server) have none
        return {"definition": "", "definition_placeholder": "", "definition_target": "",
                "remotes": _check_remotes(checks, spec)}
    value = spec["definition"]
    if isinstance(value, str):
        if not value.strip():
            checks.fail("spec.definition is empty")
        elif len(value) > MAX_DEFINITION_CHARACTERS:
            checks.fail(f"spec.definition is longer than {MAX_DEFINITION_CHARACTERS:,} characters "
                        "(Slipway keeps at most that much)")
        return {"definition": value, "definition_placeholder": "", "definition_target": "",
                "remotes": _check_remotes(checks, spec)}
    if isinstance(value, dict) and len(value) == 1:
        ((placeholder, target),) = value.items()
        if placeholder in PLACEHOLDERS:
            if not isinstance(target, str) or not target.strip():
                checks.fail(f"spec.definition.{placeholder} must name a file or URL, not {quote(target)}")
            elif len(target) > 1000:
                checks.fail(f"spec.definition.{placeholder} is longer than 1,000 characters")
            else:
                return {"definition": "", "definition_placeholder": placeholder, "definition_target": target.strip(),
                        "remotes": _check_remotes(checks, spec)}
            return {}
    checks.fail("spec.definition must be the definition's text or one of "
                f"{', '.join(f'{{{p}: <file or URL>}}' for p in PLACEHOLDERS)}, not {quote(value)}")
    return {}


def _check_remotes(checks: _Checks, spec: dict[str, Any]) -> list[dict[str, str]]:
    """spec.remotes: where an API is served, each a type and a URL (at most 20)."""
    if "remotes" not in spec:
        return []
    raw = spec["remotes"]
    if not isinstance(raw, list) or len(raw) > 20:
        checks.fail("spec.remotes must be a list of at most 20 {type, url}")
        return []
    remotes = []
    for index, remote in enumerate(raw):
        if not isinstance(remote, dict):
            checks.fail(f"spec.remotes[{index}] must be a mapping with a type and a url, not {_type_name(remote)}")
            continue
        type_ = checks.string(remote, "type", f"spec.remotes[{index}].type", required=True, max_length=100)
        url = checks.string(remote, "url", f"spec.remotes[{index}].url", required=True, max_length=1000)
        if url is not None and not URL.match(url):
            checks.fail(f"spec.remotes[{index}].url {quote(url)} is not a URL")
        elif type_ is not None and url is not None:
            remotes.append({"type": type_, "url": url})
    return remotes


def _check_api(checks: _Checks, metadata: dict[str, Any],
               spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    type_ = checks.string(spec, "type", "spec.type", required=True, max_length=100)
    lifecycle = checks.string(spec, "lifecycle", "spec.lifecycle", required=True, max_length=100)
    owner = _owner_ref(checks, spec)
    system = _system_ref(checks, spec)
    values = _namespaced_values(metadata, type_) | {"lifecycle": lifecycle} | _check_definition(checks, spec)
    return values, {"owner": owner, "system": system}


def _check_resource(checks: _Checks, metadata: dict[str, Any],
                    spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    type_ = checks.string(spec, "type", "spec.type", required=True, max_length=100)
    owner = _owner_ref(checks, spec)
    system = _system_ref(checks, spec)
    return _namespaced_values(metadata, type_), {
        "owner": owner, "system": system,
        "depends_on": checks.refs(spec, "dependsOn", "spec.dependsOn", default_kind=None, kinds=None),
        "dependency_of": checks.refs(spec, "dependencyOf", "spec.dependencyOf", default_kind=None, kinds=None)}


_SPEC_CHECKS = {
    "Component": _check_component, "Group": _check_group, "User": _check_user,
    "System": _check_system, "Domain": _check_domain, "API": _check_api, "Resource": _check_resource,
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
