"""`Authorization: Token <key>` or `Bearer <key>` against hashed API tokens (services/access/tokens.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from services.access.tokens import AUTHORIZATION_SCHEMES, TokenRefused, token_authenticate


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token header parsing, for both schemes, and our token store: a refused key says why
    (revoked, expired...)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        words = authentication.get_authorization_header(request).split()
        if not words or words[0].lower().decode("latin-1") not in AUTHORIZATION_SCHEMES:
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: say 'Token <key>' or 'Bearer <key>'."))
        try:
            key = words[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header: the key has characters no key has.")) from None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        try:
            return token_authenticate(key)
        except TokenRefused as refused:
            raise exceptions.AuthenticationFailed(str(refused)) from None
