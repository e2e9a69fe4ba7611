"""The command line: whoowns and api_token."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from services.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(db):
    parent = TeamFactory(slug="platform", name="Platform")
    team = TeamFactory(slug="payments", name="Payments", parent=parent, chat_channel="#payments")
    MembershipFactory(user=UserFactory(username="lena", first_name="Lena"), team=team, role=Membership.Role.LEAD)
    ServiceFactory(slug="ledger", owner_team=team, repository="github.com/acme/ledger")
    return team


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("query", ["ledger", "acme/ledger", "https://github.com/acme/ledger.git",
                                   "git@github.com:acme/ledger.git", "github.com/acme/ledger"])
def test_whoowns_answers_for_a_slug_or_any_repository_form(org, query):
    out = run("whoowns", query)
    assert "Owner: team Payments [payments]" in out
    assert "#payments" in out
    assert "Lena <lena@example.org> (lead)" in out
    assert "Escalation: Platform" in out


def test_whoowns_json_is_the_api_answer(org):
    answer = json.loads(run("whoowns", "acme/ledger", "--json"))
    assert answer["team"]["slug"] == "payments"
    assert answer["service"]["repository"] == "github.com/acme/ledger"


def test_whoowns_user_and_team(org):
    assert "ledger via team:payments" in run("whoowns", "--user", "lena")
    assert "- ledger" in run("whoowns", "--team", "payments")


@pytest.mark.parametrize("query", ["ghost", "acme/ghost", "https://github.com/acme/ghost"])
def test_whoowns_exits_1_when_nothing_matches(org, query):
    with pytest.raises(CommandError) as caught:
        run("whoowns", query)
    assert caught.value.returncode == 1
    assert "ghost" in str(caught.value)


def test_whoowns_exits_2_for_bad_usage(org):
    with pytest.raises(CommandError) as caught:
        run("whoowns")
    assert caught.value.returncode == 2
    with pytest.raises(CommandError) as caught:
        run("whoowns", "ledger", "--team", "payments")
    assert caught.value.returncode == 2


def test_api_token_prints_a_new_hashed_token_that_authenticates_until_revoked(org, client):
    from services.access.tokens import key_digest
    from services.models import ApiToken

    UserFactory(username="bot")
    key = run("api_token", "bot", "--name", "deploy bot").strip()
    assert key.startswith("slw_") and run("api_token", "bot").strip() != key  # a new one each time
    token = ApiToken.objects.get(digest=key_digest(key))
    assert token.name == "deploy bot" and key not in str(ApiToken.objects.values_list())  # only its hash
    assert client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert "deploy bot" in run("api_token", "bot", "--list")
    run("api_token", "bot", "--revoke", str(token.pk))
    response = client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_api_token_for_an_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        run("api_token", "ghost")


@pytest.mark.parametrize("query", ["http://[::1/a/b", "https://[::1/acme/ledger", "ssh://git@[zz]/acme/ledger"])
def test_whoowns_answers_a_malformed_repository_url_with_a_clear_error_naming_it(org, query):
    # urlsplit() raised ValueError here: a traceback instead of an answer.
    with pytest.raises(CommandError) as caught:
        run("whoowns", query)
    assert caught.value.returncode == 2
    assert "Invalid value for 'repo'" in str(caught.value) and "not a well-formed URL" in str(caught.value)
