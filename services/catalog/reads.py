"""The catalog's reads (selectors): querysets already shaped for the lists and pages that use them;
each page costs a fixed number of queries whatever the data's size."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from services.audit import object_keys
from services.catalog.refs import quote
from services.errors import NotFound
from services.models import (
    AuditEvent,
    CatalogConflict,
    EntityLink,
    Environment,
    Membership,
    Runbook,
    RunbookRevision,
    Service,
    ServiceDependency,
    Team,
)

User = get_user_model()


# ---------------------------------------------------------------------------------------------
# Reads (selectors): querysets already shaped for the lists and pages that use them.


# A service's owner (team, or person with profile) and system, joined into its row.
ROW_RELATIONS = ("owner_team", "owner_user__profile", "system")
# What a row shows of them (the related rows' other columns, JSON among them, are not read: building
# them was a third of a list page's query cost, profiled).
OWNER_COLUMNS = (
    "owner_team__slug", "owner_team__name",
    "owner_user__username", "owner_user__first_name", "owner_user__last_name", "owner_user__profile__display_name",
)
# A service's own columns that a row may show: all but generated ones (`search` serves the word filter).
SERVICE_SHOWN_COLUMNS = tuple(field.attname for field in Service._meta.concrete_fields if not field.generated)


def _with_owner_and_system(queryset: QuerySet[Service], *service_columns: str) -> QuerySet[Service]:
    """Services with their owner (team, or person with profile) and system joined in, and of those
    only what lists and pages show. `service_columns`: the service's own columns (default
    SERVICE_SHOWN_COLUMNS)."""
    own = service_columns or SERVICE_SHOWN_COLUMNS
    return queryset.select_related(*ROW_RELATIONS).only(
        *own, *OWNER_COLUMNS, "system__slug", "system__name"
    )


def service_list() -> QuerySet[Service]:
    """Services with what a list row shows but their dependencies (`dependency_rows`): one query."""
    return _with_owner_and_system(Service.objects.all())


def dependency_rows(services: Any) -> None:
    """Set `dependency_rows` on each service: its dependencies as (ref, target's slug or None) in ref
    order, for a whole page in one query. Values, not models: a prefetch of the same rows built a
    ServiceDependency each, and cost 7 ms a page of 50 against 1.6 (profiled)."""
    by_service: dict[int, list[tuple[str, str | None]]] = {service.pk: [] for service in services}
    rows = (ServiceDependency.objects.filter(service_id__in=list(by_service)).order_by("target_ref", "pk")
            .values_list("service_id", "target_ref", "target__slug"))
    for service_id, ref, slug in rows:
        by_service[service_id].append((ref, slug))
    for service in services:
        service.dependency_rows = by_service[service.pk]


def service_detail(slug: str) -> Service:
    """One service with owner, members, environments, runbooks, dependencies and dependents."""
    queryset = service_list().select_related("origin_location").prefetch_related(
        "environments",
        Prefetch("runbooks", queryset=Runbook.objects.only("service", "slug", "title", "last_reviewed", "updated_at")),
        Prefetch("dependents", queryset=ServiceDependency.objects.select_related("service").order_by("service__slug")),
    )
    try:
        return queryset.get(slug=slug.lower())
    except Service.DoesNotExist:
        raise NotFound(f"No service {quote(slug)}.") from None


def team_list() -> QuerySet[Team]:
    return Team.objects.select_related("parent")


def _members_ordered() -> QuerySet[Membership]:
    return Membership.objects.select_related("user", "user__profile").order_by("role", "user__username")


def team_members(team: Team) -> QuerySet[Membership]:
    """A team's members, leads first."""
    return _members_ordered().filter(team=team)


def team_detail(slug: str) -> Team:
    """One team with members, children and services."""
    queryset = team_list().prefetch_related(
        Prefetch("memberships", queryset=_members_ordered()),
        Prefetch("services", queryset=Service.objects.order_by("slug")),
        Prefetch("children", queryset=Team.objects.order_by("slug")),
    )
    try:
        return queryset.get(slug=slug.lower())
    except Team.DoesNotExist:
        raise NotFound(f"No team {quote(slug)}.") from None


# Selectors of the web pages: each page costs a fixed number of queries whatever the data's size.

RUNBOOK_STALE_AFTER_DAYS = 90
TEAM_PAGE_SERVICES = 50


def _count_of(queryset: QuerySet, field: str) -> Any:
    """A correlated COUNT subquery (not a JOIN + GROUP BY, which multiplies rows when combined)."""
    counted = queryset.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def service_rows() -> QuerySet[Service]:
    """Services with their owner (team, or person with profile) and system joined: the service page
    and the home page's own services build on it."""
    return Service.objects.select_related(*ROW_RELATIONS)


CATALOG_ROW_COLUMNS = ("id", "slug", "name", "archived", "owner_team", "owner_user", "lifecycle", "type", "tier",
                       "system", "tags")


def catalog_rows() -> QuerySet[Service]:
    """service_rows() with only the columns the catalog table shows (services.web.templatetags
    `catalog_rows`): not the description, links or annotations of 50 services per page."""
    return _with_owner_and_system(Service.objects.all(), *CATALOG_ROW_COLUMNS)


def service_page(slug: str) -> Service:
    """One service with all its page shows: owner team (parent, members), environments, runbooks,
    dependencies and dependents, the APIs and other entities it links to."""
    # Of the related rows only what the page shows: not the JSON and texts of each dependency's whole
    # service, the runbooks' bodies or the members' password hashes.
    queryset = service_rows().select_related("owner_team__parent", "origin_location").prefetch_related(
        Prefetch("dependencies", queryset=ServiceDependency.objects.select_related("target")
                 .only("service", "target", "target_ref", "target__slug", "target__name").order_by("target_ref")),
        Prefetch("dependents", queryset=ServiceDependency.objects.select_related("service")
                 .only("service", "target", "service__slug", "service__name").order_by("service__slug")),
        Prefetch("links_out", queryset=EntityLink.objects.only("service", "relation", "target_ref")
                 .order_by("target_ref")),
        Prefetch("environments", queryset=Environment.objects.order_by("name")),
        Prefetch("runbooks", queryset=Runbook.objects.only("service", "slug", "title", "last_reviewed").order_by("title")),
        Prefetch("owner_team__memberships", queryset=Membership.objects.select_related("user__profile").only(
            "team", "user", "role", "user__username", "user__first_name", "user__last_name", "user__email",
            "user__profile__display_name").order_by("role", "user__username")),
    )
    try:
        return queryset.get(slug=str(slug).lower())
    except Service.DoesNotExist:
        raise NotFound(f"No service {quote(slug)}.") from None


def service_history_filter(service: Service) -> Q:
    """Which audit events are a service's history: its own (dependency changes included, they are
    recorded on the service) and those of its current runbooks and environments. One condition with
    subqueries: the service page, the audit API and any later reader select the same events, in one
    query."""
    return (
        Q(object_type="service", object_id=str(service.pk))
        | Q(object_type="runbook", object_id__in=object_keys(Runbook.objects.filter(service_id=service.pk)))
        | Q(object_type="environment", object_id__in=object_keys(Environment.objects.filter(service_id=service.pk)))
    )


def service_history(service: Service) -> QuerySet[AuditEvent]:
    """Audit events of a service and of its current runbooks and environments, newest first."""
    return AuditEvent.objects.filter(service_history_filter(service)).order_by("-created_at", "-id")


def team_history_filter(team: Team) -> Q:
    """Which audit events are a team's history: its own (membership changes are recorded on the team)
    and those of the services it owns now — their own events, not their runbooks' and environments'.
    A service handed to another team takes its history along."""
    return Q(object_type="team", object_id=str(team.pk)) | Q(
        object_type="service", object_id__in=object_keys(Service.objects.filter(owner_team_id=team.pk)))


def team_history(team: Team) -> QuerySet[AuditEvent]:
    """Audit events of a team, its memberships and the services it owns, newest first."""
    return AuditEvent.objects.filter(team_history_filter(team)).order_by("-created_at", "-id")


def services_of_person(user: Any) -> QuerySet[Service]:
    """Live services a person owns, directly or through a team they belong to."""
    teams = Membership.objects.filter(user_id=user.pk).values("team_id")
    return service_rows().filter(Q(owner_team_id__in=teams) | Q(owner_user_id=user.pk), archived=False)


def team_rows() -> QuerySet[Team]:
    """Teams with their parent and how many members and live services they have."""
    return team_list().annotate(
        member_count=_count_of(Membership.objects.all(), "team"),
        service_count=_count_of(Service.objects.filter(archived=False), "owner_team"),
    )


def team_page(slug: str) -> Team:
    """One team with members, children and its first live services (`listed_services`)."""
    queryset = team_rows().prefetch_related(
        Prefetch("memberships", queryset=_members_ordered()),
        Prefetch("children", queryset=Team.objects.order_by("slug")),
        Prefetch("services", queryset=Service.objects.filter(archived=False).order_by("slug")[:TEAM_PAGE_SERVICES],
                 to_attr="listed_services"),
    )
    try:
        return queryset.get(slug=str(slug).lower())
    except Team.DoesNotExist:
        raise NotFound(f"No team {quote(slug)}.") from None


def runbook_page(service_slug: str, runbook_slug: str, *, leave_out: tuple[str, ...] = ()) -> Runbook:
    """One runbook with its service, the service's owner (for the edit permission), `revision_count` and
    `newest_revision` (0 without revisions); `leave_out`: columns the page does not show (`body`, `html`)."""
    newest = RunbookRevision.objects.filter(runbook=OuterRef("pk")).order_by("-number").values("number")[:1]
    try:
        return Runbook.objects.select_related("service__owner_team", "service__owner_user").defer(*leave_out).annotate(
            revision_count=_count_of(RunbookRevision.objects.all(), "runbook"),
            newest_revision=Coalesce(Subquery(newest), 0),
        ).get(service__slug=str(service_slug).lower(), slug=str(runbook_slug))
    except Runbook.DoesNotExist:
        raise NotFound(f"No runbook {quote(runbook_slug)} for service {quote(service_slug)}.") from None


# What the history page shows of each revision it lists (not its body, nor its diff but the one shown).
REVISION_LISTED_COLUMNS = ("runbook", "number", "title", "created_at", "line_count", "previous_line_count",
                           "diff_too_large", "author", "author__username", "author__first_name", "author__last_name",
                           "author__profile__display_name")


def runbook_revisions(runbook: Runbook, *, newest: int, oldest: int, shown: int) -> QuerySet[RunbookRevision]:
    """The revisions numbered `oldest`..`newest`, newest first, with their authors, and revision `shown`
    (listed or not) with its stored diff and the title before it (`shown_diff`, `previous_title`): one
    query whatever their number or size."""
    previous = (RunbookRevision.objects.filter(runbook=OuterRef("runbook"), number__lt=OuterRef("number"))
                .order_by("-number").values("title")[:1])
    return (RunbookRevision.objects.filter(runbook=runbook)
            .filter(Q(number__gte=oldest, number__lte=newest) | Q(number=shown))
            .select_related("author__profile").only(*REVISION_LISTED_COLUMNS)
            .annotate(shown_diff=Case(When(number=shown, then=F("diff")), default=Value(""),
                                      output_field=TextField()),
                      previous_title=Case(When(number=shown, then=Subquery(previous)), default=Value(""),
                                          output_field=CharField()))
            .order_by("-number"))


def runbook_review_age(runbook: Runbook, *, today: datetime.date | None = None) -> int | None:
    """Whole days since the runbook was last reviewed (a date: no hours), None if it never was."""
    if runbook.last_reviewed is None:
        return None
    return ((today or timezone.localdate()) - runbook.last_reviewed).days


def runbook_is_stale(runbook: Runbook, *, today: datetime.date | None = None) -> bool:
    """A runbook never reviewed, or last reviewed more than RUNBOOK_STALE_AFTER_DAYS ago, is stale."""
    age = runbook_review_age(runbook, today=today)
    return age is None or age > RUNBOOK_STALE_AFTER_DAYS


def entry_conflicts(kind: str, name: str) -> list[CatalogConflict]:
    """Descriptors of locations naming an entry another origin holds (refused, shown until resolved), at most 20."""
    return list(CatalogConflict.objects.filter(kind=kind, name=name).select_related("location")
                .order_by("location_id")[:20])
