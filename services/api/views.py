"""REST API views: parse, call the service layer, format. No business rules here."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from services import catalog, ownership, scaffolding, template_switches, tokens
from services.api import serializers as s
from services.api.filters import (
    EnvironmentFilter,
    RunbookFilter,
    RunFilter,
    ServiceFilter,
    StrictOrderingFilter,
    TeamFilter,
)
from services.api.pagination import DeferredJoinPagination
from services.errors import InvalidInput, NotFound
from services.models import Domain, Environment, ProvisioningRun, Runbook, Service, System, Team
from services.permissions import (
    TEAM_STRUCTURE_FIELDS,
    can_act_on_run,
    can_change_team_structure,
    can_edit_service,
    can_edit_team,
    can_manage_members,
    can_manage_templates,
    can_own,
    can_start_run,
)
from services.provisioning import runs as provisioning_runs

FILTERS = [DjangoFilterBackend, StrictOrderingFilter]


class ErrorSerializer(s.serializers.Serializer):
    detail = s.serializers.CharField()
    errors = s.serializers.DictField(child=s.serializers.ListField(child=s.serializers.CharField()))


ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
# A list answers 400 for a bad filter, ordering or page size, and 404 for a page past the last.
LIST_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}


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
        return catalog.service_list()

    def get_serializer_class(self) -> type:
        return s.ServiceDetailSerializer if self.action == "retrieve" else s.ServiceSerializer

    def get_object(self) -> Service:
        return catalog.service_detail(self.kwargs["slug"])

    def _detail(self, slug: str, status_code: int = 200) -> Response:
        service = catalog.service_detail(slug)
        return Response(s.ServiceDetailSerializer(service, context=self.get_serializer_context()).data,
                        status=status_code)

    def create(self, request: Request) -> Response:
        data = s.ServiceWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team, person = catalog.resolve_owner(values["owner"])
        if not can_own(request.user, team=team, person=person):
            raise PermissionDenied("You may register services only for teams you belong to (or yourself).")
        service = catalog.service_create(actor=request.user, **values)
        return self._detail(service.slug, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        service = self._editable(slug)
        data = s.ServiceUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "owner" in values:
            team, person = catalog.resolve_owner(values["owner"])
            if not can_own(request.user, team=team, person=person):
                raise PermissionDenied("You may hand a service only to a team you belong to (or to yourself).")
        catalog.service_update(actor=request.user, service=service, data=values)
        return self._detail(service.slug)

    def destroy(self, request: Request, slug: str) -> Response:
        catalog.service_delete(actor=request.user, service=self._editable(slug))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Archive a service (kept, hidden from default lists)", request=None,
                   responses={200: s.ServiceDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, slug: str) -> Response:
        catalog.service_archive(actor=request.user, service=self._editable(slug))
        return self._detail(slug)

    def _editable(self, slug: str) -> Service:
        service = Service.objects.select_related("owner_team", "owner_user").filter(slug=slug.lower()).first()
        if service is None:
            raise NotFound(f"No service '{slug}'.")
        if not can_edit_service(self.request.user, service):
            raise PermissionDenied(f"Only members of the team that owns '{service.slug}' (or staff) may change it.")
        return service


@extend_schema_view(
    list=extend_schema(summary="List teams", responses={200: s.TeamSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One team with members, children and services",
                           responses={200: s.TeamDetailSerializer, 404: ErrorSerializer}),
    create=extend_schema(summary="Create a team (platform admins)", request=s.TeamWriteSerializer,
                         responses={201: s.TeamDetailSerializer, **ERRORS, 409: ErrorSerializer}),
    partial_update=extend_schema(
        summary="Change a team (its leads; parent, GitHub team and type: platform admins)",
        request=s.TeamUpdateSerializer, responses={200: s.TeamDetailSerializer, **ERRORS, 404: ErrorSerializer}),
)
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Teams: who they are, how to reach them, who is in them and what they own."""

    lookup_field = "slug"
    lookup_value_regex = r"[^/]+"
    filter_backends = FILTERS
    filterset_class = TeamFilter
    ordering_fields = ["slug", "name", "created_at"]
    ordering = ["slug"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Team]:
        return catalog.team_list()

    def get_serializer_class(self) -> type:
        return s.TeamDetailSerializer if self.action == "retrieve" else s.TeamSerializer

    def get_object(self) -> Team:
        return catalog.team_detail(self.kwargs["slug"])

    def _detail(self, slug: str, status_code: int = 200) -> Response:
        team = catalog.team_detail(slug)
        return Response(s.TeamDetailSerializer(team, context=self.get_serializer_context()).data, status=status_code)

    def _team(self, slug: str) -> Team:
        team = Team.objects.filter(slug=str(slug).lower()).first()
        if team is None:
            raise NotFound(f"No team '{slug}'.")
        return team

    def create(self, request: Request) -> Response:
        if not can_change_team_structure(request.user):
            raise PermissionDenied("Only platform admins (staff) may create teams.")
        data = s.TeamWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = catalog.team_create(actor=request.user, **data.validated_data)
        return self._detail(team.slug, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        team = self._team(slug)
        if not can_edit_team(request.user, team):
            raise PermissionDenied(f"Only leads of {team.slug} (or platform admins) may change it.")
        data = s.TeamUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        structural = sorted(TEAM_STRUCTURE_FIELDS & set(values))
        if structural and not can_change_team_structure(request.user):
            raise PermissionDenied(f"Only platform admins may change {', '.join(structural)}.")
        catalog.team_update(actor=request.user, team=team, data=values)
        return self._detail(team.slug)

    def _members(self, team: Team) -> Response:
        return Response(s.MemberSerializer(catalog.team_members(team), many=True).data)

    def _members_editable(self, slug: str) -> Team:
        team = self._team(slug)
        if not can_manage_members(self.request.user, team):
            raise PermissionDenied(f"Only leads of {team.slug} (or platform admins) may change its members.")
        return team

    @extend_schema(methods=["GET"], summary="A team's members", request=None,
                   responses={200: s.MemberSerializer(many=True), 404: ErrorSerializer})
    @extend_schema(methods=["POST"], summary="Add a member, or set a member's role (the team's leads)",
                   request=s.MembershipWriteSerializer,
                   responses={200: s.MemberSerializer(many=True), **ERRORS})
    # Not paginated, not filtered: the schema said a page of members with the team list's filters.
    @action(detail=True, methods=["get", "post"], url_path="members", pagination_class=None, filter_backends=[])
    def members(self, request: Request, slug: str) -> Response:
        if request.method == "GET":
            return self._members(self._team(slug))
        team = self._members_editable(slug)
        data = s.MembershipWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = catalog.resolve_user(data.validated_data["username"], field="username")
        catalog.membership_set(actor=request.user, team=team, user=user, role=data.validated_data["role"])
        return self._members(team)

    @extend_schema(methods=["PATCH"], summary="Change a member's role (the team's leads)",
                   request=s.MembershipRoleSerializer, responses={200: s.MemberSerializer(many=True), **ERRORS})
    @extend_schema(methods=["DELETE"], summary="Take a person out of the team (the team's leads)", request=None,
                   responses={204: None, **ERRORS})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<username>[^/]+)")
    def member(self, request: Request, slug: str, username: str) -> Response:
        team = self._members_editable(slug)
        user = catalog.resolve_user(username, field="username")
        if request.method == "DELETE":
            catalog.membership_remove(actor=request.user, team=team, user=user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if not catalog.team_members(team).filter(user=user).exists():
            raise NotFound(f"'{username}' is not a member of {team.slug}.")
        data = s.MembershipRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        catalog.membership_set(actor=request.user, team=team, user=user, role=data.validated_data["role"])
        return self._members(team)


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
        runbook = catalog.runbook_create(actor=request.user, service=service, **values)
        return Response(s.RunbookSerializer(runbook).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        runbook = self.get_object()
        _service_for_edit(request.user, runbook.service.slug)
        data = s.RunbookUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        runbook = catalog.runbook_update(actor=request.user, runbook=runbook, data=dict(data.validated_data))
        return Response(s.RunbookSerializer(runbook).data)

    def destroy(self, request: Request, pk: str) -> Response:
        runbook = self.get_object()
        _service_for_edit(request.user, runbook.service.slug)
        catalog.runbook_delete(actor=request.user, runbook=runbook)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List environments (filter by service)",
                       responses={200: s.EnvironmentSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One environment and its protection rules",
                           responses={200: s.EnvironmentSerializer, 404: ErrorSerializer}),
    create=extend_schema(summary="Add an environment to a service", request=s.EnvironmentWriteSerializer,
                         responses={201: s.EnvironmentSerializer, **ERRORS, 409: ErrorSerializer}),
    partial_update=extend_schema(summary="Change an environment", request=s.EnvironmentUpdateSerializer,
                                 responses={200: s.EnvironmentSerializer, **ERRORS}),
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
        environment = catalog.environment_create(actor=request.user, service=service, **values)
        return Response(s.EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        environment = self.get_object()
        _service_for_edit(request.user, environment.service.slug)
        data = s.EnvironmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        environment = catalog.environment_update(actor=request.user, environment=environment,
                                                 data=dict(data.validated_data))
        return Response(s.EnvironmentSerializer(environment).data)

    def destroy(self, request: Request, pk: str) -> Response:
        environment = self.get_object()
        _service_for_edit(request.user, environment.service.slug)
        catalog.environment_delete(actor=request.user, environment=environment)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List systems", responses={200: s.SystemSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One system", responses={200: s.SystemSerializer, 404: ErrorSerializer}),
)
class SystemViewSet(viewsets.ReadOnlyModelViewSet):
    """Systems: optional groupings of services (Backstage compatibility)."""

    serializer_class = s.SystemSerializer
    lookup_field = "slug"
    queryset = System.objects.select_related("domain", "owner")
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
    queryset = Domain.objects.select_related("owner")
    filter_backends = FILTERS
    ordering_fields = ["slug"]
    ordering = ["slug"]


class OwnershipView(APIView):
    """Who owns a service, a repository, what a person or a team owns."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="Who owns this?",
        description=(
            "Give exactly one of `service` (slug), `repo` (owner/name, or any https/ssh/git URL of it), "
            "`user` (username) or `team` (slug). Answers the owner team with members, contacts, on-call and "
            "escalation chain (parent teams); for a person-owned service, the person and their teams."
        ),
        parameters=[
            OpenApiParameter("service", OpenApiTypes.STR, description="Service slug."),
            OpenApiParameter("repo", OpenApiTypes.STR, description="Repository: owner/name or any URL of it."),
            OpenApiParameter("user", OpenApiTypes.STR, description="Username."),
            OpenApiParameter("team", OpenApiTypes.STR, description="Team slug."),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request) -> HttpResponse:
        kind, value = ownership.ownership_query(request.query_params)
        return HttpResponse(ownership.ownership_answer_json(kind, value), content_type="application/json")


# ---------------------------------------------------------------------------------------------
# Golden-path templates and provisioning runs.


class TemplateViewSet(viewsets.ViewSet):
    """Golden-path templates: what they create and the JSON Schema of their inputs."""

    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    serializer_class = s.TemplateSerializer

    def _context(self) -> dict[str, Any]:
        return {"request": self.request, "switches": template_switches.switches()}

    @extend_schema(summary="List golden-path templates", responses={200: s.TemplateSerializer(many=True)})
    def list(self, request: Request) -> Response:
        templates = scaffolding.template_list()
        return Response(s.TemplateSerializer(templates, many=True, context=self._context()).data)

    @extend_schema(summary="One template, with the JSON Schema of its inputs",
                   responses={200: s.TemplateSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, name: str) -> Response:
        template = scaffolding.template_get(name)
        return Response(s.TemplateSerializer(template, context=self._context()).data)

    @extend_schema(summary="Turn a template off or on again (platform admins)", request=s.TemplateSwitchSerializer,
                   responses={200: s.TemplateSerializer, **ERRORS})
    def partial_update(self, request: Request, name: str) -> Response:
        if not can_manage_templates(request.user):
            raise PermissionDenied("Only platform admins (staff) may turn templates on or off.")
        data = s.TemplateSwitchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template_switches.template_switch(actor=request.user, name=name, **data.validated_data)
        return self.retrieve(request, name)

    @extend_schema(summary="Dry run: the files a run would create (no side effects)",
                   request=s.PreviewRequestSerializer, responses={200: s.PreviewSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, name: str) -> Response:
        data = s.PreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = provisioning_runs.run_preview(template=name, owner=data.validated_data["owner"],
                                      inputs=data.validated_data["inputs"])
        return Response(result)


@extend_schema_view(
    list=extend_schema(summary="List provisioning runs", responses={200: s.RunSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One run with its steps (state, attempts, timings, log, error)",
                           responses={200: s.RunDetailSerializer, 404: ErrorSerializer}),
)
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Provisioning runs: create a service from a golden path, follow it, retry or cancel it."""

    filter_backends = FILTERS
    filterset_class = RunFilter
    ordering_fields = ["created_at", "state", "template"]
    ordering = ["-created_at"]
    lookup_value_regex = r"[0-9a-fA-F-]{32,36}"

    def get_queryset(self) -> QuerySet[ProvisioningRun]:
        queryset = provisioning_runs.run_list()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("steps")
        return queryset

    def get_serializer_class(self) -> type:
        return s.RunDetailSerializer if self.action == "retrieve" else s.RunSerializer

    @extend_schema(
        summary="Create a service from a golden path (202: poll the run's url)",
        request=s.RunRequestSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="Repeat a request safely: the same key and body answer the same run.")],
        responses={202: s.RunSerializer, 200: s.RunSerializer, **ERRORS, 409: ErrorSerializer},
    )
    def create(self, request: Request) -> Response:
        data = s.RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        team = Team.objects.filter(slug=str(values["owner"]).lower()).first()
        if team is None:
            raise InvalidInput.field("owner", f"no team '{values['owner']}'")
        if not can_start_run(request.user, team=team):
            raise PermissionDenied(f"Only members of {team.slug} (or staff) may create services for it.")
        run, created = provisioning_runs.run_create(
            actor=request.user, template=values["template"], owner=team.slug, inputs=values["inputs"],
            idempotency_key=request.headers.get("Idempotency-Key", ""))
        body = s.RunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
                        headers={"Location": body["url"]})

    def _editable(self) -> ProvisioningRun:
        run = self.get_object()
        if not can_act_on_run(self.request.user, run):
            raise PermissionDenied(f"Only members of {run.owner.slug}, the requester or staff may change this run.")
        return run

    @extend_schema(summary="Resume a failed run from its failed step", request=None,
                   responses={202: s.RunDetailSerializer, **ERRORS, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        run = provisioning_runs.run_retry(actor=request.user, run=self._editable())
        return Response(s.RunDetailSerializer(run, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Stop a queued run, or a running one between steps", request=None,
                   responses={202: s.RunDetailSerializer, **ERRORS, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        run = provisioning_runs.run_cancel(actor=request.user, run=self._editable())
        return Response(s.RunDetailSerializer(run, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="My API tokens (never their keys)",
                       responses={200: s.ApiTokenSerializer(many=True), **LIST_ERRORS}),
    create=extend_schema(summary="Create an API token: the key is in this answer only",
                         request=s.ApiTokenRequestSerializer, responses={201: s.ApiTokenCreatedSerializer, **ERRORS}),
    destroy=extend_schema(summary="Revoke one of my tokens (refused at once from then on)",
                          responses={204: None, 404: ErrorSerializer}),
)
class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A person's own API tokens: named, listed, expired and revoked by their owner."""

    serializer_class = s.ApiTokenSerializer
    filter_backends: list = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet:
        return tokens.token_list(self.request.user)

    def create(self, request: Request) -> Response:
        data = s.ApiTokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = tokens.token_create(actor=request.user, user=request.user, name=data.validated_data["name"],
                                         expires_in_days=data.validated_data.get("expires_in_days"))
        token.key = key
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        tokens.token_revoke(actor=request.user, token=tokens.token_of(request.user, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
