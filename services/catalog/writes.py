"""The catalog's writes: teams, people, services, runbooks, environments, systems and domains.

Web views, the API, management commands and Celery tasks call these functions; each validates,
writes in one transaction and records an audit event. Saving bumps the catalog generation, which
invalidates cached answers (services/signals.py)."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from services.access.permissions import forget_roles
from services.audit import audit_record
from services.catalog.refs import SLUG_PATTERN, EntityRef, is_valid_name, parse_entity_ref
from services.errors import Conflict, InvalidInput
from services.hosts.repository_keys import normalize_repository
from services.models import (
    Domain,
    Environment,
    Membership,
    Profile,
    Runbook,
    RunbookRevision,
    Service,
    ServiceDependency,
    System,
    Team,
)

User = get_user_model()


SERVICE_FIELDS = (
    "name", "description", "type", "lifecycle", "tier", "language", "links", "tags", "annotations",
    "template", "template_version", "archived",
)
TEAM_FIELDS = (
    "name", "description", "email", "chat_channel", "on_call", "github_team_slug", "team_type", "annotations",
)


# ---------------------------------------------------------------------------------------------
# Helpers shared by the writes.


def _changes(obj: Any, data: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply `data` to `obj`, returning {field: [old, new]} for the fields that really changed."""
    changed: dict[str, list[Any]] = {}
    for field, new in data.items():
        old = getattr(obj, field)
        if old != new:
            changed[field] = [_plain(old), _plain(new)]
            setattr(obj, field, new)
    return changed


def _plain(value: Any) -> Any:
    if isinstance(value, Team | System | Domain | Service):
        return value.slug
    if isinstance(value, User):
        return value.get_username()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def resolve_team(slug: str, *, field: str = "team") -> Team:
    try:
        return Team.objects.get(slug=str(slug).lower())
    except Team.DoesNotExist:
        raise InvalidInput.field(field, f"no team '{slug}'") from None


def resolve_user(username: str, *, field: str = "user") -> Any:
    try:
        return User.objects.get(username__iexact=str(username))
    except User.DoesNotExist:
        raise InvalidInput.field(field, f"no user '{username}'") from None
    except User.MultipleObjectsReturned:
        return User.objects.get(username=str(username))


def resolve_owner(ref: str, *, field: str = "owner") -> tuple[Team | None, Any]:
    """An owner reference (`team-slug`, `group:team-slug`, `user:jane`) to (team, None) or (None, user)."""
    parsed = parse_entity_ref(ref, default_kind="group", field=field)
    if parsed.kind == "group":
        return resolve_team(parsed.name, field=field), None
    if parsed.kind == "user":
        return None, resolve_user(parsed.name, field=field)
    raise InvalidInput.field(field, f"an owner is a team (group:) or a person (user:), not '{parsed.kind}'")


def owner_ref(service: Service) -> str:
    """The owner as the API shows and accepts it: `team-slug` or `user:jane`."""
    if service.owner_team_id:
        return service.owner_team.slug
    return f"user:{service.owner_user.get_username()}"


def _resolve_system(slug: str | None) -> System | None:
    if not slug:
        return None
    try:
        return System.objects.get(slug=str(slug).lower())
    except System.DoesNotExist:
        raise InvalidInput.field("system", f"no system '{slug}'") from None


def _dependency_refs(values: list[str]) -> list[EntityRef]:
    refs: list[EntityRef] = []
    for value in values:
        ref = parse_entity_ref(value, default_kind="component", field="depends_on")
        if ref not in refs:
            refs.append(ref)
    return refs


def _set_dependencies(service: Service, refs: list[EntityRef]) -> None:
    """Replace the dependencies of `service`, linking those whose target is in the catalog."""
    wanted = {str(ref): ref for ref in refs}
    ServiceDependency.objects.filter(service=service).exclude(target_ref__in=wanted).delete()
    existing = set(ServiceDependency.objects.filter(service=service).values_list("target_ref", flat=True))
    names = [ref.name for key, ref in wanted.items() if key not in existing and ref.kind == "component"]
    targets = {s.slug: s for s in Service.objects.filter(slug__in=names)}
    ServiceDependency.objects.bulk_create([
        ServiceDependency(service=service, target_ref=key,
                          target=targets.get(ref.name) if ref.kind == "component" else None)
        for key, ref in wanted.items() if key not in existing
    ])


def _link_pending_dependents(service: Service) -> None:
    """Dependencies recorded before `service` existed now point at it."""
    ServiceDependency.objects.filter(target_ref=f"component:default/{service.slug}", target__isnull=True).update(
        target=service
    )


def _validate_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        raise InvalidInput.field(
            "slug", "use 1-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit"
        )
    return slug


# ---------------------------------------------------------------------------------------------
# Services.


def _slug_taken(slug: str) -> Conflict:
    """The answer to a service slug in use, whether seen before the insert or by it."""
    return Conflict(f"A service named '{slug}' exists already.", {"slug": ["already taken"]})


def _repository_taken(repo_key: str) -> Conflict:
    """The answer to a repository registered to another service, seen before the insert or by it."""
    return Conflict(f"Repository '{repo_key}' is registered to another service.",
                    {"repository": ["already registered to another service"]})


@transaction.atomic
def service_create(*, actor: Any, slug: str, owner: str, name: str = "", repository: str | None = None,
                   system: str | None = None, depends_on: list[str] | None = None, **fields: Any) -> Service:
    """Register a service; its owner is a team or a person, its repository key must be unique."""
    slug = _validate_slug(slug)
    if Service.objects.filter(slug=slug).exists():
        raise _slug_taken(slug)
    owner_team, owner_user = resolve_owner(owner)
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    repo_key = normalize_repository(repository) if repository else None
    if repo_key and Service.objects.filter(repository=repo_key).exists():
        raise _repository_taken(repo_key)
    service = Service(slug=slug, name=name or slug, owner_team=owner_team, owner_user=owner_user,
                      repository=repo_key, system=_resolve_system(system), **fields)
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError:
        # Another request saved the same slug or repository between the checks above and this insert:
        # its row is committed now (the insert waited for it), so the checks name the clash as they would
        # have a moment later. Anything else is not a conflict the caller can act on.
        if Service.objects.filter(slug=slug).exists():
            raise _slug_taken(slug) from None
        if repo_key and Service.objects.filter(repository=repo_key).exists():
            raise _repository_taken(repo_key) from None
        raise
    _set_dependencies(service, _dependency_refs(depends_on or []))
    _link_pending_dependents(service)
    audit_record(actor=actor, action="service.create", obj=service,
                 changes={"owner": owner_ref(service), "repository": repo_key, **{k: _plain(v) for k, v in fields.items()}})
    return service


@transaction.atomic
def service_update(*, actor: Any, service: Service, data: dict[str, Any]) -> Service:
    """Change some fields of a service (owner, repository, system and dependencies included)."""
    data = dict(data)
    values: dict[str, Any] = {}
    if "owner" in data:
        team, user = resolve_owner(data.pop("owner"))
        values["owner_team"], values["owner_user"] = team, user
    if "repository" in data:
        raw = data.pop("repository")
        values["repository"] = normalize_repository(raw) if raw else None
        if values["repository"] and Service.objects.filter(repository=values["repository"]).exclude(pk=service.pk).exists():
            raise Conflict(f"Repository '{values['repository']}' is registered to another service.",
                           {"repository": ["already registered to another service"]})
    if "system" in data:
        values["system"] = _resolve_system(data.pop("system"))
    if "name" in data and not data["name"]:
        data["name"] = service.slug  # as service_create: a service is never nameless
    dependency_refs = _dependency_refs(data.pop("depends_on")) if "depends_on" in data else None
    unknown = set(data) - set(SERVICE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    values.update(data)
    changes = _changes(service, values)
    if dependency_refs is not None:
        before = sorted(service.dependencies.values_list("target_ref", flat=True))
        after = sorted(str(ref) for ref in dependency_refs)
        if before != after:
            changes["depends_on"] = [before, after]
            _set_dependencies(service, dependency_refs)
    if changes:
        service.save()
        audit_record(actor=actor, action="service.update", obj=service, changes=changes)
    return service


@transaction.atomic
def service_archive(*, actor: Any, service: Service) -> Service:
    """Mark a service archived: it stays findable (ownership history) but leaves default lists."""
    if not service.archived:
        service.archived = True
        service.save(update_fields=["archived", "updated_at"])
        audit_record(actor=actor, action="service.archive", obj=service, changes={"archived": [False, True]})
    return service


@transaction.atomic
def service_delete(*, actor: Any, service: Service) -> None:
    """Delete a service and what hangs from it; dependents keep their reference, unlinked."""
    audit_record(actor=actor, action="service.delete", obj=service,
                 changes={"slug": service.slug, "owner": owner_ref(service)})
    service.delete()


# ---------------------------------------------------------------------------------------------
# Teams and people.


def _validate_team_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not is_valid_name(slug):
        raise InvalidInput.field("slug", "use 1-63 letters, digits and single - _ . between them")
    return slug.lower()


@transaction.atomic
def team_create(*, actor: Any, slug: str, name: str = "", parent: str | None = None, **fields: Any) -> Team:
    """Create a team (a group of people that owns services)."""
    slug = _validate_team_slug(slug)
    if Team.objects.filter(slug=slug).exists():
        raise Conflict(f"A team named '{slug}' exists already.", {"slug": ["already taken"]})
    unknown = set(fields) - set(TEAM_FIELDS) - {"declared_by_import"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    team = Team.objects.create(slug=slug, name=name or slug, parent=resolve_team(parent, field="parent") if parent else None,
                               **fields)
    audit_record(actor=actor, action="team.create", obj=team, changes={k: _plain(v) for k, v in fields.items()})
    return team


def _check_parent(team: Team, parent: Team | None) -> None:
    seen = set()
    node = parent
    while node is not None:
        if node.pk == team.pk:
            raise InvalidInput.field("parent", "a team cannot be its own ancestor")
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = node.parent


@transaction.atomic
def team_update(*, actor: Any, team: Team, data: dict[str, Any]) -> Team:
    """Change some fields of a team (its parent included; cycles are refused)."""
    data = dict(data)
    values: dict[str, Any] = {}
    if "parent" in data:
        parent_slug = data.pop("parent")
        parent = resolve_team(parent_slug, field="parent") if parent_slug else None
        _check_parent(team, parent)
        values["parent"] = parent
    unknown = set(data) - set(TEAM_FIELDS) - {"declared_by_import"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    values.update(data)
    changes = _changes(team, values)
    if "github_team_slug" in changes:
        team.github_team_id = None  # learnt again from GitHub by the next run
    if changes:
        team.save()
        audit_record(actor=actor, action="team.update", obj=team, changes=changes)
    return team


@transaction.atomic
def membership_set(*, actor: Any, team: Team, user: Any, role: str = Membership.Role.MEMBER) -> Membership:
    """Add a person to a team, or change their role in it."""
    if role not in Membership.Role.values:
        raise InvalidInput.field("role", f"one of {', '.join(Membership.Role.values)}")
    membership, created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    if created or membership.role != role:
        old = None if created else membership.role
        membership.role = role
        membership.save()
        audit_record(actor=actor, action="team.member_set", obj=team,
                     changes={"member": user.get_username(), "role": [old, role]})
    forget_roles(actor, user)
    return membership


@transaction.atomic
def membership_remove(*, actor: Any, team: Team, user: Any) -> None:
    """Take a person out of a team."""
    deleted, _ = Membership.objects.filter(team=team, user=user).delete()
    if deleted:
        audit_record(actor=actor, action="team.member_remove", obj=team, changes={"member": user.get_username()})
    forget_roles(actor, user)


@transaction.atomic
def person_upsert(*, actor: Any, username: str, email: str = "", display_name: str = "",
                  declared_by_import: bool = False) -> Any:
    """Create or update a person (a Django user with a profile)."""
    user = User.objects.filter(username__iexact=username).first()
    created = user is None
    changes: dict[str, Any] = {}
    if created:
        user = User.objects.create_user(username=username, email=email)
        user.set_unusable_password()
        user.save()
        changes = {"email": email, "display_name": display_name}
    elif email and user.email != email:
        changes["email"] = [user.email, email]
        user.email = email
        user.save(update_fields=["email"])
    profile, _ = Profile.objects.get_or_create(user=user, defaults={"declared_by_import": declared_by_import})
    if display_name and profile.display_name != display_name:
        changes.setdefault("display_name", [profile.display_name, display_name])
        profile.display_name = display_name
        profile.save()
    if changes:
        audit_record(actor=actor, action="person.create" if created else "person.update", obj=user, changes=changes)
    return user


def person_name(user: Any) -> str:
    """A person's display name: the profile's, else Django's full name, else the username."""
    profile = getattr(user, "profile", None) if _has_profile(user) else None
    return (profile.display_name if profile else "") or user.get_full_name() or user.get_username()


def _has_profile(user: Any) -> bool:
    try:
        user.profile  # noqa: B018 - touching the relation tells whether it exists
    except Profile.DoesNotExist:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Runbooks and environments.


@transaction.atomic
def runbook_create(*, actor: Any, service: Service, title: str, body: str = "", slug: str = "",
                   last_reviewed: datetime.date | None = None) -> Runbook:
    """Add a runbook to a service; its first revision is kept."""
    from django.utils.text import slugify

    slug = slug or slugify(title)[:100] or "runbook"
    if Runbook.objects.filter(service=service, slug=slug).exists():
        raise Conflict(f"Service '{service.slug}' has a runbook '{slug}' already.", {"slug": ["already taken"]})
    runbook = Runbook.objects.create(service=service, slug=slug, title=title, body=body, last_reviewed=last_reviewed)
    RunbookRevision.objects.create(runbook=runbook, number=1, title=title, body=body,
                                   author=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="runbook.create", obj=runbook, changes={"service": service.slug, "title": title})
    return runbook


@transaction.atomic
def runbook_update(*, actor: Any, runbook: Runbook, data: dict[str, Any]) -> Runbook:
    """Edit a runbook; a change of title or body keeps a new revision."""
    unknown = set(data) - {"title", "body", "last_reviewed"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    changes = _changes(runbook, data)
    if not changes:
        return runbook
    runbook.save()
    if {"title", "body"} & set(changes):
        last = runbook.revisions.order_by("-number").values_list("number", flat=True).first() or 0
        RunbookRevision.objects.create(runbook=runbook, number=last + 1, title=runbook.title, body=runbook.body,
                                       author=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="runbook.update", obj=runbook,
                 changes={k: v for k, v in changes.items() if k != "body"} | ({"body": "edited"} if "body" in changes else {}))
    return runbook


@transaction.atomic
def runbook_delete(*, actor: Any, runbook: Runbook) -> None:
    """Delete a runbook and its revisions."""
    audit_record(actor=actor, action="runbook.delete", obj=runbook, changes={"service": runbook.service.slug})
    runbook.delete()


ENVIRONMENT_FIELDS = ("url", "required_reviewers", "wait_timer", "branch_policy")


@transaction.atomic
def environment_create(*, actor: Any, service: Service, name: str, **fields: Any) -> Environment:
    """Add a deployment environment with its protection rules to a service."""
    unknown = set(fields) - set(ENVIRONMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    if Environment.objects.filter(service=service, name=name).exists():
        raise Conflict(f"Service '{service.slug}' has an environment '{name}' already.", {"name": ["already taken"]})
    environment = Environment.objects.create(service=service, name=name, **fields)
    audit_record(actor=actor, action="environment.create", obj=environment,
                 changes={"service": service.slug, "name": name, **fields})
    return environment


@transaction.atomic
def environment_update(*, actor: Any, environment: Environment, data: dict[str, Any]) -> Environment:
    """Change an environment's URL or protection rules."""
    unknown = set(data) - set(ENVIRONMENT_FIELDS) - {"name"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    changes = _changes(environment, data)
    if changes:
        environment.save()
        audit_record(actor=actor, action="environment.update", obj=environment, changes=changes)
    return environment


@transaction.atomic
def environment_delete(*, actor: Any, environment: Environment) -> None:
    """Delete an environment."""
    audit_record(actor=actor, action="environment.delete", obj=environment,
                 changes={"service": environment.service.slug, "name": environment.name})
    environment.delete()


# ---------------------------------------------------------------------------------------------
# Systems and domains (Backstage groupings).


def _grouping_upsert(model: type[System] | type[Domain], *, actor: Any, slug: str, name: str, description: str,
                     owner: str | None, **extra: Any) -> Any:
    """Create a system or domain, or set all its fields (an upsert: what is not given is cleared)."""
    slug = _validate_team_slug(slug)
    values = {
        "name": name or slug, "description": description, **extra,
        "owner": resolve_team(parse_entity_ref(owner, default_kind="group", field="owner").name, field="owner")
        if owner else None,
    }
    row, created = model.objects.get_or_create(slug=slug, defaults=values)
    changes = values if created else _changes(row, values)
    if not created and changes:
        row.save()
    if created or changes:
        kind = model._meta.model_name
        audit_record(actor=actor, action=f"{kind}.create" if created else f"{kind}.update", obj=row,
                     changes={k: _plain(v) for k, v in changes.items()})
    return row


@transaction.atomic
def system_upsert(*, actor: Any, slug: str, name: str = "", description: str = "", domain: str | None = None,
                  owner: str | None = None) -> System:
    """Create a system, or set all its fields (an upsert: what is not given is cleared)."""
    domain_row = Domain.objects.filter(slug=domain.lower()).first() if domain else None
    if domain and domain_row is None:
        raise InvalidInput.field("domain", f"no domain '{domain}'")
    return _grouping_upsert(System, actor=actor, slug=slug, name=name, description=description, owner=owner,
                            domain=domain_row)


@transaction.atomic
def domain_upsert(*, actor: Any, slug: str, name: str = "", description: str = "", owner: str | None = None) -> Domain:
    """Create a domain, or set all its fields (an upsert: what is not given is cleared)."""
    return _grouping_upsert(Domain, actor=actor, slug=slug, name=name, description=description, owner=owner)
