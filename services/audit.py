"""Audit events and the context (source, request id) every write is recorded with."""

from __future__ import annotations

import contextlib
import contextvars
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models

from services.models import AuditEvent, CatalogGeneration


@dataclass(frozen=True)
class AuditContext:
    source: str = AuditEvent.Source.COMMAND
    request_id: str = ""


_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "audit_context", default=AuditContext()  # noqa: B039 - a frozen dataclass
)


@contextlib.contextmanager
def audit_source(source: str, request_id: str = "") -> Iterator[AuditContext]:
    """Record writes made inside this block as coming from `source` (web, api, command, worker)."""
    context = AuditContext(source=source, request_id=request_id or uuid.uuid4().hex)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def current_context() -> AuditContext:
    return _context.get()


def audit_record(
    *, actor: Any, action: str, obj: models.Model, changes: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one audit event for `obj`, attributed to `actor` (a user, or None for the system)."""
    context = _context.get()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_name=actor.get_username() if is_user else "system",
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        changes=changes or {},
        source=context.source,
        request_id=context.request_id,
    )


def bump_generation() -> None:
    """Invalidate every cached catalog answer: called inside each write's transaction.

    The counter jumps by a random step, not by one: after a database restore (or a rolled-back
    transaction) it could otherwise come back to a value a shared cache already holds answers for,
    computed from data that no longer exists."""
    step = secrets.randbelow(2**31) + 1
    updated = CatalogGeneration.objects.filter(pk=1).update(value=models.F("value") + step)
    if not updated:
        CatalogGeneration.objects.get_or_create(pk=1, defaults={"value": step})


def current_generation() -> int:
    """The catalog's generation number (one primary-key query)."""
    value = CatalogGeneration.objects.filter(pk=1).values_list("value", flat=True).first()
    return value or 0
