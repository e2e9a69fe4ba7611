"""The catalog over the API: services, runbooks, environments, systems, domains, and who owns what."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from services.access.permissions import (
    can_edit_service,
    can_hand_over,
    can_register_for,
)
from services.api import serializers as s
from services.api.errors import ERRORS, LIST_ERRORS, ErrorSerializer
from services.api.filters import FILTERS
from services.api.pagination import DeferredJoinPagination
from services.catalog import ownership, reads, writes
from services.catalog.search import EnvironmentFilter, RunbookFilter, ServiceFilter
from services.errors import InvalidInput, NotFound
from services.models import Domain, Environment, Runbook, Service, System


def _service_for_edit(user: Any, slug: str, *, field: str = "service") -> Service:
    service = Service.objects.select_related("owner_team", "owner_user").filter(slug=str(slug).lower()).first()
    if service is None:
        raise InvalidInput.field(field, f"no service '{slug}'")
    if not can_edit_service(user, service):
        raise PermissionDenied(f"Only members of the team that owns '{service.slug}' (or staff) may change it.")
    return service


@extend_schema_view(
    list=extend_schema(summary="List services", responses={200: s.ServiceSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One service, with environments, runbooks and dependents",
                           responses={200: s.ServiceDetailSerializer, 404: ErrorSerializer}),
    create=extend_schema(summary="Register a service", request=s.ServiceWriteSerializer,
                         responses={201: s.ServiceDetailSerializer, **ERRORS, 409: ErrorSerializer}),
    partial_update=extend_schema(summary="Change some fields of a service", request=s.ServiceUpdateSerializer,
                                 responses={200: s.ServiceDetailSerializer, **ERRORS, 409: ErrorSerializer}),
    destroy=extend_schema(summary="Delete a service", responses={204: None, **ERRORS}),
)
class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Services in the catalog. Members of the owning team (or the owner, or staff) change them."""

    lookup_field = "slug"
    lookup_value_regex = r"[^/]+"
    filter_backends = FILTERS
    filterset_class = ServiceFilter
    ordering_fields = ["slug", "name", "tier", "lifecycle", "type", "created_at", "updated_at"]
    ordering = ["slug"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    pagination_class = DeferredJoinPagination

    def get_queryset(self) -> QuerySet[Service]:
        return reads.service_list()

    def get_serializer_class(self) -> type:
        # The browsable API builds its forms from this with the form's method: writes get the
        # write shapes (the owner field included), reads the read shapes.
        method = getattr(self.request, "method", "GET")
        if method == "POST" and self.action in ("list", "create"):
            return s.ServiceWriteSerializer
        if method in ("PUT", "PATCH"):
            return s.ServiceUpdateSerializer
        return s.ServiceDetailSerializer if self.action == "retrieve" else s.ServiceSerializer

    def get_object(self) -> Service:
        return reads.service_detail(self.kwargs["slug"])

    def _detail(self, slug: str, status_code: int = 200) -> Response:
        service = reads.service_detail(slug)
        return Response(s.ServiceDetailSerializer(service, context=self.get_serializer_context()).data,
                        status=status_code)

    def create(self, request: Request) -> Response:
        data = s.ServiceWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team, person = writes.resolve_owner(values["owner"])
        if not can_register_for(request.user, team=team, person=person):
            raise PermissionDenied("You may register services only for teams you belong to; a service owned by "
                                   "one person is registered by a platform admin.")
        service = writes.service_create(actor=request.user, **values)
        return self._detail(service.slug, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        service = self._editable(slug)
        data = s.ServiceUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "owner" in values:
            team, person = writes.resolve_owner(values["owner"])
            if not can_hand_over(request.user, service, team=team, person=person):
                raise PermissionDenied("Only the lead of the team that owns a service (or a platform admin) hands it "
                                       "to another owner, and only to a team they belong to; a person is made "
                                       "owner by a platform admin.")
        writes.service_update(actor=request.user, service=service, data=values)
        return self._detail(service.slug)

    def destroy(self, request: Request, slug: str) -> Response:
        writes.service_delete(actor=request.user, service=self._editable(slug))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Archive a service (kept, hidden from default lists)", request=None,
                   responses={200: s.ServiceDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, slug: str) -> Response:
        writes.service_archive(actor=request.user, service=self._editable(slug))
        return self._detail(slug)

    def _editable(self, slug: str) -> Service:
        service = Service.objects.select_related("owner_team", "owner_user").filter(slug=slug.lower()).first()
        if service is None:
            raise NotFound(f"No service '{slug}'.")
        if not can_edit_service(self.request.user, service):
            raise PermissionDenied(f"Only members of the team that owns '{service.slug}' (or staff) may change it.")
        return service


@extend_schema_view(
    list=extend_schema(summary="List runbooks (filter by service)",
                       responses={200: s.RunbookSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One runbook: Markdown body and sanitized HTML",
                           responses={200: s.RunbookSerializer, 404: ErrorSerializer}),
    create=extend_schema(summary="Add a runbook to a service", request=s.RunbookWriteSerializer,
                         responses={201: s.RunbookSerializer, **ERRORS, 409: ErrorSerializer}),
    partial_update=extend_schema(summary="Edit a runbook (keeps a revision)", request=s.RunbookUpdateSerializer,
                                 responses={200: s.RunbookSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete a runbook", responses={204: None, **ERRORS}),
)
class RunbookViewSet(viewsets.ModelViewSet):
    """Runbooks of services, in Markdown; shown as sanitized HTML."""

    serializer_class = s.RunbookSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    filter_backends = FILTERS
    filterset_class = RunbookFilter
    ordering_fields = ["id", "title", "updated_at", "last_reviewed"]
    ordering = ["id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Runbook]:
        return Runbook.objects.select_related("service")

    def create(self, request: Request) -> Response:
        data = s.RunbookWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        service = _service_for_edit(request.user, values.pop("service"))
        runbook = writes.runbook_create(actor=request.user, service=service, **values)
        return Response(s.RunbookSerializer(runbook).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        runbook = self.get_object()
        _service_for_edit(request.user, runbook.service.slug)
        data = s.RunbookUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        runbook = writes.runbook_update(actor=request.user, runbook=runbook, data=dict(data.validated_data))
        return Response(s.RunbookSerializer(runbook).data)

    def destroy(self, request: Request, pk: str) -> Response:
        runbook = self.get_object()
        _service_for_edit(request.user, runbook.service.slug)
        writes.runbook_delete(actor=request.user, runbook=runbook)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List environments (filter by service)",
                       responses={200: s.EnvironmentSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One environment and its protection rules",
                           responses={200: s.EnvironmentSerializer, 404: ErrorSerializer}),
    create=extend_schema(summary="Add an environment to a service", request=s.EnvironmentWriteSerializer,
                         responses={201: s.EnvironmentSerializer, **ERRORS, 409: ErrorSerializer}),
    partial_update=extend_schema(summary="Change an environment (a name the service has already: 409)",
                                 request=s.EnvironmentUpdateSerializer,
                                 responses={200: s.EnvironmentSerializer, **ERRORS, 409: ErrorSerializer}),
    destroy=extend_schema(summary="Delete an environment", responses={204: None, **ERRORS}),
)
class EnvironmentViewSet(viewsets.ModelViewSet):
    """Deployment environments of services, with protection rules."""

    serializer_class = s.EnvironmentSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    filter_backends = FILTERS
    filterset_class = EnvironmentFilter
    ordering_fields = ["id", "name"]
    ordering = ["id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Environment]:
        return Environment.objects.select_related("service")

    def create(self, request: Request) -> Response:
        data = s.EnvironmentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        service = _service_for_edit(request.user, values.pop("service"))
        environment = writes.environment_create(actor=request.user, service=service, **values)
        return Response(s.EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        environment = self.get_object()
        _service_for_edit(request.user, environment.service.slug)
        data = s.EnvironmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        environment = writes.environment_update(actor=request.user, environment=environment,
                                                 data=dict(data.validated_data))
        return Response(s.EnvironmentSerializer(environment).data)

    def destroy(self, request: Request, pk: str) -> Response:
        environment = self.get_object()
        _service_for_edit(request.user, environment.service.slug)
        writes.environment_delete(actor=request.user, environment=environment)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List systems", responses={200: s.SystemSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One system", responses={200: s.SystemSerializer, 404: ErrorSerializer}),
)
class SystemViewSet(viewsets.ReadOnlyModelViewSet):
    """Systems: optional groupings of services (Backstage compatibility)."""

    serializer_class = s.SystemSerializer
    lookup_field = "slug"
    queryset = System.objects.select_related("domain", "owner", "owner_user")
    filter_backends = FILTERS
    ordering_fields = ["slug"]
    ordering = ["slug"]


@extend_schema_view(
    list=extend_schema(summary="List domains", responses={200: s.DomainSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One domain", responses={200: s.DomainSerializer, 404: ErrorSerializer}),
)
class DomainViewSet(viewsets.ReadOnlyModelViewSet):
    """Domains: business areas grouping systems."""

    serializer_class = s.DomainSerializer
    lookup_field = "slug"
    queryset = Domain.objects.select_related("owner", "owner_user")
    filter_backends = FILTERS
    ordering_fields = ["slug"]
    ordering = ["slug"]


class OwnershipView(APIView):
    """Who owns a service, a repository, a file; what a person or a team owns."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="Who owns this?",
        description=(
            "Give exactly one of `service` (slug), `repo` (owner/name, or any https/ssh/git URL of it), "
            "`user` (username), `team` (slug) or `path` (a file's URL). Answers the owner team with members, "
            "contacts, on-call and escalation chain (parent teams); for a person-owned service, the person and "
            "their teams. For a path, `codeowners` gives the CODEOWNERS rule that decides (file, line, pattern, "
            "owners, each matched to a catalog team or person) and `owned_by` says whether the owner comes from "
            "CODEOWNERS, from the service, or is nobody (a rule without owners)."
        ),
        parameters=[
            OpenApiParameter("service", OpenApiTypes.STR, description="Service slug."),
            OpenApiParameter("repo", OpenApiTypes.STR, description="Repository: owner/name or any URL of it."),
            OpenApiParameter("user", OpenApiTypes.STR, description="Username."),
            OpenApiParameter("team", OpenApiTypes.STR, description="Team slug."),
            OpenApiParameter("path", OpenApiTypes.STR, description=(
                "A file: https://github.com/owner/name/blob/main/path/to/file (or host/owner/name/path). "
                "Answered by the last matching rule of the repository's CODEOWNERS, else by the owner of "
                "the service whose repository it is.")),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request) -> HttpResponse:
        kind, value = ownership.ownership_query(request.query_params)
        return HttpResponse(ownership.ownership_answer_json(kind, value), content_type="application/json")
