"""Golden-path templates and provisioning runs over the API: list and preview templates (admins turn
them off and on), accept a run (202, persisted before it is queued), follow, retry and cancel it."""

from __future__ import annotations

from typing import Any

import orjson
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from services.access.permissions import (
    can_act_on_run,
    can_manage_templates,
    can_start_run,
)
from services.api.errors import ERRORS, LIST_ERRORS, ErrorSerializer
from services.api.filters import FILTERS
from services.api.serializers import ReadSerializer, StrictSerializer
from services.catalog.writes import resolve_team
from services.errors import InvalidInput
from services.models import (
    ProvisioningRun,
    RunStep,
    Team,
)
from services.scaffolder import runs as provisioning_runs
from services.scaffolder import switches, templates
from services.scaffolder.runs import RunFilter

# ---------------------------------------------------------------------------------------------
# Templates and provisioning runs.


class TemplateSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField()
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    version = serializers.CharField(help_text="Content hash of the template folder.")
    environments = serializers.ListField(child=serializers.DictField())
    inputs_schema = serializers.SerializerMethodField(help_text="JSON Schema of the inputs.")
    enabled = serializers.SerializerMethodField(help_text="False when a platform admin turned it off: no new runs.")
    note = serializers.SerializerMethodField(help_text="Why it is off, or what to use instead.")

    def get_url(self, obj: Any) -> str:
        return reverse("api:template-detail", kwargs={"name": obj.name}, request=self.context.get("request"))

    def _switch(self, obj: Any) -> Any:
        return self.context.get("switches", {}).get(obj.name)

    def get_enabled(self, obj: Any) -> bool:
        switch = self._switch(obj)
        return switch is None or switch.enabled

    def get_note(self, obj: Any) -> str:
        switch = self._switch(obj)
        return switch.note if switch is not None else ""

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_inputs_schema(self, obj: Any) -> dict[str, Any]:
        return obj.json_schema()


class TemplateSwitchSerializer(StrictSerializer):
    enabled = serializers.BooleanField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


def _storable_inputs(inputs: Any) -> Any:
    """Inputs are stored and fingerprinted as JSON by orjson, which refuses integers beyond 64 bits
    (a 500 before this check)."""
    try:
        orjson.dumps(inputs)
    except TypeError:
        raise serializers.ValidationError("numbers must fit in 64 bits") from None
    return inputs


class RunRequestSerializer(StrictSerializer):
    template = serializers.CharField(max_length=100)
    owner = serializers.CharField(max_length=100, help_text="Slug of the team that will own the service.")
    inputs = serializers.JSONField(help_text="Values for the template's inputs (see its inputs_schema).")

    def validate_inputs(self, inputs: Any) -> Any:
        return _storable_inputs(inputs)


class PreviewRequestSerializer(StrictSerializer):
    owner = serializers.CharField(max_length=100)
    inputs = serializers.JSONField()

    def validate_inputs(self, inputs: Any) -> Any:
        return _storable_inputs(inputs)


class PreviewFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    content = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    template = serializers.CharField()
    version = serializers.CharField()
    tree = serializers.ListField(child=serializers.CharField())
    files = PreviewFileSerializer(many=True)


class RunStepSerializer(ReadSerializer):
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = RunStep
        fields = ["position", "action", "params", "state", "attempts", "started_at", "finished_at",
                  "duration_seconds", "log", "error"]

    def get_duration_seconds(self, obj: RunStep) -> float | None:
        if obj.started_at and obj.finished_at:
            return round((obj.finished_at - obj.started_at).total_seconds(), 3)
        return None


class RunSerializer(ReadSerializer):
    url = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    repository = serializers.SerializerMethodField()
    service = serializers.SerializerMethodField(help_text="The registered service's slug, once the run succeeded.")

    class Meta:
        model = ProvisioningRun
        fields = ["url", "id", "state", "template", "template_version", "owner", "requested_by", "inputs",
                  "service_slug", "service", "host", "repository", "api_calls", "error", "cancel_requested",
                  "not_before", "created_at", "started_at", "finished_at"]

    def get_url(self, obj: ProvisioningRun) -> str:
        return reverse("api:run-detail", kwargs={"pk": obj.pk}, request=self.context.get("request"))

    @extend_schema_field({"type": "object", "nullable": True, "description": "null until the repository exists.",
                          "properties": {"key": {"type": "string"}, "web_url": {"type": "string"},
                                         "clone_url": {"type": "string"}}})
    def get_repository(self, obj: ProvisioningRun) -> dict[str, str] | None:
        if not obj.repository:
            return None
        return {"key": obj.repository, "web_url": obj.web_url, "clone_url": obj.clone_url}

    def get_service(self, obj: ProvisioningRun) -> str | None:
        return obj.service_slug if obj.state == ProvisioningRun.State.SUCCEEDED else None


class RunDetailSerializer(RunSerializer):
    steps = RunStepSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps"]


# ---------------------------------------------------------------------------------------------
# Golden-path templates and provisioning runs.


class TemplateViewSet(viewsets.ViewSet):
    """Golden-path templates: what they create and the JSON Schema of their inputs."""

    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    serializer_class = TemplateSerializer

    def _context(self) -> dict[str, Any]:
        return {"request": self.request, "switches": switches.switches()}

    @extend_schema(summary="List golden-path templates", responses={200: TemplateSerializer(many=True)})
    def list(self, request: Request) -> Response:
        definitions = templates.template_list()
        return Response(TemplateSerializer(definitions, many=True, context=self._context()).data)

    @extend_schema(summary="One template, with the JSON Schema of its inputs",
                   responses={200: TemplateSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, name: str) -> Response:
        template = templates.template_get(name)
        return Response(TemplateSerializer(template, context=self._context()).data)

    @extend_schema(summary="Turn a template off or on again (platform admins)", request=TemplateSwitchSerializer,
                   responses={200: TemplateSerializer, **ERRORS})
    def partial_update(self, request: Request, name: str) -> Response:
        if not can_manage_templates(request.user):
            raise PermissionDenied("Only platform admins (staff) may turn templates on or off.")
        data = TemplateSwitchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        switches.template_switch(actor=request.user, name=name, **data.validated_data)
        return self.retrieve(request, name)

    @extend_schema(summary="Dry run: the files a run would create (no side effects)",
                   request=PreviewRequestSerializer, responses={200: PreviewSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, name: str) -> Response:
        data = PreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = resolve_team(data.validated_data["owner"], field="owner")
        if not can_start_run(request.user, team=team):  # as the wizard's preview: only for one's own teams
            raise PermissionDenied(f"Only members of {team.name} (or staff) may preview services for it.")
        result = provisioning_runs.run_preview(template=name, owner=data.validated_data["owner"],
                                      inputs=data.validated_data["inputs"])
        return Response(result)


@extend_schema_view(
    list=extend_schema(summary="List provisioning runs", responses={200: RunSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One run with its steps (state, attempts, timings, log, error)",
                           responses={200: RunDetailSerializer, 404: ErrorSerializer}),
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
        return RunDetailSerializer if self.action == "retrieve" else RunSerializer

    @extend_schema(
        summary="Create a service from a golden path (202: poll the run's url)",
        request=RunRequestSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="Repeat a request safely: the same key and body answer the same run.")],
        responses={202: RunSerializer, 200: RunSerializer, **ERRORS, 409: ErrorSerializer,
                   429: OpenApiResponse(ErrorSerializer, description="Too many runs under way or started today by "
                                        "you or the team (Retry-After says when to try again).")},
    )
    def create(self, request: Request) -> Response:
        data = RunRequestSerializer(data=request.data)
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
        body = RunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
                        headers={"Location": body["url"]})

    def _editable(self) -> ProvisioningRun:
        run = self.get_object()
        if not can_act_on_run(self.request.user, run):
            raise PermissionDenied(f"Only members of {run.owner.slug}, the requester or staff may change this run.")
        return run

    @extend_schema(summary="Resume a failed run from its failed step", request=None,
                   responses={202: RunDetailSerializer, **ERRORS, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        run = provisioning_runs.run_retry(actor=request.user, run=self._editable())
        return Response(RunDetailSerializer(run, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Stop a queued run, or a running one between steps", request=None,
                   responses={202: RunDetailSerializer, **ERRORS, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        run = provisioning_runs.run_cancel(actor=request.user, run=self._editable())
        return Response(RunDetailSerializer(run, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)
