"""`Authorization: Token <key>` against hashed API tokens (services/access/tokens.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from services.access.tokens import TokenRefused, token_authenticate


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing, our token store: a refused key says why (revoked, expired...)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        try:
            return token_authenticate(key)
        except TokenRefused as refused:
            raise exceptions.AuthenticationFailed(str(refused)) from None
