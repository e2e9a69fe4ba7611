"""API tokens: hashed at rest, shown once, named, listed, expired and revoked by their owner."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from services.access.tokens import key_digest
from services.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_stored_only_as_a_hash(viewer_client, anon_client):
    response = viewer_client.post("/api/v1/tokens/", {"name": "ci pipeline", "expires_in_days": 30}, format="json")
    assert response.status_code == 201, response.content
    key = response.json()["key"]
    token = ApiToken.objects.get(name="ci pipeline")
    assert token.digest == key_digest(key) and key not in str(ApiToken.objects.values_list())
    listing = viewer_client.get("/api/v1/tokens/").json()["results"]
    assert {row["name"] for row in listing} == {"tests", "ci pipeline"}
    assert all("key" not in row for row in listing)
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon_client.get("/api/v1/services/").status_code == 200
    assert key not in str(AuditEvent.objects.values_list("changes", flat=True))


def test_a_revoked_token_is_refused_at_once_even_on_a_cached_read(viewer_client, anon_client, service):
    key = viewer_client.post("/api/v1/tokens/", {"name": "short"}, format="json").json()["key"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon_client.get("/api/v1/services/ledger/").status_code == 200
    assert anon_client.get("/api/v1/services/ledger/")["X-Slipway-Cache"] == "hit"
    token_id = ApiToken.objects.get(name="short").pk
    assert viewer_client.delete(f"/api/v1/tokens/{token_id}/").status_code == 204
    response = anon_client.get("/api/v1/services/ledger/")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_an_expired_token_is_refused_the_moment_it_expires(viewer_client, anon_client, service, monkeypatch):
    import time

    key = viewer_client.post("/api/v1/tokens/", {"name": "brief", "expires_in_days": 1}, format="json").json()["key"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon_client.get("/api/v1/services/ledger/").status_code == 200
    assert anon_client.get("/api/v1/services/ledger/")["X-Slipway-Cache"] == "hit"
    # A day and a second later (no write in between: the cached answer and token check are still
    # there, and must not be trusted past the expiry).
    later = timezone.now() + datetime.timedelta(days=1, seconds=1)
    monkeypatch.setattr(time, "time", lambda: later.timestamp())
    monkeypatch.setattr("services.access.tokens.timezone.now", lambda: later)
    response = anon_client.get("/api/v1/services/ledger/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_people_cannot_see_or_revoke_each_others_tokens(viewer_client, member_client):
    theirs = ApiToken.objects.get(user=member_client.user)
    assert viewer_client.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert theirs.pk not in [row["id"] for row in viewer_client.get("/api/v1/tokens/").json()["results"]]
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"name": "a\x00b"}, "name"),
     ({"name": "ok", "expires_in_days": 0}, "expires_in_days"), ({"name": "ok", "expires_in_days": "soon"},
                                                                 "expires_in_days"),
     ({"name": "ok", "colour": "red"}, "colour")],
)
def test_bad_token_requests_are_400_naming_the_field(viewer_client, payload, field):
    response = viewer_client.post("/api/v1/tokens/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_tokens_need_a_signed_in_user(anon_client, db):
    assert anon_client.get("/api/v1/tokens/").status_code == 401
    assert anon_client.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION="Token slw_" + "x" * 43)
    assert anon_client.get("/api/v1/services/").json()["detail"] == "Invalid token."
