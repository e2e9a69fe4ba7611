"""API representations. Write serializers only parse and validate shapes; rules live in the service layer (services/catalog/)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.manager import BaseManager
from django.utils.http import RFC3986_SUBDELIMS
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, empty, is_simple_callable
from rest_framework.relations import PKOnlyObject, RelatedField
from rest_framework.reverse import reverse

from services.catalog.markdown import MAX_BODY_CHARS
from services.catalog.reads import dependency_rows, entry_conflicts
from services.catalog.refs import (
    ENVIRONMENT_NAME_PATTERN,
    ENVIRONMENT_NAME_RULE,
    MAX_TEXT,
    SLUG_PATTERN,
    SLUG_RULE,
    TAG_PATTERN,
    TAG_RULE,
)
from services.catalog.writes import owner_ref, person_name
from services.models import (
    Domain,
    Environment,
    Membership,
    Origin,
    Runbook,
    Service,
    ServiceDependency,
    System,
    Team,
)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them, instead of silently ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        return super().to_internal_value(data)


# ---------------------------------------------------------------------------------------------
# Read shapes.


class ReadSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose rows are built from a per-serializer plan, without DRF's per-field
    machinery (Field.get_attribute's Mapping check and error handling, the ordered dict), which was
    most of a list's cost: 11 us a field, 7.4 ms for a page of 50 teams (profiled) against ~2 ms.

    The answer is the same by construction: a field whose source is one attribute is read with
    getattr and given to its own to_representation, exactly as DRF does when nothing goes wrong;
    everything else (dotted or '*' sources, callables, primary-key relations, a related object that
    does not exist) goes through DRF's own steps (`_drf_value`)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self._plan = [(field.field_name, _field_reader(field)) for field in self._readable_fields]
        row = {}
        for name, read in plan:
            try:
                row[name] = read(instance)
            except SkipField:  # as DRF: a field whose value could not be read is left out
                continue
        return row


def detail_url(context: dict[str, Any], list_view: str, slug: str) -> str:
    """The list's URL + the quoted slug: what reverse() of the detail view answers, with one reverse
    per answer instead of one per row (a reverse was most of a list row's cost, profiled)."""
    base = context.get(list_view)
    if base is None:
        base = context[list_view] = reverse(list_view, request=context.get("request"))
    return f"{base}{quote(slug, safe=RFC3986_SUBDELIMS + '~:@')}/"  # as reverse() quotes


def _drf_value(field: serializers.Field, instance: Any) -> Any:
    """A field's value as serializers.Serializer.to_representation computes it (SkipField aside: a
    read field with no default raises it only on an error DRF would also report)."""
    attribute = field.get_attribute(instance)
    check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
    return None if check_for_none is None else field.to_representation(attribute)


_PLAIN_GET_ATTRIBUTE = (serializers.Field.get_attribute, RelatedField.get_attribute)


def _field_reader(field: serializers.Field) -> Any:
    if isinstance(field, serializers.SerializerMethodField):
        return getattr(field.parent, field.method_name)
    attrs = field.source_attrs
    plain = type(field).get_attribute in _PLAIN_GET_ATTRIBUTE  # not ManyRelatedField's .all(), etc.
    pk_only = isinstance(field, RelatedField) and field.use_pk_only_optimization()
    if not plain or len(attrs) != 1 or pk_only or field.default is not empty:
        return lambda instance: _drf_value(field, instance)
    attr, represent = attrs[0], field.to_representation

    def read(instance: Any) -> Any:
        try:
            value = getattr(instance, attr)
        except (ObjectDoesNotExist, AttributeError, KeyError):
            return _drf_value(field, instance)
        if value is None:
            return None
        if is_simple_callable(value):
            return _drf_value(field, instance)
        return represent(value)

    return read


class OwnerDetailSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["team", "user"])
    ref = serializers.CharField()
    name = serializers.CharField()


class DependencySerializer(serializers.Serializer):
    """The shape of a dependency (ServiceSerializer.get_depends_on builds it from catalog.dependency_rows)."""

    ref = serializers.CharField()
    service = serializers.CharField(allow_null=True, help_text="The slug of the service, once it is in the catalog.")


class DependentSerializer(ReadSerializer):
    service = serializers.CharField(source="service.slug")

    class Meta:
        model = ServiceDependency
        fields = ["service"]


class ServiceListSerializer(serializers.ListSerializer):
    """A page of services: their dependencies read for the whole page at once."""

    def to_representation(self, data: Any) -> list[Any]:
        services = list(data.all() if isinstance(data, BaseManager) else data)  # as DRF's ListSerializer
        dependency_rows(services)
        return super().to_representation(services)


class ServiceSerializer(ReadSerializer):
    url = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField(help_text="Team slug, or user:<username> for a person.")
    owner_detail = serializers.SerializerMethodField()
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    repository_url = serializers.CharField(read_only=True)
    depends_on = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = [
            "url", "slug", "namespace", "name", "description", "owner", "owner_detail", "type", "lifecycle", "tier",
            "language", "system", "repository", "repository_url", "links", "tags", "annotations",
            "depends_on", "template", "template_version", "archived", "created_at", "updated_at",
        ]
        list_serializer_class = ServiceListSerializer

    @extend_schema_field(DependencySerializer(many=True))
    def get_depends_on(self, obj: Service) -> list[dict[str, str | None]]:
        rows = getattr(obj, "dependency_rows", None)
        if rows is None:  # one service (a detail, a write's answer): its own query
            dependency_rows([obj])
            rows = obj.dependency_rows
        return [{"ref": ref, "service": slug} for ref, slug in rows]

    def get_url(self, obj: Service) -> str:
        return detail_url(self.context, "api:service-list", obj.slug)

    def get_owner(self, obj: Service) -> str:
        return owner_ref(obj)

    @extend_schema_field(OwnerDetailSerializer)
    def get_owner_detail(self, obj: Service) -> dict[str, str]:
        if obj.owner_team_id:
            return {"kind": "team", "ref": obj.owner_team.slug, "name": obj.owner_team.name}
        return {"kind": "user", "ref": f"user:{obj.owner_user.get_username()}", "name": person_name(obj.owner_user)}


class EnvironmentSerializer(ReadSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Environment
        fields = ["id", "service", "name", "url", "required_reviewers", "wait_timer", "branch_policy",
                  "created_at", "updated_at"]


class RunbookSummarySerializer(ReadSerializer):
    class Meta:
        model = Runbook
        fields = ["id", "slug", "title", "last_reviewed", "updated_at"]


class RunbookSerializer(ReadSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    html = serializers.CharField(read_only=True, help_text="The body rendered from Markdown and sanitized when "
                                                           "it was saved.")

    class Meta:
        model = Runbook
        fields = ["id", "service", "slug", "title", "body", "html", "last_reviewed", "created_at", "updated_at"]


class OriginSerializer(serializers.Serializer):
    """Where an entry comes from, and so who may change it."""

    kind = serializers.ChoiceField(choices=[c for c, _ in Origin.choices],
                                   help_text="manual (the portal), scaffolder (a run), location, or '' (unclaimed: "
                                             "made before origins were kept).")
    location = serializers.IntegerField(allow_null=True)
    label = serializers.CharField(allow_blank=True)
    path = serializers.CharField(allow_blank=True)
    orphaned_at = serializers.DateTimeField(allow_null=True,
                                            help_text="When its location stopped describing it (it is kept).")


class EntryConflictSerializer(serializers.Serializer):
    location = serializers.IntegerField()
    path = serializers.CharField()
    message = serializers.CharField()
    first_seen = serializers.DateTimeField()


class ServiceDetailSerializer(ServiceSerializer):
    environments = EnvironmentSerializer(many=True, read_only=True)
    runbooks = RunbookSummarySerializer(many=True, read_only=True)
    dependents = DependentSerializer(many=True, read_only=True)
    origin = serializers.SerializerMethodField()
    conflicts = serializers.SerializerMethodField()

    class Meta(ServiceSerializer.Meta):
        fields = [*ServiceSerializer.Meta.fields, "environments", "runbooks", "dependents", "origin", "conflicts"]

    @extend_schema_field(OriginSerializer)
    def get_origin(self, obj: Service) -> dict[str, Any]:
        location = obj.origin_location
        return {"kind": obj.origin, "location": obj.origin_location_id, "label": location.label if location else "",
                "path": obj.origin_path, "orphaned_at": obj.orphaned_at}

    @extend_schema_field(EntryConflictSerializer(many=True))
    def get_conflicts(self, obj: Service) -> list[dict[str, Any]]:
        """Descriptors of other locations naming this service: refused, shown until resolved."""
        return [{"location": c.location_id, "path": c.path, "message": c.message, "first_seen": c.first_seen}
                for c in entry_conflicts("Component", obj.slug)]


class MemberSerializer(ReadSerializer):
    username = serializers.CharField(source="user.username")
    name = serializers.SerializerMethodField()
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["username", "name", "email", "role"]

    def get_name(self, obj: Membership) -> str:
        return person_name(obj.user)


class TeamSerializer(ReadSerializer):
    url = serializers.SerializerMethodField()
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Team
        fields = ["url", "slug", "namespace", "name", "description", "parent", "email", "chat_channel", "on_call",
                  "github_team_slug", "team_type", "declared_by_import", "created_at", "updated_at"]

    def get_url(self, obj: Team) -> str:
        return detail_url(self.context, "api:team-list", obj.slug)


class TeamServiceSerializer(ReadSerializer):
    class Meta:
        model = Service
        fields = ["slug", "name", "type", "lifecycle", "tier", "repository", "archived"]


class TeamDetailSerializer(TeamSerializer):
    members = MemberSerializer(source="memberships", many=True, read_only=True)
    services = TeamServiceSerializer(many=True, read_only=True)
    children = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta(TeamSerializer.Meta):
        fields = [*TeamSerializer.Meta.fields, "children", "members", "services"]


class SystemSerializer(ReadSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    owner = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                         help_text="The owning team's slug (null when a person owns it).")
    owner_user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                              help_text="The owning person's username, when no team owns it.")

    class Meta:
        model = System
        fields = ["slug", "name", "description", "domain", "owner", "owner_user"]


class DomainSerializer(ReadSerializer):
    owner = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                         help_text="The owning team's slug (null when a person owns it).")
    owner_user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                              help_text="The owning person's username, when no team owns it.")

    class Meta:
        model = Domain
        fields = ["slug", "name", "description", "owner", "owner_user"]


# ---------------------------------------------------------------------------------------------
# Write shapes.


class LinkSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2000)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    icon = serializers.CharField(max_length=100, required=False, allow_blank=True)
    type = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ServiceWriteSerializer(StrictSerializer):
    slug = serializers.RegexField(
        SLUG_PATTERN, max_length=63, help_text=f"A DNS label: {SLUG_RULE}.", error_messages={"invalid": SLUG_RULE},
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    owner = serializers.CharField(max_length=200, help_text="Team slug, group:<slug> or user:<username>.")
    type = serializers.CharField(max_length=100, required=False, allow_blank=True)
    lifecycle = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tier = serializers.IntegerField(min_value=1, max_value=3, required=False, allow_null=True)
    language = serializers.CharField(max_length=50, required=False, allow_blank=True)
    system = serializers.CharField(max_length=100, required=False, allow_blank=True, allow_null=True)
    repository = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True,
                                       help_text="owner/name, host/owner/name or any URL of the repository.")
    links = LinkSerializer(many=True, required=False, max_length=100)
    tags = serializers.ListField(child=serializers.CharField(max_length=63), required=False, max_length=50)
    annotations = serializers.DictField(child=serializers.CharField(max_length=2000, allow_blank=True),
                                        required=False)
    depends_on = serializers.ListField(child=serializers.CharField(max_length=300), required=False,
                                       max_length=500, help_text="Service slugs or entity references.")
    archived = serializers.BooleanField(required=False)

    def validate_tags(self, tags: list[str]) -> list[str]:
        bad = [tag for tag in tags if not TAG_PATTERN.match(tag)]
        if bad:
            raise serializers.ValidationError(f"a tag is {TAG_RULE}; these are not: {', '.join(repr(t) for t in bad[:3])}")
        return list(dict.fromkeys(tags))

    def validate_annotations(self, annotations: dict[str, str]) -> dict[str, str]:
        if len(annotations) > 100:
            raise serializers.ValidationError("at most 100 annotations")
        bad = [key for key in annotations if not key or len(key) > 253 or not key.isprintable()]
        if bad:
            raise serializers.ValidationError("annotation keys are 1-253 printable characters")
        return annotations


class ServiceUpdateSerializer(ServiceWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("slug")
        for field in self.fields.values():
            field.required = False


class TeamWriteSerializer(StrictSerializer):
    slug = serializers.CharField(max_length=63)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    parent = serializers.CharField(max_length=63, required=False, allow_blank=True, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    chat_channel = serializers.CharField(max_length=200, required=False, allow_blank=True)
    on_call = serializers.CharField(max_length=500, required=False, allow_blank=True)
    github_team_slug = serializers.CharField(max_length=100, required=False, allow_blank=True)


class TeamUpdateSerializer(TeamWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("slug")
        for field in self.fields.values():
            field.required = False


class MembershipWriteSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class MembershipRoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class RunbookWriteSerializer(StrictSerializer):
    service = serializers.CharField(max_length=63)
    title = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=100, required=False, allow_blank=True)
    body = serializers.CharField(max_length=MAX_BODY_CHARS, required=False, allow_blank=True, trim_whitespace=False)
    last_reviewed = serializers.DateField(required=False, allow_null=True)


class RunbookUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(max_length=MAX_BODY_CHARS, required=False, allow_blank=True, trim_whitespace=False)
    last_reviewed = serializers.DateField(required=False, allow_null=True)


class EnvironmentWriteSerializer(StrictSerializer):
    service = serializers.CharField(max_length=63)
    name = serializers.RegexField(ENVIRONMENT_NAME_PATTERN, max_length=100, help_text=f"{ENVIRONMENT_NAME_RULE}.",
                                  error_messages={"invalid": ENVIRONMENT_NAME_RULE})
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    required_reviewers = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                               max_length=6)
    wait_timer = serializers.IntegerField(min_value=0, max_value=43_200, required=False)
    branch_policy = serializers.CharField(max_length=200, required=False, allow_blank=True)


class EnvironmentUpdateSerializer(EnvironmentWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("service")
        for field in self.fields.values():
            field.required = False
