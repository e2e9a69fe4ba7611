"""GET /api/v1/ownership/: by service, repository (any URL form), person and team."""

from __future__ import annotations

import pytest

from services.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/ownership/"


@pytest.fixture
def org(db):
    """engineering > platform > payments, with members; a person-owned tool."""
    engineering = TeamFactory(slug="engineering", name="Engineering", on_call="https://oncall.example.org/eng")
    platform = TeamFactory(slug="platform", name="Platform", parent=engineering)
    payments = TeamFactory(slug="payments", name="Payments", parent=platform, chat_channel="#payments")
    lead = UserFactory(username="lena", email="lena@example.org", first_name="Lena", last_name="Lead")
    MembershipFactory(user=lead, team=payments, role=Membership.Role.LEAD)
    MembershipFactory(user=UserFactory(username="max"), team=payments)
    ServiceFactory(slug="ledger", owner_team=payments, repository="github.com/acme/ledger")
    jane = UserFactory(username="jane", email="jane@example.org")
    MembershipFactory(user=jane, team=platform)
    ServiceFactory(slug="jane-tool", owner_team=None, owner_user=jane, repository="github.com/jane/tool")
    return {"payments": payments, "platform": platform, "jane": jane}


@pytest.mark.parametrize(
    "params",
    [
        {"service": "ledger"},
        {"service": "LEDGER"},
        {"repo": "acme/ledger"},
        {"repo": "https://github.com/acme/ledger"},
        {"repo": "https://github.com/Acme/Ledger.git"},
        {"repo": "git@github.com:acme/ledger.git"},
        {"repo": "ssh://git@github.com/acme/ledger"},
        {"repo": "https://github.com/acme/ledger/tree/main/src"},
    ],
)
def test_owner_of_a_service_by_slug_or_any_repository_form(viewer_client, org, params):
    response = viewer_client.get(URL, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["service"]["slug"] == "ledger"
    assert body["owner"] == {"kind": "team", "ref": "group:payments"}
    team = body["team"]
    assert (team["slug"], team["chat_channel"], team["email"]) == ("payments", "#payments", "payments@example.org")
    assert team["members"][0] == {"username": "lena", "name": "Lena Lead", "email": "lena@example.org",
                                  "role": "lead"}
    assert [m["username"] for m in team["members"]] == ["lena", "max"]
    assert [t["slug"] for t in body["escalation"]] == ["platform", "engineering"]
    assert body["escalation"][1]["on_call"] == "https://oncall.example.org/eng"


def test_owner_of_a_person_owned_service_is_the_person_and_their_teams(viewer_client, org):
    body = viewer_client.get(URL, {"service": "jane-tool"}).json()
    assert body["owner"] == {"kind": "user", "ref": "user:jane"}
    assert body["person"]["username"] == "jane"
    assert [t["slug"] for t in body["person_teams"]] == ["platform"]
    assert body["person_teams"][0]["on_call"]


def test_what_a_person_owns_directly_and_through_teams(viewer_client, org):
    body = viewer_client.get(URL, {"user": "jane"}).json()
    assert body["person"]["email"] == "jane@example.org"
    assert [(t["slug"], t["role"]) for t in body["teams"]] == [("platform", "member")]
    assert [(s["slug"], s["owned_via"]) for s in body["services"]] == [("jane-tool", "person")]
    body = viewer_client.get(URL, {"user": "lena"}).json()
    assert [(s["slug"], s["owned_via"]) for s in body["services"]] == [("ledger", "team:payments")]


def test_what_a_team_owns(viewer_client, org):
    body = viewer_client.get(URL, {"team": "payments"}).json()
    assert body["team"]["slug"] == "payments"
    assert [s["slug"] for s in body["services"]] == ["ledger"]
    assert [t["slug"] for t in body["escalation"]] == ["platform", "engineering"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"service": "ghost"}, "service"), ({"repo": "acme/ghost"}, "repo"), ({"user": "ghost"}, "user"),
     ({"team": "ghost"}, "team")],
)
def test_unknown_things_are_404_saying_what_was_not_found(viewer_client, org, params, field):
    response = viewer_client.get(URL, params)
    assert response.status_code == 404
    assert "ghost" in response.json()["detail"]
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("params", "fields"),
    [({}, {"service", "repo", "user", "team", "path"}), ({"service": "a", "repo": "b/c"}, {"service", "repo"}),
     ({"service": ""}, {"service"}), ({"repo": "not a repo at all"}, {"repo"}), ({"repo": "x" * 600}, {"repo"}),
     ({"repo": "javascript:alert(1)"}, {"repo"})],
)
def test_no_or_conflicting_or_bad_parameters_are_400_naming_them(viewer_client, org, params, fields):
    response = viewer_client.get(URL, params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == fields


def test_ownership_needs_a_signed_in_user(anon_client, org):
    assert anon_client.get(URL, {"service": "ledger"}).status_code == 401


def test_a_cached_answer_follows_a_change_of_owner(viewer_client, staff_client, org):
    assert viewer_client.get(URL, {"repo": "acme/ledger"}).json()["team"]["slug"] == "payments"
    assert viewer_client.get(URL, {"repo": "acme/ledger"})["X-Slipway-Cache"] == "hit"
    staff_client.patch("/api/v1/services/ledger/", {"owner": "platform"}, format="json")
    assert viewer_client.get(URL, {"repo": "acme/ledger"}).json()["team"]["slug"] == "platform"


def test_a_revoked_token_is_refused_even_after_a_cached_answer(viewer_client, org):
    from services.models import ApiToken

    assert viewer_client.get(URL, {"service": "ledger"}).status_code == 200
    from services.access.tokens import key_digest, token_revoke

    token_revoke(actor=None, token=ApiToken.objects.get(digest=key_digest(viewer_client.token)))
    assert viewer_client.get(URL, {"service": "ledger"}).status_code == 401


def test_ownership_by_repo_costs_few_queries_and_one_on_a_repeat(viewer_client, org, django_assert_max_num_queries):
    # Cold: generation, token check, token+user, last-used stamp, service, team with members (2),
    # parents (2).
    with django_assert_max_num_queries(10):
        viewer_client.get(URL, {"repo": "acme/ledger"})
    # Warm: the catalog generation only (the token check is cached too).
    with django_assert_max_num_queries(1):
        assert viewer_client.get(URL, {"repo": "acme/ledger"}).status_code == 200
