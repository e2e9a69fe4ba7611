"""Audit events and the context (source, request id) every write is recorded with."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest

from services.models import ApiToken, AuditEvent

TOKEN_OBJECT_TYPE = ApiToken._meta.model_name


@dataclass(frozen=True)
class AuditContext:
    source: str = AuditEvent.Source.COMMAND
    request_id: str = ""


_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "audit_context", default=AuditContext()  # noqa: B039 - a frozen dataclass
)


@contextlib.contextmanager
def audit_source(source: str, request_id: str = "") -> Iterator[AuditContext]:
    """Record writes made inside this block as coming from `source` (web, api, command, worker).

    Without a `request_id`, a block inside another of the same source keeps the outer one's id (a
    worker task's events share the task's id); otherwise a new id is made."""
    outer = _context.get()
    if not request_id and outer.source == source:
        request_id = outer.request_id
    context = AuditContext(source=source, request_id=request_id or uuid.uuid4().hex)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def current_context() -> AuditContext:
    """The source and request id the next audit event is recorded with.

    Outside any audit_source block (a management command, a shell) the source is `command` and an
    id is made on first use and kept for the rest of the process (or thread): every event of one
    command run shares it."""
    context = _context.get()
    if not context.request_id:
        context = AuditContext(source=context.source, request_id=uuid.uuid4().hex)
        _context.set(context)
    return context


def audit_record(
    *, actor: Any, action: str, obj: models.Model, changes: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one audit event for `obj`, attributed to `actor` (a user, or None for the system)."""
    context = current_context()
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


def object_keys(queryset: QuerySet) -> QuerySet:
    """The primary keys of `queryset` as text, the type of AuditEvent.object_id: a subquery to match
    events of those rows in the same query."""
    return queryset.order_by().annotate(audit_key=Cast("pk", models.CharField())).values("audit_key")


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    """The audit events `user` may read: every signed-in person reads the catalog's; events about an
    API token only its owner and staff (a token's name and expiry are its owner's business)."""
    from services.access.permissions import (
        can_read_catalog,  # permissions may come to import the service layer
    )

    if not can_read_catalog(user):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.all()
    if user.is_staff:
        return events
    own_tokens = object_keys(ApiToken.objects.filter(user_id=user.pk))
    return events.filter(~Q(object_type=TOKEN_OBJECT_TYPE) | Q(object_id__in=own_tokens))


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch: "$" would let a trailing newline through
REQUEST_ID_META = "slipway.request_id"


def request_id_of(request: HttpRequest) -> str:
    """The request's id: a well-formed incoming X-Request-ID (at most 64 of A-Z a-z 0-9 . _ -), else a
    new one. Kept on the request, so every middleware that answers it echoes the same id."""
    request_id = request.META.get(REQUEST_ID_META)
    if request_id is None:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        # 32 hex digits as uuid4().hex, at a fifth of its cost (it is paid on the fast path too).
        request_id = given if _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        request.META[REQUEST_ID_META] = request_id
    return request_id
