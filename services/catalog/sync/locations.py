"""Locations: registering one (after a dry run), refreshing due ones, importing a path from the
command line, moving an entry between origins, and deleting orphans."""

from __future__ import annotations

import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from services.audit import audit_record
from services.catalog.generation import bump_generation
from services.catalog.refs import quote
from services.catalog.sync.definitions import definitions_fetch
from services.catalog.sync.refresh import RefreshResult, claim_location, location_refresh
from services.descriptors.origins import ORIGIN_KINDS
from services.descriptors.parse import DescriptorInputError, descriptor_files
from services.errors import Conflict, InvalidInput
from services.hosts.base import checked_repository_path
from services.hosts.repository_keys import LOCAL_KEY_HOST, normalize_repository
from services.models import Api, CatalogConflict, Domain, Location, Origin, Resource, Service, System, Team

logger = logging.getLogger(__name__)

REFRESH_TASK = "slipway.refresh_location"
# The kinds an entry of the catalog can be moved between origins as, and their models.
ENTRY_MODELS = {kind: model for kind, (model, _) in ORIGIN_KINDS.items()}
MIN_REFRESH_SECONDS = 60


def location_from_url(url: str, *, field: str = "url") -> dict[str, str]:
    """What a repository or descriptor URL names: host, `owner/name`, the descriptor's path and ref.

    `https://github.com/acme/payments`, `acme/payments` (the default host) and
    `https://github.com/acme/payments/blob/main/catalog-info.yaml` are all understood; a repository of
    the local host is written `localhost/owner/name` (with an optional `/path/to/catalog-info.yaml`).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput.field(field, "give a repository (owner/name or its URL) or a catalog-info.yaml URL")
    text = url.strip()
    local_path = ""
    if text.lower().startswith(f"{LOCAL_KEY_HOST}/"):  # localhost/owner/name[/path/to/descriptor.yaml]
        parts = text.split("/")
        text, local_path = "/".join(parts[:3]), "/".join(parts[3:])
    key = normalize_repository(text, field=field)
    host_name, owner, name = key.split("/")[:3]
    host = "local" if host_name == LOCAL_KEY_HOST else "github"
    if host == "github" and settings.SLIPWAY_REPO_HOST != "github" and host_name == "github.com":
        raise InvalidInput.field(field, "this Slipway reads repositories of the local host only "
                                        "(SLIPWAY_REPO_HOST=local); write localhost/owner/name")
    path, ref = "catalog-info.yaml", ""
    rest = text.split("://", 1)[-1].split("/")
    if host == "github" and "/blob/" in text:
        index = rest.index("blob")
        if len(rest) < index + 3:
            raise InvalidInput.field(field, "a descriptor URL is …/blob/<branch>/<path>")
        ref, path = rest[index + 1], "/".join(rest[index + 2:])
    elif local_path:
        path = local_path
    try:
        path = checked_repository_path(path.split("?", 1)[0].split("#", 1)[0])
    except ValueError as error:
        raise InvalidInput.field(field, str(error)) from None
    if not path.lower().endswith((".yaml", ".yml")):
        raise InvalidInput.field(field, f"{quote(path)} is not a .yaml or .yml file")
    return {"host": host, "target": f"{owner}/{name}", "path": path, "ref": ref}


def location_plan(*, url: str, team: Team | None, actor: Any = None) -> RefreshResult:
    """The dry run of registering a repository or descriptor URL: what would be created, changed, refused
    and why. Reads the repository now (from a worker or the command line: this is a host call)."""
    values = location_from_url(url)
    existing = Location.objects.filter(kind=Location.Kind.REPOSITORY, **values).first()
    location = existing or Location(kind=Location.Kind.REPOSITORY, team=team, **values)
    return location_refresh(location=location, actor=actor, dry_run=True)


@transaction.atomic
def location_register(*, actor: Any, url: str, team: Team | None,
                      refresh_seconds: int | None = None) -> Location:
    """Register a repository or descriptor URL as a location; its first refresh is queued on commit."""
    values = location_from_url(url)
    seconds = _refresh_seconds(refresh_seconds)
    if Location.objects.filter(kind=Location.Kind.REPOSITORY, **values).exists():
        raise Conflict(f"{quote(url)} is registered already.", {"url": ["already registered"]})
    try:
        with transaction.atomic():
            location = Location.objects.create(kind=Location.Kind.REPOSITORY, team=team, registered_by=_user(actor),
                                               refresh_seconds=seconds, next_refresh_at=timezone.now(), **values)
    except IntegrityError:
        raise Conflict(f"{quote(url)} is registered already.", {"url": ["already registered"]}) from None
    audit_record(actor=actor, action="location.create", obj=location,
                 changes={"target": location.label, "team": team.slug if team else None})
    _queue(location)
    return location


ORGANISATION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9])?$")


@transaction.atomic
def location_register_organisation(*, actor: Any, organisation: str, path: str = "catalog-info.yaml",
                                   refresh_seconds: int | None = None) -> Location:
    """Register every repository of an organisation on the configured host (GitHub; on the local host, an
    owner's folder) that holds the descriptor at `path`: discovered at each refresh, archived ones left out."""
    name = str(organisation or "").strip()
    if name.lower().startswith(("https://github.com/", "github.com/")):
        name = name.split("github.com/", 1)[1].strip("/")
    if not ORGANISATION_NAME.match(name):
        raise InvalidInput.field("organisation", "an organisation's login: letters, digits, '-', '_' and '.'")
    try:
        path = checked_repository_path(path)
    except ValueError as error:
        raise InvalidInput.field("path", str(error)) from None
    host = settings.SLIPWAY_REPO_HOST
    seconds = _refresh_seconds(refresh_seconds)
    values = {"kind": Location.Kind.ORGANISATION, "host": host, "target": name, "path": path, "ref": ""}
    if Location.objects.filter(**values).exists():
        raise Conflict(f"The organisation {quote(name)} is registered already.",
                       {"organisation": ["already registered"]})
    location = Location.objects.create(registered_by=_user(actor), refresh_seconds=seconds,
                                       next_refresh_at=timezone.now(), **values)
    audit_record(actor=actor, action="location.create", obj=location, changes={"target": location.label})
    _queue(location)
    return location


def _refresh_seconds(value: int | None) -> int:
    seconds = settings.SLIPWAY_LOCATION_REFRESH_SECONDS if value is None else value
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_REFRESH_SECONDS <= seconds <= 7 * 86400:
        raise InvalidInput.field("refresh_seconds", f"a whole number of seconds from {MIN_REFRESH_SECONDS} to "
                                                    f"{7 * 86400:,} (a week)")
    return seconds


def _user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def enqueue_refresh(location_id: int, repositories: list[str] | None = None) -> bool:
    """Send a refresh to the workers; False (logged) if the broker is unreachable, and the location is
    then due at once, so the sweep queues it when the broker is back (a full refresh)."""
    # By its registered name, as runs.enqueue does: services/tasks.py is the edge calling this layer.
    try:
        current_app.tasks[REFRESH_TASK].apply_async((location_id, repositories or None))
    except Exception:  # noqa: BLE001 - any broker failure leaves the location due for the sweep
        logger.warning("location.enqueue_failed", extra={"location": location_id}, exc_info=True)
        Location.objects.filter(pk=location_id).update(next_refresh_at=timezone.now())
        return False
    return True


def _queue(location: Location, repositories: list[str] | None = None) -> None:
    """Refresh on commit; if the broker is down, the periodic sweep finds it due (next_refresh_at)."""
    location_id = location.pk
    transaction.on_commit(lambda: enqueue_refresh(location_id, repositories))


def location_refresh_soon(*, location: Location, actor: Any = None, repositories: list[str] | None = None) -> None:
    """Ask for a refresh now (a button, a webhook), queued on commit. With `repositories` (a push to some
    of an organisation's repositories) only those are read; without, the location is also due at once."""
    if not repositories:
        Location.objects.filter(pk=location.pk).update(next_refresh_at=timezone.now())
    _queue(location, repositories)


@transaction.atomic
def location_delete(*, actor: Any, location: Location) -> int:
    """Delete a location; its entries stay in the catalog, orphaned and unclaimed (any location may adopt
    them). Returns how many entries were orphaned."""
    now = timezone.now()
    orphaned = 0
    for model in ENTRY_MODELS.values():
        orphaned += model.objects.filter(origin=Origin.LOCATION, origin_location=location).update(
            origin=Origin.UNCLAIMED, origin_location=None, orphaned_at=now)
    audit_record(actor=actor, action="location.delete", obj=location,
                 changes={"target": location.label, "orphaned": orphaned})
    location.delete()
    bump_generation()  # bulk updates send no signal; pages show origins and conflicts
    return orphaned


@transaction.atomic
def catalog_entry_move(*, actor: Any, kind: str, name: str, location: Location) -> None:
    """Hand an entry to `location` (an administrator ending a conflict); the location refreshes at once."""
    model = ENTRY_MODELS.get(kind)
    if model is None:
        raise InvalidInput.field("kind", f"one of {', '.join(ENTRY_MODELS)}")
    namespace, _, slug = name.lower().rpartition("/")
    lookup = ({"user__username__iexact": name} if kind == "User"
              else {"namespace": namespace or "default", "slug": slug} if kind in ("API", "Resource")
              else {"slug": name.lower()})
    row = model.objects.select_for_update().filter(**lookup).first()
    if row is None:
        raise InvalidInput.field("name", f"no {kind} {quote(name)} in the catalog")
    conflict = CatalogConflict.objects.filter(location=location, kind=kind, name=name.lower()).first()
    before = f"location #{row.origin_location_id}" if row.origin == Origin.LOCATION else row.origin or "unclaimed"
    row.origin, row.origin_location, row.origin_path = Origin.LOCATION, location, conflict.path if conflict else ""
    row.orphaned_at = None
    row.save(update_fields=["origin", "origin_location", "origin_path", "orphaned_at"])
    if conflict is not None:
        conflict.delete()
        location.sources.filter(path=conflict.path).update(had_problems=True)  # read it in full next time
    audit_record(actor=actor, action=f"{model._meta.model_name}.move", obj=row, changes={"origin": [before, location.label]})
    location_refresh_soon(location=location, actor=actor)


@transaction.atomic
def location_orphans_delete(*, actor: Any, location: Location | None = None) -> dict[str, int]:
    """Delete orphaned services, systems and domains (of one location, or all), and orphaned teams no
    service or team still needs. People are never deleted: an orphaned person stays, shown as such."""
    deleted: dict[str, int] = {}
    scope = Q(orphaned_at__isnull=False) & (Q(origin_location=location) if location is not None else Q())
    for kind, model in (("Component", Service), ("API", Api), ("Resource", Resource), ("System", System),
                        ("Domain", Domain), ("Group", Team)):
        count = 0
        for row in model.objects.filter(scope):
            try:
                with transaction.atomic():
                    audit_record(actor=actor, action=f"{model._meta.model_name}.delete", obj=row,
                                 changes={"orphaned_at": row.orphaned_at.isoformat()})
                    row.delete()
                count += 1
            except ProtectedError:
                continue  # a team still owning services is kept, and stays shown as an orphan
        if count:
            deleted[kind] = count
    return deleted


def due_locations(*, now: Any = None, limit: int = 100) -> list[int]:
    """Ids of the locations whose refresh is due and not running, oldest first, at most `limit`."""
    now = now or timezone.now()
    return list(Location.objects.filter(next_refresh_at__lte=now)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                .order_by("next_refresh_at").values_list("pk", flat=True)[:limit])


def location_refresh_by_id(location_id: int, repositories: list[str] | None = None) -> RefreshResult | None:
    """A worker's refresh: claim the location, refresh it (an organisation's `repositories` only, when
    given), delete orphans if the setting says so."""
    location = claim_location(location_id)
    if location is None:
        return None
    try:
        result = location_refresh(location=location, only=repositories)
    except BaseException:
        # An unexpected error: release the lease so the next sweep retries, and say why on the location.
        Location.objects.filter(pk=location_id).update(
            lease_until=None, state=Location.State.FAILED, last_error="the refresh stopped on an internal error",
            next_refresh_at=timezone.now() + timedelta(minutes=5))
        raise
    if settings.SLIPWAY_CATALOG_DELETE_ORPHANS and result.orphans:
        location_orphans_delete(actor=None, location=location)
    # The APIs' definitions given by placeholder: fetched here, in the worker, within their own bounds.
    definitions_fetch(location)
    return result


def catalog_import(*, path: str | os.PathLike[str], actor: Any = None, strict: bool = False,
                   dry_run: bool = False, force: bool = False) -> Any:
    """Import a descriptor file or folder on the server (`import_catalog`): registered as a path location
    the first time, then refreshed; returns the import report (with the location's conflicts and orphans)."""
    root = Path(path)
    if not root.exists():
        raise DescriptorInputError(f"'{path}' does not exist.")
    if root.is_dir() and not descriptor_files(root):
        raise DescriptorInputError(f"'{path}' holds no .yaml or .yml file.")
    target = str(root.resolve())
    location = Location.objects.filter(kind=Location.Kind.PATH, target=target).first()
    if location is None:
        location = Location(kind=Location.Kind.PATH, host="", target=target, path="", ref="",
                            refresh_seconds=settings.SLIPWAY_LOCATION_REFRESH_SECONDS)
        if not dry_run:
            location.registered_by = _user(actor)
            location.save()
            audit_record(actor=actor, action="location.create", obj=location, changes={"target": target})
    if not dry_run and claim_location(location.pk) is None:
        raise Conflict(f"{quote(target)} is being refreshed right now; try again in a moment.", {})
    try:
        result = location_refresh(location=location, actor=actor, dry_run=dry_run, force=force, strict=strict,
                                  full=True)
    finally:
        if not dry_run:
            Location.objects.filter(pk=location.pk, lease_until__isnull=False).update(lease_until=None)
    result.report.conflicts = [{"kind": c.kind, "name": c.name, "file": c.path, "held_by": c.held_by}
                               for c in result.conflicts]
    result.report.orphans = result.orphans
    if result.error and not result.report.file_errors:
        result.report.file_errors.append({"file": target, "error": result.error})
    return result.report
