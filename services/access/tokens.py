"""API tokens: created with a name and an optional expiry, shown once, stored as a SHA-256 hash,
listed and revoked by their owner. A revoked or expired token is refused at once. A client sends one
as `Authorization: Token <key>` or `Authorization: Bearer <key>` (most HTTP tools default to Bearer)."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from services.audit import audit_record
from services.errors import InvalidInput, NotFound
from services.models import ApiToken

KEY_PREFIX = "slw_"
MAX_EXPIRY_DAYS = 3650
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


AUTHORIZATION_SCHEMES = ("token", "bearer")  # compared case-insensitively, as HTTP says of schemes


class TokenRefused(Exception):
    """The key is unknown, revoked, expired, or its owner is deactivated; the message says which."""


def key_from_authorization(header: str) -> str | None:
    """The key of an `Authorization: Token <key>` or `Bearer <key>` header; None for any other header
    (no header, another scheme, no key, or more than one word after the scheme)."""
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in AUTHORIZATION_SCHEMES:
        return None
    return parts[1]


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _expiry_days(value: Any) -> int | None:
    """None (never), or a whole number of days from 1 to MAX_EXPIRY_DAYS given as a number or its digits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 5:
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_EXPIRY_DAYS:
        return value
    raise ValueError


@transaction.atomic
def token_create(*, actor: Any, user: Any, name: str, expires_in_days: Any = None) -> tuple[ApiToken, str]:
    """A new token for `user`; answers (token, key) — the key is never stored and never shown again.
    Every field is checked before answering, so a form shows all its errors at once."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100 or not name.isprintable():
        errors["name"] = ["a name of 1-100 printable characters"]
    try:
        expires_in_days = _expiry_days(expires_in_days)
    except ValueError:
        errors["expires_in_days"] = [f"a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or empty for never"]
    if errors:
        raise InvalidInput("; ".join(f"Invalid value for '{field}': {problems[0]}" for field, problems in errors.items()),
                           errors)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:12], digest=key_digest(key),
        expires_at=timezone.now() + datetime.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit_record(actor=actor, action="token.create", obj=token,
                 changes={"name": name, "user": user.get_username(), "expires_at": str(token.expires_at or "")})
    return token, key


@transaction.atomic
def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke a token now (kept, for the record)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="token.revoke", obj=token, changes={"name": token.name})
    return token


def token_list(user: Any) -> QuerySet[ApiToken]:
    """A person's own tokens, newest first."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_of(user: Any, token_id: Any) -> ApiToken:
    """One of the person's own tokens (someone else's is as good as missing)."""
    token = ApiToken.objects.filter(user=user, pk=token_id).first() if str(token_id).isdigit() else None
    if token is None:
        raise NotFound(f"You have no token {token_id}.")
    return token


def token_authenticate(key: str) -> tuple[Any, ApiToken]:
    """The user a key belongs to, or TokenRefused saying why."""
    token = ApiToken.objects.select_related("user").filter(digest=key_digest(key)).first()
    if token is None:
        raise TokenRefused("Invalid token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused("This token was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("This token has expired.")
    if not token.user.is_active:
        raise TokenRefused("The token's user is deactivated.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # no save(): no generation bump
    return token.user, token


def token_valid_until(key: str) -> float | None:
    """For the API's fast path: None if the key is refused now, else the epoch second it expires
    (0 for never)."""
    row = (ApiToken.objects.filter(digest=key_digest(key), revoked_at__isnull=True, user__is_active=True)
           .values_list("pk", "expires_at").first())
    if row is None:
        return None
    expires_at = row[1]
    if expires_at is None:
        return 0.0
    return expires_at.timestamp() if expires_at > timezone.now() else None
