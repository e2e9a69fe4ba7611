"""Provisioning runs and their steps, golden-path switches, the hosts' write budget per credential,
and the workers' heartbeat."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from services.models.catalog import Team


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
    older than an hour are pruned as new ones are reserved; see services/hosts/budget.py)."""

    key = models.CharField(max_length=64, help_text="A hash of the credential, never the credential.")
    at = models.DateTimeField(help_text="When the write may be sent (it is sent then or just after).")

    class Meta:
        indexes = [models.Index(fields=["key", "at"], name="write_slot_key_at_idx")]

    def __str__(self) -> str:
        return f"{self.key[:8]} write at {self.at:%H:%M:%S.%f}"
