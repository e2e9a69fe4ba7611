"""The teams endpoints: list, detail with members and services, create and update for admins."""

from __future__ import annotations

import pytest

from services.models import Team
from tests.factories import ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/teams/"


def test_team_detail_has_members_services_and_children(viewer_client, team, member, service):
    TeamFactory(slug="payments-emea", parent=team)
    body = viewer_client.get(f"{LIST}payments/").json()
    assert body["members"] == [{"username": "mia", "name": "mia", "email": "mia@example.org", "role": "member"}]
    assert [s["slug"] for s in body["services"]] == ["ledger"]
    assert body["children"] == ["payments-emea"]


def test_missing_team_is_404(viewer_client, db):
    assert viewer_client.get(f"{LIST}ghost/").status_code == 404


@pytest.mark.parametrize("rows", [1, 50])
def test_team_list_costs_a_fixed_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    parent = TeamFactory()
    TeamFactory.create_batch(rows - 1, parent=parent)
    # Expect 6 queries: generation, fast-path token check, token+user, the token's last-used stamp,
    # count, teams with parent joined.
    with django_assert_max_num_queries(6):
        assert len(viewer_client.get(LIST, {"page_size": 50}).json()["results"]) == rows


def test_team_list_filters(viewer_client, team):
    TeamFactory(slug="payments-emea", parent=team)
    assert [t["slug"] for t in viewer_client.get(LIST, {"parent": "payments"}).json()["results"]] == ["payments-emea"]
    assert viewer_client.get(LIST, {"q": "emea"}).json()["count"] == 1


def test_staff_create_and_update_teams(staff_client, team):
    response = staff_client.post(LIST, {"slug": "data", "name": "Data", "parent": "payments",
                                        "email": "data@example.org"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["parent"] == "payments"
    response = staff_client.patch(f"{LIST}data/", {"on_call": "https://oncall.example.org/data"}, format="json")
    assert response.status_code == 200
    assert Team.objects.get(slug="data").on_call == "https://oncall.example.org/data"


def test_members_cannot_create_or_change_teams(member_client, team):
    assert member_client.post(LIST, {"slug": "data"}, format="json").status_code == 403
    assert member_client.patch(f"{LIST}payments/", {"name": "X"}, format="json").status_code == 403
    assert not Team.objects.filter(slug="data").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"slug": "bad slug"}, "slug"), ({"slug": "ok", "email": "not-an-email"}, "email"),
     ({"slug": "ok", "parent": "ghost"}, "parent"), ({"slug": "payments"}, "slug"), ({}, "slug")],
)
def test_bad_team_values_are_4xx_naming_the_field(staff_client, team, payload, field):
    response = staff_client.post(LIST, payload, format="json")
    assert response.status_code in (400, 409)
    assert field in response.json()["errors"]


def test_a_team_cannot_become_its_own_ancestor(staff_client, team):
    TeamFactory(slug="child", parent=team)
    response = staff_client.patch(f"{LIST}payments/", {"parent": "child"}, format="json")
    assert response.status_code == 400
    assert "parent" in response.json()["errors"]


def test_service_count_on_team_detail_is_complete(viewer_client, team):
    ServiceFactory.create_batch(3, owner_team=team)
    assert len(viewer_client.get(f"{LIST}payments/").json()["services"]) == 3
