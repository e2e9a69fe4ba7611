"""Who owns what: answers by service, repository, person and team.

These are the catalog's hottest reads (people and bots ask them all day), so each answer is built
once per catalog generation and kept serialized in the cache: a repeated question costs one
primary-key query (the generation) and a cache hit.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q

from services.catalog import codeowners
from services.catalog.generation import catalog_generation
from services.catalog.refs import quote
from services.errors import InvalidInput, NotFound
from services.hosts.repository_keys import normalize_repository, repository_web_url
from services.models import CodeOwners, Membership, Service, Team

User = get_user_model()

LOOKUP_KINDS = ("service", "repo", "user", "team", "path")
MAX_ESCALATION_DEPTH = 20

# Answers are built from value rows, not model instances: building and filling models (and the
# joins of a prefetch) cost several times more than the queries themselves (bench/README.md).
_CONTACT_FIELDS = ("slug", "name", "email", "chat_channel", "on_call", "github_team_slug", "declared_by_import")
_TEAM_FIELDS = ("id", "parent", *_CONTACT_FIELDS)
_SUMMARY_FIELDS = ("slug", "name", "description", "type", "lifecycle", "tier", "repository", "archived")
# A person's name as services.catalog.writes.person_name() gives it: the profile's display name, else the
# full name, else the username.
_PERSON_FIELDS = ("username", "email", "first_name", "last_name", "profile__display_name")


def _one(queryset: Any) -> Any:
    """The row of a lookup by a unique key, or None (no ORDER BY: there is at most one)."""
    rows = list(queryset.order_by()[:1])
    return rows[0] if rows else None


def _person(username: str, email: str, first_name: str, last_name: str, display_name: str | None) -> dict[str, Any]:
    name = display_name or f"{first_name} {last_name}".strip() or username
    return {"username": username, "name": name, "email": email}


def _team_contact(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    return {field: row[prefix + field] for field in _CONTACT_FIELDS}


def _members(team_id: int) -> list[dict[str, Any]]:
    rows = (
        Membership.objects.filter(team_id=team_id)
        .order_by("role", "user__username")
        .values_list(*(f"user__{field}" for field in _PERSON_FIELDS), "role")
    )
    return [{**_person(*row[:-1]), "role": row[-1]} for row in rows]


def _escalation(team_id: int, parent_id: int | None) -> list[dict[str, Any]]:
    """The chain of parent teams, nearest first (each one query; chains are short)."""
    chain: list[dict[str, Any]] = []
    seen = {team_id}
    while parent_id and parent_id not in seen and len(chain) < MAX_ESCALATION_DEPTH:
        parent = _one(Team.objects.filter(pk=parent_id).values(*_TEAM_FIELDS))
        if parent is None:
            break
        chain.append(_team_contact(parent))
        seen.add(parent_id)
        parent_id = parent["parent"]
    return chain


def _service_summary(row: dict[str, Any]) -> dict[str, Any]:
    summary = {field: row[field] for field in _SUMMARY_FIELDS}
    summary["repository_url"] = repository_web_url(row["repository"])
    summary["archived"] = summary.pop("archived")  # keep the documented key order
    return summary


def _service_row(**lookup: str) -> dict[str, Any] | None:
    """One service's summary fields with its owner team's, in one query."""
    fields = (*_SUMMARY_FIELDS, "owner_team", "owner_user", *(f"owner_team__{f}" for f in _TEAM_FIELDS[1:]))
    return _one(Service.objects.filter(**lookup).values(*fields))


def _service_answer(row: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {"service": _service_summary(row)}
    team_id = row["owner_team"]
    if team_id:
        answer["owner"] = {"kind": "team", "ref": f"group:{row['owner_team__slug']}"}
        answer["team"] = {**_team_contact(row, "owner_team__"), "members": _members(team_id)}
        answer["escalation"] = _escalation(team_id, row["owner_team__parent"])
    else:
        person = User.objects.filter(pk=row["owner_user"]).values_list(*_PERSON_FIELDS).get()
        teams = [_team_contact(t) for t in
                 Team.objects.filter(memberships__user_id=row["owner_user"]).order_by("slug").values(*_CONTACT_FIELDS)]
        answer["owner"] = {"kind": "user", "ref": f"user:{person[0]}"}
        answer["person"] = _person(*person)
        answer["person_teams"] = teams
        answer["escalation"] = [dict(team) for team in teams]
    return answer


def _by_service(slug: str) -> dict[str, Any]:
    row = _service_row(slug=slug.lower())
    if row is None:
        raise NotFound(f"No service {quote(slug)} in the catalog.", {"service": [f"no service {quote(slug)}"]})
    return {"query": {"service": slug}, **_service_answer(row)}


def _by_repo(reference: str) -> dict[str, Any]:
    key = normalize_repository(reference, field="repo")
    row = _service_row(repository=key)
    if row is None:
        raise NotFound(f"No service in the catalog has repository {quote(key)}.", {"repo": [f"no service has {quote(key)}"]})
    return {"query": {"repo": key}, **_service_answer(row)}


def _owned_services(q: Q) -> list[dict[str, Any]]:
    return [_service_summary(row) for row in Service.objects.filter(q).order_by("slug").values(*_SUMMARY_FIELDS)]


def _by_user(username: str) -> dict[str, Any]:
    person = User.objects.filter(username__iexact=username).order_by("pk").values_list("pk", *_PERSON_FIELDS).first()
    if person is None:
        raise NotFound(f"No person {quote(username)} in the catalog.", {"user": [f"no person {quote(username)}"]})
    user_id = person[0]
    memberships = list(
        Membership.objects.filter(user_id=user_id).order_by("team__slug")
        .values("role", "team_id", *(f"team__{field}" for field in _CONTACT_FIELDS))
    )
    services = [{**summary, "owned_via": "person"} for summary in _owned_services(Q(owner_user_id=user_id))]
    via_team = (
        Service.objects.filter(owner_team_id__in=[m["team_id"] for m in memberships])
        .order_by("slug").values(*_SUMMARY_FIELDS, "owner_team__slug")
    )
    services += [{**_service_summary(row), "owned_via": f"team:{row['owner_team__slug']}"} for row in via_team]
    return {
        "query": {"user": username},
        "person": _person(*person[1:]),
        "teams": [{**_team_contact(m, "team__"), "role": m["role"]} for m in memberships],
        "services": services,
    }


def _by_team(slug: str) -> dict[str, Any]:
    team = _one(Team.objects.filter(slug=slug.lower()).values(*_TEAM_FIELDS))
    if team is None:
        raise NotFound(f"No team {quote(slug)} in the catalog.", {"team": [f"no team {quote(slug)}"]})
    return {
        "query": {"team": slug},
        "team": {**_team_contact(team), "members": _members(team["id"])},
        "escalation": _escalation(team["id"], team["parent"]),
        "services": _owned_services(Q(owner_team_id=team["id"])),
    }


def split_path(value: str) -> tuple[str, str]:
    """A file's repository key and its path in it, from `https://github.com/acme/x/blob/main/a/b.py`
    (`/tree/<ref>/` too), `github.com/acme/x/a/b.py` or `localhost/owner/name/a/b.py`."""
    text = value.strip()
    rest = text.split("://", 1)[-1]
    segments = [part for part in rest.split("/") if part]
    if len(segments) >= 5 and segments[3] in ("blob", "tree"):
        repository, path = "/".join(segments[:3]), "/".join(segments[5:])
    elif len(segments) >= 4:
        repository, path = "/".join(segments[:3]), "/".join(segments[3:])
    else:
        raise InvalidInput.field("path", "give a file of a repository: https://github.com/owner/name/blob/main/"
                                         "path/to/file (or host/owner/name/path/to/file)")
    if ".." in path.split("/") or len(path) > 500:
        raise InvalidInput.field("path", "the path inside the repository may not hold '..'")
    return normalize_repository(repository, field="path"), path.split("?", 1)[0].split("#", 1)[0]


def _codeowner(name: str) -> dict[str, Any]:
    """One owner named by a CODEOWNERS rule, with what the catalog knows of it."""
    if name.startswith("@") and "/" in name:
        slug = name.split("/", 1)[1].lower()
        team = _one(Team.objects.filter(Q(github_team_slug__iexact=slug) | Q(slug=slug)).values(*_TEAM_FIELDS))
        if team is not None:
            return {"codeowner": name, "kind": "team", "ref": f"group:{team['slug']}", "team": _team_contact(team)}
    elif name.startswith("@"):
        person = User.objects.filter(username__iexact=name[1:]).values_list(*_PERSON_FIELDS).first()
        if person is not None:
            return {"codeowner": name, "kind": "user", "ref": f"user:{person[0]}", "person": _person(*person)}
    elif "@" in name:
        person = User.objects.filter(email__iexact=name).values_list(*_PERSON_FIELDS).first()
        if person is not None:
            return {"codeowner": name, "kind": "user", "ref": f"user:{person[0]}", "person": _person(*person)}
    return {"codeowner": name, "kind": "unknown", "ref": None}


def _by_path(value: str) -> dict[str, Any]:
    """Who owns one file: the last matching rule of the repository's CODEOWNERS (GitHub's semantics),
    else (no rule matches, or no CODEOWNERS) the owner of the service whose repository it is."""
    key, path = split_path(value)
    query = {"path": value, "repo": key, "file": path}
    file = _one(CodeOwners.objects.filter(repository=key).values("path", "text"))
    rule = None
    if file is not None and file["path"]:
        rules, _ = codeowners.parse(file["text"])
        rule = codeowners.matching_rule(rules, path)
    row = _service_row(repository=key)
    if rule is None and row is None:
        raise NotFound(f"No CODEOWNERS rule and no service of the catalog for {quote(key)}.",
                       {"path": [f"neither a CODEOWNERS rule nor a service owns {quote(path)}"]})
    answer: dict[str, Any] = {"query": query}
    if rule is not None:
        answer["codeowners"] = {"file": file["path"], "line": rule.line, "pattern": rule.pattern,
                                "owners": [_codeowner(name) for name in rule.owners]}
        answer["owned_by"] = "codeowners" if rule.owners else "nobody"
    else:
        answer["codeowners"] = None
        answer["owned_by"] = "service"
    if row is not None:
        answer.update(_service_answer(row))
    return answer


_BUILDERS = {"service": _by_service, "repo": _by_repo, "user": _by_user, "team": _by_team, "path": _by_path}


def ownership_query(params: dict[str, str]) -> tuple[str, str]:
    """Pick the one lookup asked for from query parameters, or raise InvalidInput naming the problem."""
    given = {k: v for k, v in params.items() if k in LOOKUP_KINDS}
    if not given:
        raise InvalidInput(
            "Say what to look up: one of ?service=, ?repo=, ?user=, ?team= or ?path=.",
            {k: ["give exactly one of service, repo, user, team, path"] for k in LOOKUP_KINDS},
        )
    if len(given) > 1:
        raise InvalidInput(
            f"Give only one of service, repo, user, team, path (got {', '.join(sorted(given))}).",
            {k: ["conflicts with " + ", ".join(sorted(set(given) - {k}))] for k in given},
        )
    kind, value = next(iter(given.items()))
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > 500:
        raise InvalidInput.field(kind, "must be a non-empty value of at most 500 characters")
    return kind, value


def guess_lookup_kind(value: str) -> str:
    """What a pasted value names: a bare slug is a service; a URL of a file (…/blob/… or …/tree/…) is a
    path; anything else with a slash, a colon or an @ is a repository (owner/name, an https/ssh URL,
    git@host:owner/name)."""
    if "/blob/" in value or "/tree/" in value:
        return "path"
    if any(mark in value for mark in ("/", ":", "@")):
        return "repo"
    return "service"


def ownership_answer(kind: str, value: str) -> dict[str, Any]:
    """The ownership answer as a dict (not cached): used by the command line and the pages."""
    return _BUILDERS[kind](value)


def ownership_answer_json(kind: str, value: str) -> bytes:
    """The ownership answer serialized, from the cache when the catalog has not changed since."""
    normalized = (normalize_repository(value, field="repo") if kind == "repo"
                  else "\0".join(split_path(value)) if kind == "path" else value.lower())
    digest = hashlib.blake2b(normalized.encode(), digest_size=16).hexdigest()
    key = f"own:{catalog_generation()}:{kind}:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    body = orjson.dumps(ownership_answer(kind, value))
    cache.set(key, body, timeout=settings.SLIPWAY_RESPONSE_CACHE_SECONDS)
    return body
