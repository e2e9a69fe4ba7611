"""Single sign-on: a person signing in through the company's OpenID Connect provider is known by the
provider's stable id for them, the pair (issuer, `sub`), kept as a LinkedIdentity. Names a provider
sends (`preferred_username`, an e-mail's local part) never decide who someone is.

The first sign-in of an identity links it:
- to the existing account with the same e-mail, only if the provider says the e-mail is verified
  (`email_verified` true), exactly one account has it, that account is not staff or superuser
  (an admin links those by hand, in the admin's "Linked identities"), and it has no identity at this
  provider yet (a second identity claiming the same person is refused);
- otherwise to a new account, named after `preferred_username` (or the e-mail's local part) when
  that name is free, and made unique otherwise.
Every later sign-in finds the link and nothing else. A refusal signs no one in and says why.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from services.models import LinkedIdentity

logger = logging.getLogger(__name__)

MAX_CLAIM = 255  # issuer and subject are kept up to this length; longer ones are refused


class SignInRefused(SuspiciousOperation):
    """The provider's answer cannot sign anyone in; the message is shown to the person."""


def _verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _username_base(claims: dict[str, Any]) -> str:
    wanted = str(claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0] or "")
    wanted = unicodedata.normalize("NFKC", wanted)
    cleaned = "".join(ch for ch in wanted if ch.isalnum() or ch in "@.+-_")[:140]
    return cleaned or "person"


class SlipwayOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc, linking accounts by (issuer, sub) as the module docstring says."""

    def get_or_create_user(self, access_token: Any, id_token: Any, payload: dict[str, Any]) -> Any:
        try:
            return self._sign_in(access_token, id_token, payload)
        except SignInRefused as refused:
            request = getattr(self, "request", None)
            if request is not None and hasattr(request, "_messages"):
                messages.error(request, f"Single sign-on could not sign you in: {refused}")
            raise

    def _sign_in(self, access_token: Any, id_token: Any, payload: dict[str, Any]) -> Any:
        claims = self.get_userinfo(access_token, id_token, payload)
        subject, issuer = str(payload.get("sub") or ""), self._issuer(payload)
        if not subject or len(subject) > MAX_CLAIM or len(issuer) > MAX_CLAIM:
            raise SignInRefused("the provider sent no usable subject (sub) for you.")
        if claims.get("sub") is not None and str(claims["sub"]) != subject:
            # OpenID Connect Core 5.3.2: the UserInfo answer must be about the ID token's subject.
            raise SignInRefused("the provider's answers disagree about who you are.")
        link = LinkedIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if link is not None:
            if not link.user.is_active:
                raise SignInRefused("your account is deactivated.")
            LinkedIdentity.objects.filter(pk=link.pk).update(last_used_at=timezone.now())
            return self.update_user(link.user, claims)
        try:
            with transaction.atomic():
                user = self._existing_account(claims, issuer) or self.create_user(claims)
                LinkedIdentity.objects.create(user=user, issuer=issuer, subject=subject, last_used_at=timezone.now())
        except IntegrityError:
            # The same identity signing in twice at once: the other request linked it first.
            raise SignInRefused("this identity was being linked by another sign-in; try again.") from None
        logger.info("oidc.linked", extra={"user": user.pk, "issuer": issuer})
        return user

    def _issuer(self, payload: dict[str, Any]) -> str:
        return str(payload.get("iss") or self.get_settings("OIDC_OP_TOKEN_ENDPOINT", ""))

    def _existing_account(self, claims: dict[str, Any], issuer: str) -> Any:
        """The account an identity seen for the first time is linked to, if any (module docstring)."""
        email = str(claims.get("email") or "").strip()
        if not email or not _verified(claims):
            return None
        accounts = list(get_user_model().objects.filter(email__iexact=email)[:2])
        if not accounts:
            return None
        if len(accounts) > 1:
            raise SignInRefused("more than one account has your e-mail address; ask a platform admin to link yours.")
        account = accounts[0]
        if account.is_staff or account.is_superuser:
            raise SignInRefused("an administrator's account is never linked automatically; ask a platform admin.")
        if not account.is_active:
            raise SignInRefused("your account is deactivated.")
        if LinkedIdentity.objects.filter(user=account, issuer=issuer).exists():
            raise SignInRefused("the account with your e-mail address is already linked to another identity "
                                "at this provider; ask a platform admin.")
        return account

    def create_user(self, claims: dict[str, Any]) -> Any:
        users = get_user_model().objects
        base = _username_base(claims)
        username = base
        while users.filter(username__iexact=username).exists():
            username = f"{base}-{secrets.token_hex(3)}"
        user = users.create_user(username=username, email=str(claims.get("email") or "")[:254] if _verified(claims) else "")
        user.first_name = str(claims.get("given_name", ""))[:150]
        user.last_name = str(claims.get("family_name", ""))[:150]
        user.set_unusable_password()
        user.save()
        return user

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        return user
