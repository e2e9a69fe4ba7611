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
from django.db.models import Q, QuerySet
from django.db.models.functions import Cast

from services.models import ApiToken, AuditEvent, CatalogGeneration

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
    from services.permissions import can_read_catalog  # permissions may come to import the service layer

    if not can_read_catalog(user):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.all()
    if user.is_staff:
        return events
    own_tokens = object_keys(ApiToken.objects.filter(user_id=user.pk))
    return events.filter(~Q(object_type=TOKEN_OBJECT_TYPE) | Q(object_id__in=own_tokens))


# Within one request (services.middleware.FastApiMiddleware opens it) the generation is read once: the
# answer cache key, the page cache key and the list count key all use it. A write made by the request
# forgets it, so what is read after the write is keyed by the new generation. (A write by another
# process meanwhile only means this request's later reads, newer than its generation, are kept
# under it: never older data under a newer key.)
_generation_memo: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "slipway_generation_memo", default=None)


@contextlib.contextmanager
def generation_memo() -> Iterator[None]:
    token = _generation_memo.set([])
    try:
        yield
    finally:
        _generation_memo.reset(token)


def remembered_generation() -> list[int] | None:
    """The request's memo: [] before the first read, [generation] after; None outside a request."""
    return _generation_memo.get()


def bump_generation() -> None:
    """Invalidate every cached catalog answer: called inside each write's transaction.

    The counter jumps by a random step, not by one: after a database restore (or a rolled-back
    transaction) it could otherwise come back to a value a shared cache already holds answers for,
    computed from data that no longer exists."""
    step = secrets.randbelow(2**31) + 1
    memo = _generation_memo.get()
    if memo:
        memo.clear()
    updated = CatalogGeneration.objects.filter(pk=1).update(value=models.F("value") + step)
    if not updated:
        CatalogGeneration.objects.get_or_create(pk=1, defaults={"value": step})

