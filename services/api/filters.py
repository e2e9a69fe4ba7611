"""Query-string filters of the list endpoints (django-filter); a bad value is a 400 naming it."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Upper
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from services.models import Environment, ProvisioningRun, Runbook, Service, Team


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
            user_ids = list(get_user_model().objects.filter(username__iexact=user_name).values_list("pk", flat=True))
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


class StrictOrderingFilter(OrderingFilter):
    """Ordering that answers 400 naming `ordering` for a field it cannot sort by."""

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> list[str] | None:
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",") if param.strip()]
            allowed = {name for name, _ in self.get_valid_fields(queryset, view, {"request": request})}
            bad = [f for f in fields if f.lstrip("-") not in allowed]
            if bad:
                raise ValidationError({self.ordering_param: [
                    f"cannot order by {', '.join(bad)}; choose from {', '.join(sorted(allowed))}"
                ]})
        return super().get_ordering(request, queryset, view)


class RunFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ProvisioningRun.State.choices)
    template = django_filters.CharFilter()
    owner = django_filters.CharFilter(field_name="owner__slug", lookup_expr="iexact")
    requested_by = django_filters.CharFilter(field_name="requested_by__username", lookup_expr="iexact")
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="Only runs I requested.")

    class Meta:
        model = ProvisioningRun
        fields: list[str] = []

    def filter_mine(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(requested_by=self.request.user) if value else queryset


# The filter backends of every list endpoint.
FILTERS = [DjangoFilterBackend, StrictOrderingFilter]
