"""The catalog's data model: teams, people, systems, services, runbooks, environments, audit."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Upper

WELL_KNOWN_TYPES = ("service", "website", "library", "worker")
WELL_KNOWN_LIFECYCLES = ("experimental", "production", "deprecated")


class Team(models.Model):
    """A group of people that owns services; declared_by_import marks an owner named but not described."""

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


class Profile(models.Model):
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


class Domain(models.Model):
    """A business area grouping systems (Backstage Domain)."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="domains")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class System(models.Model):
    """An optional grouping of services (Backstage System), kept for compatibility."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    domain = models.ForeignKey(Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="systems")
    owner = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="systems")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Service(models.Model):
    """A deployable thing with exactly one owner: a team, or a single person as Backstage allows."""

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
    lifecycle = models.CharField(max_length=100, blank=True, default="production")
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
    # The word search's haystack (services.api.filters, `?q=`), kept by the database: one LIKE on
    # one stored column instead of UPPER() and LIKE on three (a COUNT over 10,000 services on
    # PostgreSQL: 22 -> 6 ms). A word never holds a space, so none matches across the separators.
    search = models.GeneratedField(
        expression=Upper(Concat("slug", Value(" "), "name", Value(" "), "description",
                                output_field=models.TextField())),
        output_field=models.TextField(), db_persist=True, editable=False,
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(owner_team__isnull=False, owner_user__isnull=True)
                           | Q(owner_team__isnull=True, owner_user__isnull=False)),
                name="service_exactly_one_owner",
            ),
        ]
        indexes = [
            models.Index(fields=["lifecycle"], name="service_lifecycle_idx"),
            models.Index(fields=["type"], name="service_type_idx"),
            # The catalog's pages and count (services.paging): answered from the index alone.
            models.Index(fields=["slug", "id"], condition=models.Q(archived=False), name="service_live_slug_idx"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def repository_url(self) -> str:
        return f"https://{self.repository}" if self.repository else ""


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


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit event through the ORM."""


class AuditEventQuerySet(models.QuerySet):
    """Audit events are added, never changed or removed: bulk updates and deletes are refused.

    Django's deletion collector (deleting a user sets `actor` to NULL, `actor_name` stays) goes
    through the model's base manager, not this one, and keeps working; so does a deliberate
    retention purge, which must name `AuditEvent._base_manager` to do it."""

    def update(self, **kwargs: object) -> int:
        raise AuditLogIsAppendOnly("The audit log is append-only: events cannot be updated.")

    def bulk_update(self, *args: object, **kwargs: object) -> int:
        raise AuditLogIsAppendOnly("The audit log is append-only: events cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("The audit log is append-only: events cannot be deleted.")

    delete.queryset_only = True  # type: ignore[attr-defined]


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, with the change (append-only)."""

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        COMMAND = "command", "Command line"
        WORKER = "worker", "Worker"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=100)
    object_repr = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.COMMAND)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.object_type}:{self.object_repr}"

    def save(self, *args: object, **kwargs: object) -> None:
        """Insert a new event; saving one that exists (or any row with its primary key) is refused."""
        if not self._state.adding:
            raise AuditLogIsAppendOnly("The audit log is append-only: events cannot be changed.")
        # With a primary key set, Django would try an UPDATE first: force the INSERT, so an event
        # built with an existing id fails on the key instead of overwriting that event.
        kwargs["force_insert"] = True
        kwargs.pop("force_update", None)
        kwargs.pop("update_fields", None)
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("The audit log is append-only: events cannot be deleted.")


class CatalogGeneration(models.Model):
    """One row whose counter every catalog write bumps: cached read answers are keyed by it."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.value)


class Heartbeat(models.Model):
    """The last time a process of a kind (a Celery worker) said it was alive."""

    name = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class ProvisioningRun(models.Model):
    """One request to create a service from a golden-path template, advanced step by step by workers."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.CharField(max_length=100)
    template_version = models.CharField(max_length=64)
    inputs = models.JSONField(default=dict)
    owner = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    service_slug = models.SlugField(max_length=63, help_text="The service (and repository) this run creates.")
    host = models.CharField(max_length=20, help_text="Repository host: local or github.")
    repository = models.CharField(max_length=300, blank=True, help_text="host/owner/name once created.")
    web_url = models.CharField(max_length=500, blank=True)
    clone_url = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Waiting (rate limit, backoff) until then.")
    api_calls = models.PositiveIntegerField(default=0, help_text="Calls made to the repository host's API.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"], condition=~Q(idempotency_key=""),
                name="run_unique_idempotency_key",
            ),
            # Two live runs can never race to create the same service.
            models.UniqueConstraint(
                fields=["service_slug"], condition=Q(state__in=["queued", "running"]),
                name="run_unique_active_service",
            ),
        ]
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="run_state_lease_idx")]

    def __str__(self) -> str:
        return f"{self.template} → {self.service_slug} ({self.state})"


class TemplateSetting(models.Model):
    """A platform admin's switch on a golden path: a template turned off starts no new run."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True, help_text="Why it is off, or what to use instead.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({'on' if self.enabled else 'off'})"


class RunStep(models.Model):
    """One action of a run, with its state, attempts, output and log."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(ProvisioningRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=50)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    output = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="step_unique_position")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {self.action} ({self.state})"


class HostThrottle(models.Model):
    """The next moment a write may be sent with one credential: spaces writes from every worker
    process (GitHub asks for at least a second between content-creating requests)."""

    key = models.CharField(max_length=64, unique=True, help_text="A hash of the credential, never the credential.")
    next_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key[:8]} next at {self.next_at:%H:%M:%S.%f}"


class HostWriteSlot(models.Model):
    """A write reserved with one credential at a moment: the rolling-hour budget counts these (rows
    older than an hour are pruned as new ones are reserved; see services/provisioning/throttle.py)."""

    key = models.CharField(max_length=64, help_text="A hash of the credential, never the credential.")
    at = models.DateTimeField(help_text="When the write may be sent (it is sent then or just after).")

    class Meta:
        indexes = [models.Index(fields=["key", "at"], name="write_slot_key_at_idx")]

    def __str__(self) -> str:
        return f"{self.key[:8]} write at {self.at:%H:%M:%S.%f}"


class ApiToken(models.Model):
    """A named API token of a person. Only a hash of the key is kept: the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} · {self.name} ({self.prefix}…)"

    @property
    def state(self) -> str:
        """revoked, expired or active, as of now."""
        from django.utils import timezone

        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"
