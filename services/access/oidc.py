"""Single sign-on: people signing in through the company's OpenID Connect provider are matched to
catalog people by username (the `preferred_username` claim), then by e-mail, so an imported
person signs in as themselves instead of as a new account."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from mozilla_django_oidc.auth import OIDCAuthenticationBackend


def _username(claims: dict[str, Any]) -> str:
    return str(claims.get("preferred_username") or claims.get("email", "").split("@")[0] or claims.get("sub", ""))[:150]


class SlipwayOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc, matching on username then e-mail."""

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet:
        users = get_user_model().objects.filter(username__iexact=_username(claims))
        if users.exists() or not claims.get("email"):
            return users
        return get_user_model().objects.filter(email__iexact=claims["email"])

    def create_user(self, claims: dict[str, Any]) -> Any:
        user = get_user_model().objects.create_user(username=_username(claims), email=claims.get("email", ""))
        user.first_name = str(claims.get("given_name", ""))[:150]
        user.last_name = str(claims.get("family_name", ""))[:150]
        user.set_unusable_password()
        user.save()
        return user
