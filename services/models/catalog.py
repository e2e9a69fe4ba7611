"""The catalog: teams, people and memberships, domains, systems, services and their dependencies,
APIs and resources and the relations naming them,
runbooks (with revisions) and environments."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Upper

from services.models.locations import HasOrigin

WELL_KNOWN_TYPES = ("service", "website", "library", "worker")
WELL_KNOWN_LIFECYCLES = ("experimental", "production", "deprecated")


def _one_owner(name: str) -> models.CheckConstraint:
    """Exactly one owner: a team, or a single person as Backstage allows."""
    return models.CheckConstraint(
        condition=(Q(owner_team__isnull=False, owner_user__isnull=True)
                   | Q(owner_team__isnull=True, owner_user__isnull=False)),
        name=name,
    )


class Team(HasOrigin):
    """A group of people that owns services; declared_by_import marks an owner named but not described."""

    namespace = models.CharField(max_length=63, default="default", help_text=(
        "The Backstage namespace; outside `default` the slug is `<namespace>--<name>`."))
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    email = models.EmailField(blank=True)
    chat_channel = models.CharField(max_length=200, blank=True)
    on_call = models.CharField(max_length=500, blank=True, help_text="Schedule name or URL.")
    github_team_slug = models.CharField(max_length=100, blank=True)
    github_team_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Learnt from GitHub by the first run; spares later runs a lookup."
    )
    team_type = models.CharField(max_length=50, blank=True, default="team")
    annotations = models.JSONField(default=dict, blank=True)
    declared_by_import = models.BooleanField(
        default=False, help_text="Named as an owner by an imported descriptor, not described by one."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Profile(HasOrigin):
    """What the catalog knows of a person beyond Django's user: display name and picture."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=200, blank=True)
    picture = models.URLField(max_length=500, blank=True)
    declared_by_import = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class Membership(models.Model):
    """A person's place in a team."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Lead"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]
        ordering = ["team__slug", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Domain(HasOrigin):
    """A business area grouping systems (Backstage Domain)."""

    namespace = models.CharField(max_length=63, default="default", help_text=(
        "The Backstage namespace; outside `default` the slug is `<namespace>--<name>`."))
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="domains")
    owner_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="owned_domains", help_text="A person owning it (Backstage "
                                                                           "allows one), when no team does.")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class System(HasOrigin):
    """An optional grouping of services (Backstage System), kept for compatibility."""

    namespace = models.CharField(max_length=63, default="default", help_text=(
        "The Backstage namespace; outside `default` the slug is `<namespace>--<name>`."))
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    domain = models.ForeignKey(Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="systems")
    owner = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="systems")
    owner_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="owned_systems", help_text="A person owning it (Backstage "
                                                                           "allows one), when no team does.")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Service(HasOrigin):
    """A deployable thing with exactly one owner: a team, or a single person as Backstage allows."""

    namespace = models.CharField(max_length=63, default="default", help_text=(
        "The Backstage namespace; outside `default` the slug is `<namespace>--<name>`."))
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="owned_services"
    )
    type = models.CharField(max_length=100, blank=True, default="service")
    # Not "production" by default: a service is production when someone says so.
    lifecycle = models.CharField(max_length=100, blank=True, default="experimental")
    tier = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text="Criticality: 1 is most critical.",
    )
    language = models.CharField(max_length=50, blank=True)
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL, related_name="services")
    # The normalized key of repository lookups: "host/owner/name", lower case, no scheme, no ".git".
    repository = models.CharField(max_length=300, null=True, blank=True, unique=True)
    links = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    template = models.CharField(max_length=100, blank=True)
    template_version = models.CharField(max_length=100, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The word search's haystack (services.catalog.search, `?q=`), kept by the database: one LIKE on
    # one stored column instead of UPPER() and LIKE on three (a COUNT over 10,000 services on
    # PostgreSQL: 22 -> 6 ms). A word never holds a space, so none matches across the separators.
    search = models.GeneratedField(
        expression=Upper(Concat("slug", Value(" "), "name", Value(" "), "description",
                                output_field=models.TextField())),
        output_field=models.TextField(), db_persist=True, editable=False,
    )

    class Meta:
        ordering = ["slug"]
        constraints = [_one_owner("service_exactly_one_owner")]
        indexes = [
            models.Index(fields=["lifecycle"], name="service_lifecycle_idx"),
            models.Index(fields=["type"], name="service_type_idx"),
            # The catalog's pages and count (services.http.paging): answered from the index alone.
            models.Index(fields=["slug", "id"], condition=models.Q(archived=False), name="service_live_slug_idx"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def repository_url(self) -> str:
        """Its web page ("" for the local host's bare repositories, which have none)."""
        from services.hosts.repository_keys import repository_web_url  # models load before the hosts

        return repository_web_url(self.repository)

    @property
    def local_clone(self) -> str:
        """Where a repository of the local host can be cloned from ("" elsewhere)."""
        return str((self.annotations or {}).get("slipway.dev/local-repository", "")) if not self.repository_url else ""


class NamespacedEntity(HasOrigin):
    """What an API and a Resource share: a Backstage identity (namespace and name, unique ignoring
    case, as Backstage's), one owner, a system, and the descriptor's free fields."""

    namespace = models.CharField(max_length=63, default="default")
    slug = models.CharField(max_length=63, help_text="metadata.name in lower case: the key with the namespace.")
    name = models.CharField(max_length=63, help_text="metadata.name as written.")
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=100)
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    owner_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    links = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["namespace", "slug"]

    def __str__(self) -> str:
        return self.slug if self.namespace == "default" else f"{self.namespace}/{self.slug}"

    @property
    def display_name(self) -> str:
        return self.title or self.name

    @property
    def ref(self) -> str:
        """Its Backstage entity reference, as the relations that name it store it."""
        return f"{self.ref_kind}:{self.namespace}/{self.slug}"

    ref_kind = ""


class Api(NamespacedEntity):
    """An interface (Backstage API: openapi, asyncapi, graphql, grpc or free text) with its definition.

    A descriptor gives the definition inline, or as a `$text`/`$json`/`$yaml` placeholder naming a
    file or URL: a worker fetches it (services.catalog.sync.definitions), never a request; until then,
    or when it cannot be fetched, the API is kept with the state and the reason."""

    class DefinitionState(models.TextChoices):
        INLINE = "inline", "Given in the descriptor"
        RESOLVED = "resolved", "Fetched"
        PENDING = "pending", "Not fetched yet"
        UNRESOLVED = "unresolved", "Could not be fetched"
        NONE = "none", "No definition given"

    lifecycle = models.CharField(max_length=100)
    definition = models.TextField(blank=True)
    definition_placeholder = models.CharField(max_length=10, blank=True, help_text="$text, $json or $yaml.")
    definition_target = models.CharField(max_length=1000, blank=True,
                                         help_text="The placeholder's file or URL, as written.")
    definition_state = models.CharField(max_length=12, choices=DefinitionState.choices,
                                        default=DefinitionState.INLINE)
    definition_error = models.CharField(max_length=500, blank=True)
    definition_etag = models.CharField(max_length=200, blank=True)
    definition_fetched_at = models.DateTimeField(null=True, blank=True)
    remotes = models.JSONField(default=list, blank=True, help_text="spec.remotes: where the API is served "
                                                                  "(type and url), for one given without a definition.")

    ref_kind = "api"

    class Meta(NamespacedEntity.Meta):
        constraints = [
            models.UniqueConstraint(fields=["namespace", "slug"], name="api_unique_name"),
            _one_owner("api_exactly_one_owner"),
        ]
        indexes = [models.Index(fields=["definition_state"], name="api_definition_state_idx")]


class Resource(NamespacedEntity):
    """Infrastructure a service needs (Backstage Resource: a database, a queue, a bucket)."""

    ref_kind = "resource"

    class Meta(NamespacedEntity.Meta):
        constraints = [
            models.UniqueConstraint(fields=["namespace", "slug"], name="resource_unique_name"),
            _one_owner("resource_exactly_one_owner"),
        ]


class EntityLink(models.Model):
    """A relation a component or a resource states by reference (Backstage's providesApis,
    consumesApis, dependsOn, dependencyOf); a component's dependsOn is a ServiceDependency. The
    target is a reference, so a link to an entity not yet in the catalog holds until it arrives."""

    class Relation(models.TextChoices):  # the descriptor's field names
        PROVIDES_APIS = "providesApis", "Provides APIs"
        CONSUMES_APIS = "consumesApis", "Consumes APIs"
        DEPENDS_ON = "dependsOn", "Depends on"
        DEPENDENCY_OF = "dependencyOf", "Dependency of"

    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.CASCADE, related_name="links_out")
    resource = models.ForeignKey(Resource, null=True, blank=True, on_delete=models.CASCADE, related_name="links_out")
    relation = models.CharField(max_length=20, choices=Relation.choices)
    target_ref = models.CharField(max_length=300, help_text="Entity reference, e.g. api:default/payments-api.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=(Q(service__isnull=False, resource__isnull=True)
                                              | Q(service__isnull=True, resource__isnull=False)),
                                   name="entitylink_one_source"),
            models.UniqueConstraint(fields=["service", "relation", "target_ref"], condition=Q(service__isnull=False),
                                    name="entitylink_unique_service"),
            models.UniqueConstraint(fields=["resource", "relation", "target_ref"],
                                    condition=Q(resource__isnull=False), name="entitylink_unique_resource"),
        ]
        indexes = [models.Index(fields=["target_ref"], name="entitylink_target_ref_idx")]

    def __str__(self) -> str:
        return f"{self.service or self.resource} {self.relation} {self.target_ref}"


class ServiceDependency(models.Model):
    """service depends on target; target_ref is kept so a dependency on a service not yet in the
    catalog is linked when that service arrives."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependencies")
    target = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="dependents"
    )
    target_ref = models.CharField(max_length=300, help_text="Entity reference, e.g. component:default/payments.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "target_ref"], name="dependency_unique_ref"),
        ]
        indexes = [models.Index(fields=["target_ref"], name="dependency_target_ref_idx")]

    def __str__(self) -> str:
        return f"{self.service} -> {self.target_ref}"


class Runbook(models.Model):
    """Operational instructions for a service, in Markdown; every edit keeps a revision."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="runbooks")
    slug = models.SlugField(max_length=100)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # Rendered once, when saved (catalog.writes; catalog.markdown bounds the work): reads never render.
    html = models.TextField(blank=True, editable=False, help_text="The body as sanitized HTML.")
    html_title_end = models.PositiveIntegerField(
        default=0, editable=False, help_text="Where an opening <h1> repeating the title ends in `html` (the page "
                                             "leaves it out); 0 when there is none.")
    # A date, not a time: "I reviewed this runbook today", and staleness is counted in days.
    last_reviewed = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["service", "slug"], name="runbook_unique_slug")]

    def __str__(self) -> str:
        return f"{self.service}: {self.title}"


class RunbookRevision(models.Model):
    """The runbook as it was after one edit."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # The change from the revision before, computed once when saved (catalog.writes, bounded by
    # catalog.markdown): the history page reads it and never diffs.
    line_count = models.PositiveIntegerField(default=0)
    previous_line_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Lines of the revision before; empty for the first revision.")
    diff = models.TextField(blank=True, help_text="Unified diff of the body against the revision before; empty "
                                                  "when the text is the same or the diff too large.")
    diff_too_large = models.BooleanField(default=False, help_text="Too many lines changed to show a line diff.")

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [models.UniqueConstraint(fields=["runbook", "number"], name="revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.runbook} r{self.number}"


class Environment(models.Model):
    """A deployment target of a service and its protection rules."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, blank=True)
    required_reviewers = models.JSONField(default=list, blank=True, help_text="Team slugs or usernames.")
    wait_timer = models.PositiveIntegerField(default=0, help_text="Minutes to wait before deploying.")
    branch_policy = models.CharField(max_length=200, blank=True, help_text="Branch name pattern allowed to deploy.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__slug", "name"]
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="environment_unique_name")]

    def __str__(self) -> str:
        return f"{self.service}/{self.name}"
