"""The catalog's writes: teams, people, services, runbooks, environments, systems and domains.

Web views, the API, management commands and Celery tasks call these functions; each validates,
writes in one transaction and records an audit event. Saving bumps the catalog generation, which
invalidates cached answers (services/signals.py)."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from services.audit import audit_record
from services.catalog import claims
from services.catalog.markdown import check_body, render_runbook, revision_diff
from services.catalog.refs import (
    ENVIRONMENT_NAME_PATTERN,
    ENVIRONMENT_NAME_RULE,
    NAME_RULE,
    SLUG_PATTERN,
    SLUG_RULE,
    EntityRef,
    is_valid_name,
    parse_entity_ref,
    quote,
)
from services.errors import Conflict, InvalidInput
from services.hosts.repository_keys import normalize_repository
from services.models import (
    Domain,
    Environment,
    Origin,
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
        raise InvalidInput.field(field, f"no team {quote(slug)}") from None


def resolve_user(username: str, *, field: str = "user") -> Any:
    try:
        return User.objects.get(username__iexact=str(username))
    except User.DoesNotExist:
        raise InvalidInput.field(field, f"no user {quote(username)}") from None
    except User.MultipleObjectsReturned:
        return User.objects.get(username=str(username))


def resolve_owner(ref: str, *, field: str = "owner") -> tuple[Team | None, Any]:
    """An owner reference (`team-slug`, `group:team-slug`, `user:jane`) to (team, None) or (None, user)."""
    parsed = parse_entity_ref(ref, default_kind="group", field=field)
    if parsed.kind == "group":
        return resolve_team(parsed.name, field=field), None
    if parsed.kind == "user":
        return None, resolve_user(parsed.name, field=field)
    raise InvalidInput.field(field, f"an owner is a team (group:) or a person (user:), not {quote(parsed.kind)}")


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
        raise InvalidInput.field("system", f"no system {quote(slug)}") from None


def _dependency_refs(values: list[str], *, own_slug: str) -> list[EntityRef]:
    refs: list[EntityRef] = []
    for value in values:
        ref = parse_entity_ref(value, default_kind="component", field="depends_on")
        if ref.kind == "component" and ref.name.lower() == own_slug:
            raise InvalidInput.field("depends_on", f"{quote(value)} is this service: a service cannot depend on itself")
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
    ], ignore_conflicts=True)  # the same dependency added by a request at once: the set is what matters


def _link_pending_dependents(service: Service) -> None:
    """Dependencies recorded before `service` existed now point at it."""
    ServiceDependency.objects.filter(target_ref=f"component:default/{service.slug}", target__isnull=True).update(
        target=service
    )


def _validate_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidInput.field("slug", SLUG_RULE)
    return slug


# ---------------------------------------------------------------------------------------------
# Services.


def _slug_taken(slug: str) -> Conflict:
    """The answer to a service slug in use, whether seen before the insert or by it."""
    return Conflict(f"A service named {quote(slug)} exists already.", {"slug": ["already taken"]})


def _repository_taken(repo_key: str) -> Conflict:
    """The answer to a repository registered to another service, seen before the insert or by it."""
    return Conflict(f"Repository {quote(repo_key)} is registered to another service.",
                    {"repository": ["already registered to another service"]})


@transaction.atomic
def service_create(*, actor: Any, slug: str, owner: str, name: str = "", repository: str | None = None,
                   system: str | None = None, depends_on: list[str] | None = None, run_id: Any = None,
                   server_annotations: dict[str, str] | None = None, **fields: Any) -> Service:
    """Register a service; its owner is a team or a person, its repository key must be unique, and
    neither may be what a run in progress will create. Only a run (the scaffolder's last step, with
    `run_id`) registers the service of its own slug, marked with the run's annotation."""
    slug = _validate_slug(slug)
    if Service.objects.filter(slug=slug).exists():
        raise _slug_taken(slug)
    owner_team, owner_user = resolve_owner(owner)
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    fields["annotations"] = {**(claims.client_annotations(fields.get("annotations")) or {}), **(server_annotations or {}),
                             **({claims.RUN_ANNOTATION: str(run_id)} if run_id else {})}
    repo_key = normalize_repository(repository) if repository else None
    if repo_key and Service.objects.filter(repository=repo_key).exists():
        raise _repository_taken(repo_key)
    reserved = claims.live_run_reserving(slug, repo_key, run_id=run_id)
    if reserved is not None:
        raise claims.reserved(reserved)
    service = Service(slug=slug, name=name or slug, owner_team=owner_team, owner_user=owner_user,
                      repository=repo_key, system=_resolve_system(system),
                      origin=Origin.SCAFFOLDER if run_id else Origin.MANUAL, **fields)
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
    _set_dependencies(service, _dependency_refs(depends_on or [], own_slug=slug))
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
            raise Conflict(f"Repository {quote(values['repository'])} is registered to another service.",
                           {"repository": ["already registered to another service"]})
        reserved = values["repository"] and claims.live_run_reserving("", values["repository"])
        if reserved and reserved[0] == "repository":
            raise claims.reserved(reserved)
    if "annotations" in data:  # Slipway's own annotations stay; a client sets only the others
        kept = {key: value for key, value in (service.annotations or {}).items()
                if key.startswith(claims.SERVER_ANNOTATION_PREFIX)}
        data["annotations"] = {**(claims.client_annotations(data["annotations"]) or {}), **kept}
    if "system" in data:
        values["system"] = _resolve_system(data.pop("system"))
    if "name" in data and not data["name"]:
        data["name"] = service.slug  # as service_create: a service is never nameless
    dependency_refs = _dependency_refs(data.pop("depends_on"), own_slug=service.slug) if "depends_on" in data else None
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
        try:
            with transaction.atomic():
                service.save()
        except IntegrityError:
            # Another request registered the same repository between the check above and this save.
            raise Conflict(f"Repository {quote(values.get('repository'))} is registered to another service.",
                           {"repository": ["already registered to another service"]}) from None
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


def validate_team_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not is_valid_name(slug):
        raise InvalidInput.field("slug", NAME_RULE)
    return slug.lower()


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
        raise Conflict(f"Service '{service.slug}' has a runbook {quote(slug)} already.", {"slug": ["already taken"]})
    check_body(body)
    rendered = render_runbook(body, title=title)
    # Whoever writes a runbook has just reviewed it: a new one is not stale the moment it exists.
    try:
        with transaction.atomic():
            runbook = Runbook.objects.create(service=service, slug=slug, title=title, body=body, html=rendered.html,
                                             html_title_end=rendered.title_end,
                                             last_reviewed=last_reviewed or timezone.localdate())
    except IntegrityError:  # the same slug saved by another request between the check and this insert
        raise Conflict(f"Service '{service.slug}' has a runbook {quote(slug)} already.",
                       {"slug": ["already taken"]}) from None
    RunbookRevision.objects.create(runbook=runbook, number=1, title=title, body=body,
                                   author=actor if getattr(actor, "is_authenticated", False) else None,
                                   **revision_diff(None, body, 1))
    audit_record(actor=actor, action="runbook.create", obj=runbook, changes={"service": service.slug, "title": title})
    return runbook


@transaction.atomic
def runbook_update(*, actor: Any, runbook: Runbook, data: dict[str, Any]) -> Runbook:
    """Edit a runbook; a change of title or body keeps a new revision."""
    # Two edits at once are taken one after the other: each gets the next revision number.
    Runbook.objects.select_for_update().filter(pk=runbook.pk).first()
    unknown = set(data) - {"title", "body", "last_reviewed"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    if "body" in data and data["body"] != runbook.body:
        check_body(data["body"])
    changes = _changes(runbook, data)
    if not changes:
        return runbook
    text_changed = bool({"title", "body"} & set(changes))
    if text_changed:  # rendered and diffed here, once: pages and the API read what is kept
        rendered = render_runbook(runbook.body, title=runbook.title)
        runbook.html, runbook.html_title_end = rendered.html, rendered.title_end
    runbook.save()
    if text_changed:
        last = runbook.revisions.order_by("-number").values_list("number", "body").first()
        number = last[0] + 1 if last else 1
        RunbookRevision.objects.create(runbook=runbook, number=number, title=runbook.title, body=runbook.body,
                                       author=actor if getattr(actor, "is_authenticated", False) else None,
                                       **revision_diff(last, runbook.body, number))
    audit_record(actor=actor, action="runbook.update", obj=runbook,
                 changes={k: v for k, v in changes.items() if k != "body"} | ({"body": "edited"} if "body" in changes else {}))
    return runbook


@transaction.atomic
def runbook_delete(*, actor: Any, runbook: Runbook) -> None:
    """Delete a runbook and its revisions."""
    audit_record(actor=actor, action="runbook.delete", obj=runbook, changes={"service": runbook.service.slug})
    runbook.delete()


ENVIRONMENT_FIELDS = ("url", "required_reviewers", "wait_timer", "branch_policy")


def _validate_environment_name(name: Any) -> str:
    if not isinstance(name, str) or not ENVIRONMENT_NAME_PATTERN.fullmatch(name):
        raise InvalidInput.field("name", ENVIRONMENT_NAME_RULE)
    return name


def _environment_name_taken(service: Service, name: str, *, other_than: Environment | None = None) -> Conflict | None:
    """The answer to an environment name the service already has (seen before the write or by it), else None."""
    clashing = Environment.objects.filter(service=service, name=name).exclude(pk=getattr(other_than, "pk", None))
    if not clashing.exists():
        return None
    return Conflict(f"Service '{service.slug}' has an environment {quote(name)} already.", {"name": ["already taken"]})


def _environment_save(environment: Environment, *, creating: bool) -> None:
    """Save, answering a name taken by a concurrent write as a Conflict naming `name`, not an IntegrityError."""
    try:
        with transaction.atomic():
            environment.save(force_insert=creating)
    except IntegrityError:
        # Another request took the name between the check and this write; its row is committed now.
        conflict = _environment_name_taken(environment.service, environment.name,
                                           other_than=None if creating else environment)
        if conflict is not None:
            raise conflict from None
        raise


@transaction.atomic
def environment_create(*, actor: Any, service: Service, name: str, **fields: Any) -> Environment:
    """Add a deployment environment with its protection rules to a service."""
    unknown = set(fields) - set(ENVIRONMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    name = _validate_environment_name(name)
    if conflict := _environment_name_taken(service, name):
        raise conflict
    environment = Environment(service=service, name=name, **fields)
    _environment_save(environment, creating=True)
    audit_record(actor=actor, action="environment.create", obj=environment,
                 changes={"service": service.slug, "name": name, **fields})
    return environment


@transaction.atomic
def environment_update(*, actor: Any, environment: Environment, data: dict[str, Any]) -> Environment:
    """Change an environment's name, URL or protection rules; a name the service already has is a Conflict."""
    unknown = set(data) - set(ENVIRONMENT_FIELDS) - {"name"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    if "name" in data:
        name = _validate_environment_name(data["name"])
        if conflict := _environment_name_taken(environment.service, name, other_than=environment):
            raise conflict
    changes = _changes(environment, data)
    if changes:
        _environment_save(environment, creating=False)
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
    slug = validate_team_slug(slug)
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
        raise InvalidInput.field("domain", f"no domain {quote(domain)}")
    return _grouping_upsert(System, actor=actor, slug=slug, name=name, description=description, owner=owner,
                            domain=domain_row)


@transaction.atomic
def domain_upsert(*, actor: Any, slug: str, name: str = "", description: str = "", owner: str | None = None) -> Domain:
    """Create a domain, or set all its fields (an upsert: what is not given is cleared)."""
    return _grouping_upsert(Domain, actor=actor, slug=slug, name=name, description=description, owner=owner)
