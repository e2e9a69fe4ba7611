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
from django.db.models import Prefetch, Q

from services.audit import current_generation
from services.catalog import person_name
from services.errors import InvalidInput, NotFound
from services.models import Membership, Service, Team
from services.refs import normalize_repository

User = get_user_model()

LOOKUP_KINDS = ("service", "repo", "user", "team")
MAX_ESCALATION_DEPTH = 20
_MEMBERS = Prefetch(
    "memberships",
    queryset=Membership.objects.select_related("user", "user__profile").order_by("role", "user__username"),
)


def _person(user: Any) -> dict[str, Any]:
    return {"username": user.get_username(), "name": person_name(user), "email": user.email}


def _team_contact(team: Team) -> dict[str, Any]:
    return {
        "slug": team.slug,
        "name": team.name,
        "email": team.email,
        "chat_channel": team.chat_channel,
        "on_call": team.on_call,
        "github_team_slug": team.github_team_slug,
        "declared_by_import": team.declared_by_import,
    }


def _team_with_members(team: Team) -> dict[str, Any]:
    return {
        **_team_contact(team),
        "members": [{**_person(m.user), "role": m.role} for m in team.memberships.all()],
    }


def _escalation(team: Team) -> list[dict[str, Any]]:
    """The chain of parent teams, nearest first (each one query; chains are short)."""
    chain: list[dict[str, Any]] = []
    seen = {team.pk}
    parent_id = team.parent_id
    while parent_id and parent_id not in seen and len(chain) < MAX_ESCALATION_DEPTH:
        parent = Team.objects.filter(pk=parent_id).first()
        if parent is None:
            break
        chain.append(_team_contact(parent))
        seen.add(parent.pk)
        parent_id = parent.parent_id
    return chain


def _service_summary(service: Service) -> dict[str, Any]:
    return {
        "slug": service.slug,
        "name": service.name,
        "description": service.description,
        "type": service.type,
        "lifecycle": service.lifecycle,
        "tier": service.tier,
        "repository": service.repository,
        "repository_url": service.repository_url,
        "archived": service.archived,
    }


def _service_answer(service: Service) -> dict[str, Any]:
    answer: dict[str, Any] = {"service": _service_summary(service)}
    if service.owner_team_id:
        team = Team.objects.prefetch_related(_MEMBERS).get(pk=service.owner_team_id)
        answer["owner"] = {"kind": "team", "ref": f"group:{team.slug}"}
        answer["team"] = _team_with_members(team)
        answer["escalation"] = _escalation(team)
    else:
        user = User.objects.select_related("profile").get(pk=service.owner_user_id)
        teams = Team.objects.filter(memberships__user=user).order_by("slug")
        answer["owner"] = {"kind": "user", "ref": f"user:{user.get_username()}"}
        answer["person"] = _person(user)
        answer["person_teams"] = [_team_contact(team) for team in teams]
        answer["escalation"] = [_team_contact(team) for team in teams]
    return answer


def _by_service(slug: str) -> dict[str, Any]:
    service = Service.objects.filter(slug=slug.lower()).first()
    if service is None:
        raise NotFound(f"No service '{slug}' in the catalog.", {"service": [f"no service '{slug}'"]})
    return {"query": {"service": slug}, **_service_answer(service)}


def _by_repo(reference: str) -> dict[str, Any]:
    key = normalize_repository(reference, field="repo")
    service = Service.objects.filter(repository=key).first()
    if service is None:
        raise NotFound(f"No service in the catalog has repository '{key}'.", {"repo": [f"no service has '{key}'"]})
    return {"query": {"repo": key}, **_service_answer(service)}


def _owned_services(q: Q) -> list[dict[str, Any]]:
    return [_service_summary(s) for s in Service.objects.filter(q).order_by("slug")]


def _by_user(username: str) -> dict[str, Any]:
    user = User.objects.select_related("profile").filter(username__iexact=username).first()
    if user is None:
        raise NotFound(f"No person '{username}' in the catalog.", {"user": [f"no person '{username}'"]})
    memberships = list(Membership.objects.filter(user=user).select_related("team").order_by("team__slug"))
    team_ids = [m.team_id for m in memberships]
    services = [
        {**summary, "owned_via": "person"} for summary in _owned_services(Q(owner_user=user))
    ]
    via_team = Service.objects.filter(owner_team_id__in=team_ids).select_related("owner_team").order_by("slug")
    services += [{**_service_summary(s), "owned_via": f"team:{s.owner_team.slug}"} for s in via_team]
    return {
        "query": {"user": username},
        "person": _person(user),
        "teams": [{**_team_contact(m.team), "role": m.role} for m in memberships],
        "services": services,
    }


def _by_team(slug: str) -> dict[str, Any]:
    team = Team.objects.prefetch_related(_MEMBERS).filter(slug=slug.lower()).first()
    if team is None:
        raise NotFound(f"No team '{slug}' in the catalog.", {"team": [f"no team '{slug}'"]})
    return {
        "query": {"team": slug},
        "team": _team_with_members(team),
        "escalation": _escalation(team),
        "services": _owned_services(Q(owner_team=team)),
    }


_BUILDERS = {"service": _by_service, "repo": _by_repo, "user": _by_user, "team": _by_team}


def ownership_query(params: dict[str, str]) -> tuple[str, str]:
    """Pick the one lookup asked for from query parameters, or raise InvalidInput naming the problem."""
    given = {k: v for k, v in params.items() if k in LOOKUP_KINDS}
    if not given:
        raise InvalidInput(
            "Say what to look up: one of ?service=, ?repo=, ?user= or ?team=.",
            {k: ["give exactly one of service, repo, user, team"] for k in LOOKUP_KINDS},
        )
    if len(given) > 1:
        raise InvalidInput(
            f"Give only one of service, repo, user, team (got {', '.join(sorted(given))}).",
            {k: ["conflicts with " + ", ".join(sorted(set(given) - {k}))] for k in given},
        )
    kind, value = next(iter(given.items()))
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > 500:
        raise InvalidInput.field(kind, "must be a non-empty value of at most 500 characters")
    return kind, value


def ownership_answer(kind: str, value: str) -> dict[str, Any]:
    """The ownership answer as a dict (not cached): used by the command line and the pages."""
    return _BUILDERS[kind](value)


def ownership_answer_json(kind: str, value: str) -> bytes:
    """The ownership answer serialized, from the cache when the catalog has not changed since."""
    normalized = normalize_repository(value, field="repo") if kind == "repo" else value.lower()
    digest = hashlib.blake2b(normalized.encode(), digest_size=16).hexdigest()
    key = f"own:{current_generation()}:{kind}:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    body = orjson.dumps(ownership_answer(kind, value))
    cache.set(key, body, timeout=settings.SLIPWAY_RESPONSE_CACHE_SECONDS)
    return body
