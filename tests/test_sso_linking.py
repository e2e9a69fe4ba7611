"""Single sign-on links people by (issuer, sub), never by a name the provider sends.

The real backend (mozilla-django-oidc with services.access.oidc) signs in through Django's
`authenticate()`, against a stub provider on loopback: its token endpoint answers an ID token signed
with the client secret (HS256), its UserInfo endpoint the claims each test gives.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory, override_settings

from services.models import LinkedIdentity
from tests.factories import UserFactory

ISSUER = "https://sso.example.org"
SECRET = "stub-provider-secret-0123456789abcdef"


class Provider:
    """What the stub provider answers next: the ID token's subject and the UserInfo claims."""

    def __init__(self) -> None:
        self.subject = "subject-1"
        self.claims: dict = {}
        self.issuer = ISSUER


@pytest.fixture
def provider():
    answers = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # the token endpoint
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = int(time.time())
            id_token = jwt.encode({"iss": answers.issuer, "sub": answers.subject, "aud": "slipway", "iat": now,
                                   "exp": now + 300, "nonce": "n0nce"}, SECRET, algorithm="HS256")
            self._json({"id_token": id_token, "access_token": "access", "token_type": "Bearer"})

        def do_GET(self):  # the UserInfo endpoint
            self._json({"sub": answers.subject, **answers.claims})

        def _json(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with override_settings(
        AUTHENTICATION_BACKENDS=["services.access.throttling.SignInThrottleBackend",
                                 "services.access.oidc.SlipwayOIDCBackend"],
        OIDC_RP_CLIENT_ID="slipway", OIDC_RP_CLIENT_SECRET=SECRET, OIDC_RP_SIGN_ALGO="HS256",
        OIDC_OP_AUTHORIZATION_ENDPOINT=f"{base}/authorize", OIDC_OP_TOKEN_ENDPOINT=f"{base}/token",
        OIDC_OP_USER_ENDPOINT=f"{base}/userinfo", OIDC_OP_JWKS_ENDPOINT=None,
        OIDC_AUTHENTICATION_CALLBACK_URL="login", OIDC_TIMEOUT=5,
    ):
        yield answers
    server.shutdown()
    server.server_close()


def sign_in(provider, *, subject: str | None = None, **claims):
    """One callback of the authorization code flow; answers (the user or None, messages shown)."""
    if subject is not None:
        provider.subject = subject
    provider.claims = claims
    request = RequestFactory().get("/oidc/callback/", {"code": "c0de", "state": "st4te"})
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    user = authenticate(request, nonce="n0nce", code_verifier=None)
    return user, [str(m) for m in get_messages(request)]


def test_a_new_identity_gets_a_new_account_and_signs_in_to_it_again(provider, db):
    user, _ = sign_in(provider, subject="s-new", preferred_username="newbie", email="n@example.org",
                      email_verified=True, given_name="New")
    assert (user.username, user.email, user.first_name, user.has_usable_password()) == ("newbie", "n@example.org",
                                                                                         "New", False)
    assert LinkedIdentity.objects.get(issuer=ISSUER, subject="s-new").user == user
    again, _ = sign_in(provider, subject="s-new", preferred_username="someone-else")
    assert again == user
    assert get_user_model().objects.count() == 1


def test_a_username_claim_never_signs_in_as_that_account(provider, db):
    admin = UserFactory(username="admin", email="root@corp.example", is_staff=True, is_superuser=True)
    lead = UserFactory(username="leada", email="leada@corp.example")
    for name in ("admin", "Admin", "leada", "ｌｅａｄａ"):
        user, _ = sign_in(provider, subject=f"s-{name}", preferred_username=name)
        assert user is not None and user not in (admin, lead)
        assert user.username.casefold() not in ("admin", "leada") and not user.is_staff
    assert not LinkedIdentity.objects.filter(user__in=[admin, lead]).exists()


def test_an_unverified_email_never_matches_an_account(provider, db):
    admin = UserFactory(username="admin", email="admin@evil.example", is_superuser=True, is_staff=True)
    jane = UserFactory(username="jane", email="jane@corp.example")
    for claims in ({"email": "admin@evil.example"}, {"email": "JANE@corp.example"},
                   {"email": "jane@corp.example", "email_verified": False},
                   {"email": "jane@corp.example", "email_verified": "false"}):
        user, _ = sign_in(provider, subject=f"s-{len(claims)}-{claims.get('email_verified')}", **claims)
        assert user not in (admin, jane) and user.email == ""  # an unverified address is not kept either
    # The issue's own example: no verified e-mail, the e-mail's local part is "admin".
    user, _ = sign_in(provider, subject="x", email="admin@evil.example")
    assert user != admin and not user.is_superuser


def test_a_verified_email_links_an_existing_account_the_first_time_only(provider, db):
    jane = UserFactory(username="jane", email="jane@corp.example")
    user, _ = sign_in(provider, subject="s-jane", email="Jane@Corp.example", email_verified=True)
    assert user == jane
    assert LinkedIdentity.objects.get(user=jane).subject == "s-jane"
    # Later sign-ins go by the link alone, whatever e-mail the provider now sends.
    bob = UserFactory(username="bob", email="bob@corp.example")
    user, _ = sign_in(provider, subject="s-jane", email="bob@corp.example", email_verified=True)
    assert user == jane
    # A second identity at the same provider claiming jane's address is refused, not linked.
    user, shown = sign_in(provider, subject="s-impostor", email="jane@corp.example", email_verified="true")
    assert user is None and "already linked" in shown[0]
    assert not LinkedIdentity.objects.filter(subject="s-impostor").exists()
    assert get_user_model().objects.count() == 2 and bob.linked_identities.count() == 0


@pytest.mark.parametrize("flags", [{"is_staff": True}, {"is_superuser": True}])
def test_an_admin_account_is_never_linked_automatically(provider, db, flags):
    UserFactory(username="root", email="root@corp.example", **flags)
    user, shown = sign_in(provider, subject="s-root", email="root@corp.example", email_verified=True)
    assert user is None and "administrator" in shown[0]
    assert LinkedIdentity.objects.count() == 0 and get_user_model().objects.count() == 1


def test_an_admin_links_an_admin_account_by_hand_and_it_signs_in(provider, db):
    root = UserFactory(username="root", email="root@corp.example", is_staff=True)
    LinkedIdentity.objects.create(user=root, issuer=ISSUER, subject="s-root")
    assert sign_in(provider, subject="s-root", email="other@corp.example")[0] == root


def test_two_accounts_with_one_email_are_not_guessed_between(provider, db):
    UserFactory(username="a", email="same@corp.example")
    UserFactory(username="b", email="same@corp.example")
    user, shown = sign_in(provider, subject="s-same", email="same@corp.example", email_verified=True)
    assert user is None and "more than one account" in shown[0]
    assert LinkedIdentity.objects.count() == 0


def test_the_userinfo_answer_must_be_about_the_id_tokens_subject(provider, db):
    jane = UserFactory(username="jane", email="jane@corp.example")
    LinkedIdentity.objects.create(user=jane, issuer=ISSUER, subject="s-jane")
    user, shown = sign_in(provider, subject="s-other", sub="s-jane")  # UserInfo claims to be s-jane
    assert user is None and "disagree" in shown[0]


def test_a_deactivated_account_does_not_sign_in(provider, db):
    jane = UserFactory(username="jane", email="jane@corp.example", is_active=False)
    LinkedIdentity.objects.create(user=jane, issuer=ISSUER, subject="s-jane")
    assert sign_in(provider, subject="s-jane")[0] is None
    UserFactory(username="joe", email="joe@corp.example", is_active=False)
    assert sign_in(provider, subject="s-joe", email="joe@corp.example", email_verified=True)[0] is None


def test_identities_are_per_issuer(provider, db):
    user, _ = sign_in(provider, subject="same-sub", preferred_username="first")
    provider.issuer = "https://other-sso.example.org"
    other, _ = sign_in(provider, subject="same-sub", preferred_username="second")
    assert other != user
    assert LinkedIdentity.objects.filter(subject="same-sub").count() == 2
