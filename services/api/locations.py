"""Locations over the API: list and read them (sources, conflicts, orphans), register a repository
(after a dry run a worker answers), refresh, hand a conflicting entry to a location, delete."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from services.access.permissions import can_manage_location, can_move_entries, can_register_location
from services.api.errors import ERRORS, LIST_ERRORS, ErrorSerializer
from services.catalog.sync import locations, plans
from services.errors import InvalidInput, NotFound
from services.models import CatalogConflict, Location, LocationSource, Team


class ConflictSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogConflict
        fields = ["kind", "name", "path", "held_by", "message", "first_seen", "last_seen"]


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = LocationSource
        fields = ["path", "state", "entities", "error", "named_by", "read_at"]


class LocationSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    conflict_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Location
        fields = ["id", "label", "kind", "host", "target", "path", "ref", "team", "state", "refresh_seconds",
                  "next_refresh_at", "last_refreshed_at", "last_changed_at", "last_error", "summary",
                  "conflict_count", "created_at"]


class LocationDetailSerializer(LocationSerializer):
    sources = SourceSerializer(many=True, read_only=True)
    conflicts = ConflictSerializer(many=True, read_only=True)

    class Meta(LocationSerializer.Meta):
        fields = [*LocationSerializer.Meta.fields, "sources", "conflicts"]


class LocationWriteSerializer(serializers.Serializer):
    organisation = serializers.CharField(max_length=200, required=False, help_text=(
        "Instead of `url` (platform admins): every repository of this organisation holding `path` is "
        "discovered at each refresh; archived ones are left out."))
    path = serializers.CharField(max_length=300, required=False, default="catalog-info.yaml",
                                 help_text="With `organisation`: the descriptor's path in each repository.")
    url = serializers.CharField(max_length=500, required=False, help_text="A repository (owner/name, its URL, or localhost/owner/name "
                                                          "on the local host) or the URL of its catalog-info.yaml.")
    team = serializers.CharField(max_length=100, required=False, allow_null=True, default=None,
                                 help_text="The team it is registered for (members: one of theirs; admins may "
                                           "leave it out, and the location may then describe any entry).")
    refresh_seconds = serializers.IntegerField(required=False, allow_null=True, default=None,
                                               min_value=locations.MIN_REFRESH_SECONDS, max_value=7 * 86400)
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="Plan only: answers 202 with a plan to poll; nothing is registered.")


class MoveSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(locations.ENTRY_MODELS))
    name = serializers.CharField(max_length=300)


PLAN = inline_serializer("LocationPlan", {
    "id": serializers.CharField(), "state": serializers.ChoiceField(choices=["checking", "ready", "failed"]),
    "url": serializers.CharField(), "team": serializers.CharField(allow_null=True),
    "error": serializers.CharField(required=False),
    "counts": serializers.DictField(child=serializers.IntegerField(), required=False),
    "documents": serializers.ListField(child=serializers.DictField(), required=False),
    "file_errors": serializers.ListField(child=serializers.DictField(), required=False),
})


@extend_schema_view(
    list=extend_schema(summary="List locations", responses={200: LocationSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One location: its sources, conflicts and last refresh",
                           responses={200: LocationDetailSerializer, 404: ErrorSerializer}),
    create=extend_schema(
        summary="Register a repository as a location (members for their team), or plan it (dry_run)",
        request=LocationWriteSerializer,
        responses={201: LocationDetailSerializer, 202: PLAN, **ERRORS, 409: ErrorSerializer}),
    destroy=extend_schema(summary="Delete a location (its entries stay, orphaned and unclaimed)",
                          responses={204: None, **ERRORS}),
)
class LocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Where the catalog's entries come from, kept in sync."""

    http_method_names = ["get", "post", "delete", "head", "options"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Location]:
        queryset = Location.objects.select_related("team").annotate(conflict_count=Count("conflicts")).order_by("id")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("sources", "conflicts")
        return queryset

    def get_serializer_class(self) -> type:
        return LocationDetailSerializer if self.action == "retrieve" else LocationSerializer

    def get_object(self) -> Location:
        location = self.get_queryset().filter(pk=_id(self.kwargs["pk"])).first()
        if location is None:
            raise NotFound(f"No location {self.kwargs['pk']!r}.")
        return location

    def create(self, request: Request) -> Response:
        data = LocationWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        team = None
        if values["team"]:
            team = Team.objects.filter(slug=str(values["team"]).lower()).first()
            if team is None:
                raise InvalidInput.field("team", f"no team {values['team']!r}")
        if not can_register_location(request.user, team=team):
            raise PermissionDenied("Members register locations for one of their teams (give `team`); "
                                   "only platform admins register for anyone.")
        if values.get("organisation"):
            if values.get("url") or values["team"] or values["dry_run"]:
                raise InvalidInput.field("organisation", "give `organisation` alone (with `path`), not with `url`, "
                                                         "`team` or `dry_run`")
            if not can_move_entries(request.user):
                raise PermissionDenied("Only platform admins register a whole organisation.")
            location = locations.location_register_organisation(
                actor=request.user, organisation=values["organisation"], path=values["path"],
                refresh_seconds=values["refresh_seconds"])
            return Response(LocationDetailSerializer(self.get_queryset().get(pk=location.pk)).data,
                            status=status.HTTP_201_CREATED)
        if not values.get("url"):
            raise InvalidInput.field("url", "give a repository (owner/name or its URL), a catalog-info.yaml URL, "
                                            "or `organisation`")
        if values["dry_run"]:
            plan = plans.plan_start(url=values["url"], team=team, actor=request.user)
            return Response(_plan_answer(plan), status=status.HTTP_202_ACCEPTED)
        location = locations.location_register(actor=request.user, url=values["url"], team=team,
                                               refresh_seconds=values["refresh_seconds"])
        return Response(LocationDetailSerializer(self.get_queryset().get(pk=location.pk)).data,
                        status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        location = self._manageable(pk)
        locations.location_delete(actor=request.user, location=location)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _manageable(self, pk: str) -> Location:
        location = self.get_object()
        if not can_manage_location(self.request.user, location):
            raise PermissionDenied("Only platform admins and members of the location's team may do that.")
        return location

    @extend_schema(summary="Refresh a location now (answered by a worker)", request=None,
                   responses={202: LocationSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str) -> Response:
        location = self._manageable(pk)
        locations.location_refresh_soon(location=location, actor=request.user)
        return Response(LocationSerializer(self.get_object()).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Hand an entry another origin holds to this location (platform admins)",
                   request=MoveSerializer, responses={202: LocationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def take(self, request: Request, pk: str) -> Response:
        if not can_move_entries(request.user):
            raise PermissionDenied("Only platform admins move entries between origins.")
        location = self.get_object()
        data = MoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        locations.catalog_entry_move(actor=request.user, location=location, **data.validated_data)
        return Response(LocationDetailSerializer(self.get_object()).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="A dry run asked for with dry_run: checking, then ready (or failed)", request=None,
                   responses={200: PLAN, 404: OpenApiResponse(ErrorSerializer)})
    @action(detail=False, methods=["get"], url_path=r"plans/(?P<plan_id>[^/]+)", pagination_class=None,
            filter_backends=[])
    def plan(self, request: Request, plan_id: str) -> Response:
        plan = plans.plan_get(plan_id)
        if plan is None or (plan["requested_by"] != request.user.pk and not request.user.is_staff):
            raise NotFound("No such plan (plans are kept for an hour).")
        return Response(_plan_answer(plan))


def _id(value: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"No location {value!r}.") from None
    if not 0 < number < 2**63:
        raise NotFound(f"No location {value!r}.")
    return number


def _plan_answer(plan: dict) -> dict:
    return {key: value for key, value in plan.items() if key not in ("requested_by", "location")} | {
        "status_url": f"/api/v1/locations/plans/{plan['id']}/"}
