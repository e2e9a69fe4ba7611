"""The append-only audit log, and the catalog generation that keys every cached catalog read."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
    """One row whose counters key the caches: `value`, bumped by every catalog write, keys cached read
    answers; `access`, bumped when a token is created or revoked or a person changes, keys what the
    API's fast path remembers of tokens. Both are read in one query a request."""

    value = models.BigIntegerField(default=0)
    access = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.value)
