"""The audit log over the API: `GET /api/v1/audit/` and `/api/v1/audit/<id>/`, read-only.

Events are appended by the service layer (services/audit.py) and never changed or removed: this
endpoint answers 405 to every other method. Who reads what is services.audit.audit_events_visible_to.
"""

from __future__ import annotations

import datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.reverse import reverse

from services.api.errors import ErrorSerializer
from services.api.filters import StrictOrderingFilter
from services.audit import audit_events_visible_to
from services.catalog import reads
from services.catalog.search import UNKNOWN_IS_EMPTY, text_format
from services.errors import InvalidInput
from services.models import AuditEvent, Service, Team


class AuditEventSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor_name", read_only=True,
                                  help_text="Username of who acted at the time, or `system`.")

    class Meta:
        model = AuditEvent
        fields = ["url", "id", "created_at", "actor", "action", "object_type", "object_id", "object_repr", "changes",
                  "source", "request_id"]
        read_only_fields = fields

    def get_url(self, obj: AuditEvent) -> str:
        return reverse("api:audit-detail", kwargs={"pk": obj.pk}, request=self.context.get("request"))


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time that exists in UTC too: the database compares in UTC, and converting
    9999-12-31T23:00-05:00 (or 0001-01-01T00:00+14:00) there overflowed into a server error."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is not None:
            try:
                parsed.astimezone(datetime.UTC)
            except OverflowError:
                raise ValidationError("a date and time between the years 1 and 9999 in UTC") from None
        return parsed


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class AuditEventFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(
        method="filter_service",
        help_text="Service slug: the service's events (dependency changes included) and its runbooks' and "
                  "environments'.")
    team = django_filters.CharFilter(
        method="filter_team", help_text="Team slug: the team's events (memberships included) and the services it owns.")
    # Free text, bounded by what the log can hold: longer is a 400 naming it, an unknown value an empty list.
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact",
                                      validators=[text_format(150, "a username")],
                                      help_text="Username of who acted (`system` for the system)." + UNKNOWN_IS_EMPTY)
    action = django_filters.CharFilter(validators=[text_format(100, "an action")], help_text=(
        "e.g. `service.update`, `team.member_set`, `token.create`." + UNKNOWN_IS_EMPTY))
    object_type = django_filters.CharFilter(validators=[text_format(50, "an object type")], help_text=(
        "e.g. `service`, `team`, `runbook`, `environment`, `apitoken`." + UNKNOWN_IS_EMPTY))
    object_id = django_filters.CharFilter(validators=[text_format(100, "an object id")], help_text=(
        "With object_type: one object's events, a deleted one's too." + UNKNOWN_IS_EMPTY))
    source = django_filters.ChoiceFilter(choices=AuditEvent.Source.choices)
    request_id = django_filters.CharFilter(validators=[text_format(64, "a request id")], help_text=(
        "Every event of one request (its X-Request-ID), command run or worker task." + UNKNOWN_IS_EMPTY))
    since = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte",
                              help_text="ISO 8601 date and time; events at or after it.")
    until = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt",
                              help_text="ISO 8601 date and time; events before it.")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_service(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        service = Service.objects.filter(slug=value.strip().lower()).only("pk").first()
        if service is None:
            raise InvalidInput.field("service", f"no service '{value}' (a deleted service's events: "
                                                "object_type=service&object_id=<its id>)")
        return queryset.filter(reads.service_history_filter(service))

    def filter_team(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        team = Team.objects.filter(slug=value.strip().lower()).only("pk").first()
        if team is None:
            raise InvalidInput.field("team", f"no team '{value}'")
        return queryset.filter(reads.team_history_filter(team))


class AuditOrderingFilter(StrictOrderingFilter):
    """Strict ordering by time; events of the same instant keep a fixed order (by id), so pages
    neither repeat nor skip an event."""

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> list[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            ordering = [*ordering, "-id" if ordering[-1].startswith("-") else "id"]
        return ordering


@extend_schema_view(
    list=extend_schema(summary="The audit log (newest first; filter by service, team, actor, time...)",
                       responses={200: AuditEventSerializer(many=True), 400: ErrorSerializer,
                                  404: ErrorSerializer}),
    retrieve=extend_schema(summary="One audit event", responses={200: AuditEventSerializer, 404: ErrorSerializer}),
)
class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The append-only audit log: who did what to which object, when, from where (web, API, command,
    worker) and in which request. Every signed-in person reads the catalog's events; events about an
    API token only its owner and staff."""

    serializer_class = AuditEventSerializer
    filter_backends = [DjangoFilterBackend, AuditOrderingFilter]
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return audit_events_visible_to(self.request.user)
