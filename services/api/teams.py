"""Teams over the API: list, read, and what leads change (details, members and their roles)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from services.access.permissions import (
    TEAM_STRUCTURE_FIELDS,
    can_change_team_structure,
    can_edit_team,
    can_manage_members,
)
from services.api import serializers as s
from services.api.errors import ERRORS, LIST_ERRORS, ErrorSerializer
from services.api.filters import FILTERS
from services.catalog import people, reads, writes
from services.catalog.search import TeamFilter
from services.errors import NotFound
from services.models import Team


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
        return reads.team_list()

    def get_serializer_class(self) -> type:
        return s.TeamDetailSerializer if self.action == "retrieve" else s.TeamSerializer

    def get_object(self) -> Team:
        return reads.team_detail(self.kwargs["slug"])

    def _detail(self, slug: str, status_code: int = 200) -> Response:
        team = reads.team_detail(slug)
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
        team = people.team_create(actor=request.user, **data.validated_data)
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
        people.team_update(actor=request.user, team=team, data=values)
        return self._detail(team.slug)

    def _members(self, team: Team) -> Response:
        return Response(s.MemberSerializer(reads.team_members(team), many=True).data)

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
        user = writes.resolve_user(data.validated_data["username"], field="username")
        people.membership_set(actor=request.user, team=team, user=user, role=data.validated_data["role"])
        return self._members(team)

    @extend_schema(methods=["PATCH"], summary="Change a member's role (the team's leads)",
                   request=s.MembershipRoleSerializer, responses={200: s.MemberSerializer(many=True), **ERRORS})
    @extend_schema(methods=["DELETE"], summary="Take a person out of the team (the team's leads)", request=None,
                   responses={204: None, **ERRORS})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<username>[^/]+)")
    def member(self, request: Request, slug: str, username: str) -> Response:
        team = self._members_editable(slug)
        user = writes.resolve_user(username, field="username")
        if request.method == "DELETE":
            people.membership_remove(actor=request.user, team=team, user=user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if not reads.team_members(team).filter(user=user).exists():
            raise NotFound(f"'{username}' is not a member of {team.slug}.")
        data = s.MembershipRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        people.membership_set(actor=request.user, team=team, user=user, role=data.validated_data["role"])
        return self._members(team)
