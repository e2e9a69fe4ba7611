"""APIs and resources over the API: lists filtered by namespace, type, owner and lifecycle, and one
entity by `namespace/name` with what links to it."""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from services.api.errors import LIST_ERRORS, ErrorSerializer
from services.api.filters import FILTERS
from services.catalog import interfaces
from services.catalog.search import TEAM_SLUG, Format, _checked, text_format
from services.catalog.writes import person_name
from services.models import Api, Resource

NAMESPACE = Format("a namespace is lower-case letters and digits separated by single hyphens (at most 63)",
                   max_length=63, pattern=re.compile(r"[a-z0-9]+(-[a-z0-9]+)*"))


class _EntityFilter(django_filters.FilterSet):
    namespace = _checked(NAMESPACE, field_name="namespace", lookup_expr="iexact", help_text="A namespace.")
    type = _checked(text_format(100, "a type"), field_name="type", lookup_expr="iexact",
                    help_text="Free text (openapi, asyncapi, database...), matched ignoring case.")
    owner = _checked(TEAM_SLUG, field_name="owner_team__slug", lookup_expr="iexact", help_text="A team's slug.")
    system = _checked(TEAM_SLUG, field_name="system__slug", lookup_expr="iexact", help_text="A system's slug.")


class ApiFilter(_EntityFilter):
    lifecycle = _checked(text_format(100, "a lifecycle"), field_name="lifecycle", lookup_expr="iexact",
                         help_text="Free text, matched ignoring case.")
    definition_state = django_filters.ChoiceFilter(choices=Api.DefinitionState.choices,
                                                   help_text="inline, resolved, pending, unresolved or none.")

    class Meta:
        model = Api
        fields: list[str] = []


class ResourceFilter(_EntityFilter):
    class Meta:
        model = Resource
        fields: list[str] = []


class _EntitySerializer(serializers.ModelSerializer):
    ref = serializers.CharField(read_only=True)
    owner = serializers.SerializerMethodField(help_text="Team slug, or user:<username> for a person.")
    owner_name = serializers.SerializerMethodField()
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    origin_path = serializers.CharField(read_only=True)
    orphaned_at = serializers.DateTimeField(read_only=True)

    def get_owner(self, obj: Api | Resource) -> str:
        return obj.owner_team.slug if obj.owner_team_id else f"user:{obj.owner_user.get_username()}"

    def get_owner_name(self, obj: Api | Resource) -> str:
        return obj.owner_team.name if obj.owner_team_id else person_name(obj.owner_user)


COMMON = ["ref", "namespace", "name", "title", "description", "type", "owner", "owner_name", "system", "tags",
          "links", "annotations", "origin_path", "orphaned_at", "created_at", "updated_at"]


class ApiSerializer(_EntitySerializer):
    class Meta:
        model = Api
        fields = [*COMMON, "lifecycle", "definition_state", "definition_placeholder", "definition_target",
                  "definition_error", "definition_fetched_at", "remotes"]


class _Related(serializers.ListField):
    """Names of the entries the detail view found related (`relations` in the serializer's context)."""

    def __init__(self, relation: str, attribute: str) -> None:
        super().__init__(child=serializers.CharField(), source="*", read_only=True)
        self.relation, self.attribute = relation, attribute

    def to_representation(self, value: Any) -> list[str]:
        return [getattr(entry, self.attribute) for entry in self.context["relations"][self.relation]]


class ApiDetailSerializer(ApiSerializer):
    providers = _Related("providers", "slug")
    consumers = _Related("consumers", "slug")

    class Meta(ApiSerializer.Meta):
        fields = [*ApiSerializer.Meta.fields, "definition", "providers", "consumers"]


class ResourceSerializer(_EntitySerializer):
    class Meta:
        model = Resource
        fields = COMMON


class ResourceDetailSerializer(ResourceSerializer):
    depends_on = _Related("depends_on", "ref")
    dependency_of = _Related("dependency_of", "ref")
    dependent_services = _Related("dependent_services", "slug")

    class Meta(ResourceSerializer.Meta):
        fields = [*COMMON, "depends_on", "dependency_of", "dependent_services"]


class _EntityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    filter_backends = FILTERS
    ordering_fields = ["namespace", "slug"]
    ordering = ["namespace", "slug"]

    def get_queryset(self) -> QuerySet[Any]:
        return self.queryset.select_related("owner_team", "owner_user", "system")


@extend_schema_view(list=extend_schema(summary="List APIs", responses={200: ApiSerializer(many=True), **LIST_ERRORS}))
class ApiViewSet(_EntityViewSet):
    """APIs (Backstage kind API): their definitions and the services providing and consuming them."""

    serializer_class = ApiSerializer
    queryset = Api.objects.defer("definition")
    filterset_class = ApiFilter


@extend_schema_view(list=extend_schema(summary="List resources",
                                       responses={200: ResourceSerializer(many=True), **LIST_ERRORS}))
class ResourceViewSet(_EntityViewSet):
    """Resources (Backstage kind Resource): databases, queues, buckets, and who depends on them."""

    serializer_class = ResourceSerializer
    queryset = Resource.objects.all()
    filterset_class = ResourceFilter


# One entity by `<namespace>/<name>`: two path segments (a name holds letters, digits, - _ and .), each a
# parameter of its own, so neither ever carries a slash.
class ApiDetailView(APIView):
    @extend_schema(summary="One API, with its definition, providers and consumers",
                   responses={200: ApiDetailSerializer, 404: ErrorSerializer})
    def get(self, request: Request, namespace: str, name: str) -> Response:
        api = interfaces.api_or_404(namespace, name)
        context = {"request": request, "relations": interfaces.api_relations(api)}
        return Response(ApiDetailSerializer(api, context=context).data)


class ResourceDetailView(APIView):
    @extend_schema(summary="One resource, with what it depends on and what depends on it",
                   responses={200: ResourceDetailSerializer, 404: ErrorSerializer})
    def get(self, request: Request, namespace: str, name: str) -> Response:
        resource = interfaces.resource_or_404(namespace, name)
        context = {"request": request, "relations": interfaces.resource_relations(resource)}
        return Response(ResourceDetailSerializer(resource, context=context).data)
