"""Catalog search: the filter sets of the catalog's lists, shared by the API and the pages (a bad value
is a 400 naming it), and the words-as-you-type search of the home page.

The word filter reads Service.search, a column the database keeps (UPPER of slug, name and
description; one trigram index on PostgreSQL): one LIKE per word instead of three UPPER()s per row."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Upper

from services.models import Environment, Runbook, Service, Team

User = get_user_model()


class ServiceFilter(django_filters.FilterSet):
    owner = django_filters.CharFilter(method="filter_owner", help_text="Team slug, username, or user:<username>.")
    lifecycle = django_filters.CharFilter(field_name="lifecycle", lookup_expr="iexact")
    type = django_filters.CharFilter(field_name="type", lookup_expr="iexact")
    tier = django_filters.TypedChoiceFilter(field_name="tier", choices=[(str(n), str(n)) for n in (1, 2, 3)],
                                            coerce=int)
    tag = django_filters.CharFilter(method="filter_tag", help_text="Services carrying this tag.")
    system = django_filters.CharFilter(field_name="system__slug", lookup_expr="iexact")
    language = django_filters.CharFilter(field_name="language", lookup_expr="iexact")
    q = django_filters.CharFilter(method="filter_search", help_text="Words found in the slug, name or description.")
    archived = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_archived",
        help_text="true: only archived services; default false (archived are hidden).",
    )

    class Meta:
        model = Service
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Service]) -> QuerySet[Service]:
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(archived=False)
        return super().filter_queryset(queryset)

    def filter_archived(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        return queryset.filter(archived=value == "true")

    def filter_owner(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # The owner is looked up first and the services matched by key: a join with an OR across
        # two tables cannot use the owner indexes (PostgreSQL scanned all 10,000 services, twice:
        # count and page, ~25 ms); by key it is an index read.
        value = value.strip().lower()
        kind, _, rest = value.partition(":")
        team_slug = user_name = None
        if rest and kind == "user":
            user_name = rest
        elif rest and kind == "group":
            team_slug = rest.split("/")[-1]
        else:
            team_slug = user_name = value
        owners = Q(pk__in=[])
        if team_slug is not None:
            team_ids = list(Team.objects.filter(slug=team_slug).values_list("pk", flat=True))
            if team_ids:
                owners |= Q(owner_team_id__in=team_ids)
        if user_name is not None:
            user_ids = list(User.objects.filter(username__iexact=user_name).values_list("pk", flat=True))
            if user_ids:
                owners |= Q(owner_user_id__in=user_ids)
        return queryset.filter(owners)

    def filter_tag(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # Tags are a JSON list; matching the quoted tag in its text works on SQLite and PostgreSQL.
        return queryset.filter(tags__icontains=f'"{value.strip().lower()}"')

    def filter_search(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # Service.search is UPPER(slug, name and description); the word is upper-cased by the same
        # database function, so both sides agree on every character (SQLite's UPPER is ASCII-only).
        for word in value.split()[:8]:
            queryset = queryset.filter(search__contains=Upper(Value(word)))
        return queryset


class TeamFilter(django_filters.FilterSet):
    parent = django_filters.CharFilter(field_name="parent__slug", lookup_expr="iexact")
    q = django_filters.CharFilter(method="filter_search")
    declared_by_import = django_filters.BooleanFilter()

    class Meta:
        model = Team
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[Team], name: str, value: str) -> QuerySet[Team]:
        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))


class RunbookFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug", lookup_expr="iexact")

    class Meta:
        model = Runbook
        fields: list[str] = []


class EnvironmentFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug", lookup_expr="iexact")
    name = django_filters.CharFilter(field_name="name", lookup_expr="iexact")

    class Meta:
        model = Environment
        fields: list[str] = []


def catalog_search(text: str, *, limit: int = 8) -> dict[str, list[Any]]:
    """Services, teams and people whose names contain every word of `text` (at most `limit` of each)."""
    words = str(text).split()[:8]
    if not words:
        return {"services": [], "teams": [], "people": []}
    services, teams, people = Service.objects.filter(archived=False), Team.objects.all(), User.objects.filter(is_active=True)
    for word in words:
        services = services.filter(Q(slug__icontains=word) | Q(name__icontains=word))
        teams = teams.filter(Q(slug__icontains=word) | Q(name__icontains=word))
        people = people.filter(Q(username__icontains=word) | Q(first_name__icontains=word)
                               | Q(last_name__icontains=word) | Q(profile__display_name__icontains=word))
    return {
        "services": list(services.select_related("owner_team", "owner_user").order_by("slug")[:limit]),
        "teams": list(teams.order_by("slug")[:limit]),
        "people": list(people.select_related("profile").order_by("username")[:limit]),
    }
