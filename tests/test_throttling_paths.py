"""Every way in shares the limits: the admin's sign-in, usernames as Django compares them, both token
schemes, several processes; and guessing from an address never locks out its valid tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client, override_settings

from services.access import throttling
from services.catalog.generation import access_generation, catalog_generation
from tests.factories import UserFactory, token_for
from tests.test_throttling import PASSWORD, START, Clock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttling, "time", fake)
    return fake


@pytest.fixture
def ana(db):
    user = UserFactory(username="leada", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def admin_sign_in(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


@pytest.mark.django_db
@override_settings(SLIPWAY_LOGIN_FAILURE_RATE="5/15min")
def test_the_admin_sign_in_is_throttled_like_the_portals(clock, ana):
    client = Client(REMOTE_ADDR="10.0.2.1")
    answers = [admin_sign_in(client, "leada", f"wrong-{n}").status_code for n in range(20)]
    assert answers[:5] == [200] * 5
    refused = admin_sign_in(client, "leada", PASSWORD)  # the right password, after 20 wrong ones
    assert refused.status_code in (200, 429) and "_auth_user_id" not in client.session
    assert "Too many failed sign-in attempts" in refused.content.decode()
    # Failures on the admin count on the portal's page too: one set of limits.
    assert Client(REMOTE_ADDR="10.0.2.1").post("/accounts/login/", {"username": "leada", "password": PASSWORD}
                                               ).status_code == 429
    clock.now = START + 900
    assert admin_sign_in(client, "leada", PASSWORD).status_code == 302


@pytest.mark.django_db
@override_settings(SLIPWAY_LOGIN_FAILURE_RATE="3/15min")
def test_a_username_counts_as_django_compares_it(clock, ana):
    client = Client(REMOTE_ADDR="10.0.2.2")
    for spelling in ("leada", "ｌｅａｄａ", "LEADA"):  # full-width letters sign in as leada (NFKC)
        assert client.post("/accounts/login/", {"username": spelling, "password": "wrong"}).status_code == 200
    assert client.post("/accounts/login/", {"username": "ｌｅａｄａ", "password": PASSWORD}).status_code == 429
    assert client.post("/accounts/login/", {"username": "leada", "password": PASSWORD}).status_code == 429


def test_the_username_key_is_nfkc_and_case_folded():
    assert throttling.username_key("ｌｅａｄａ") == throttling.username_key(" LeadA ") == "leada"


@pytest.mark.django_db
@override_settings(SLIPWAY_THROTTLE_BAD_TOKEN_RATE="3/15min")
def test_guessing_from_an_address_does_not_lock_out_its_valid_tokens(clock, viewer):
    good = token_for(viewer)
    client = Client(REMOTE_ADDR="10.0.2.3")
    for scheme in ("Token", "token", "Bearer", "bearer"):  # every spelling DRF or a tool would send
        client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"{scheme} slw_not-a-real-key-{scheme}")
    guessed = client.get("/api/v1/teams/", HTTP_AUTHORIZATION="token slw_not-a-real-key-either")
    assert (guessed.status_code, guessed["Retry-After"]) == (429, "890")
    assert "invalid API token" in guessed.json()["detail"]
    for scheme in ("Token", "Bearer"):
        assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"{scheme} {good}").status_code == 200
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION="Bearer slw_still-guessing").status_code == 429


@pytest.mark.django_db
def test_bearer_is_accepted_everywhere_a_token_is(viewer, service):
    key = token_for(viewer)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/teams/").status_code == 200
    client.get("/api/v1/ownership/", {"service": service.slug})
    cached = client.get("/api/v1/ownership/", {"service": service.slug})
    assert cached.status_code == 200 and cached["X-Slipway-Cache"] == "hit"  # the fast path too
    refused = Client(HTTP_AUTHORIZATION="Bearer slw_unknown-key-0123456789").get("/api/v1/teams/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key} extra").get("/api/v1/teams/").status_code == 401


@pytest.mark.django_db
def test_tokens_and_sign_ins_empty_no_cached_catalog_answer(viewer, member_client):
    from services.access.tokens import token_create, token_revoke

    before, access = catalog_generation(), access_generation()
    token, _ = token_create(actor=viewer, user=viewer, name="ci")
    token_revoke(actor=viewer, token=token)
    viewer.set_password(PASSWORD)
    viewer.save(update_fields=["password"])  # as Django's own password change does
    assert Client().post("/accounts/login/", {"username": viewer.username, "password": PASSWORD}).status_code == 302
    assert member_client.post("/api/v1/tokens/", {"name": "again"}, format="json").status_code == 201
    assert catalog_generation() == before
    assert access_generation() != access  # what the fast path remembers of tokens is forgotten
    viewer.first_name = "Vic"
    viewer.save()  # a name the catalog shows: catalog answers are recomputed
    assert catalog_generation() != before


@pytest.mark.django_db
def test_a_revoked_bearer_token_is_refused_on_the_fast_path_at_once(viewer, service):
    from services.access.tokens import token_authenticate, token_revoke

    key = token_for(viewer)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    for _ in range(2):
        assert client.get("/api/v1/ownership/", {"service": service.slug}).status_code == 200
    token_revoke(actor=viewer, token=token_authenticate(key)[1])
    assert client.get("/api/v1/ownership/", {"service": service.slug}).status_code == 401


# Limits hold across processes: two processes, each with its own memory, count in one place.

COUNT_SCRIPT = """
import json, os, django
django.setup()
from django.test import Client
answers = []
for _ in range(int(os.environ["ATTEMPTS"])):
    answers.append(Client(REMOTE_ADDR="10.0.3.1").post(
        "/accounts/login/", {"username": "leada", "password": "wrong"}).status_code)
print(json.dumps(answers))
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(os.environ.get("SLIPWAY_CACHE_URL", "") != "", reason="the embedded setup's counters")
def test_sign_in_limits_hold_across_processes_on_the_embedded_setup(ana, settings):
    from diskcache import DjangoCache

    assert isinstance(caches["counters"], DjangoCache)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "ATTEMPTS": "5",
           "SLIPWAY_WORKER_DB_NAME": connection.settings_dict["NAME"],
           "SLIPWAY_LOGIN_FAILURE_RATE": "5/15min"}
    script = COUNT_SCRIPT.replace("django.setup()", "django.setup()\nfrom django.conf import settings\n"
                                  "settings.SLIPWAY_LOGIN_FAILURE_RATE = os.environ['SLIPWAY_LOGIN_FAILURE_RATE']")
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    answers = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        answers += json.loads(out.strip().splitlines()[-1])
    assert sorted(answers) == [200] * 5 + [429] * 5  # 5 failures in all, not 5 per process
