"""Locations over the API: who may register, the dry run a worker answers, reading conflicts and
origins back, refresh and take, and clear 400s."""

from __future__ import annotations

import pytest

from services.catalog.sync import plans
from services.catalog.sync.locations import location_refresh_by_id
from services.models import Location, Service
from tests.factories import ServiceFactory, TeamFactory
from tests.services.catalog.test_locations import seed_repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository():
    return seed_repository(more="more.yaml")


def test_a_member_registers_for_their_team_and_the_refresh_fills_the_catalog(member_client, team, repository):
    response = member_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}", "team": team.slug},
                                  format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["host"], body["target"], body["path"], body["team"], body["state"]) == (
        "repository", "local", f"acme/{repository}", "catalog-info.yaml", "payments", "pending")
    location_refresh_by_id(body["id"])  # what the worker does on commit
    detail = member_client.get(f"/api/v1/locations/{body['id']}/").json()
    assert detail["state"] == "ok"
    assert [(s["path"], s["state"], s["entities"]) for s in detail["sources"]] == [
        ("catalog-info.yaml", "read", 1), ("more.yaml", "read", 1)]
    service = member_client.get("/api/v1/services/ledger/").json()
    assert service["origin"] == {"kind": "location", "location": body["id"],
                                 "label": f"local:acme/{repository}/catalog-info.yaml", "path": "catalog-info.yaml",
                                 "orphaned_at": None}
    assert service["conflicts"] == []


def test_a_member_may_not_register_for_anyone_else(member_client, repository):
    other = TeamFactory(slug="risk")

    for data in ({"url": f"localhost/acme/{repository}"}, {"url": f"localhost/acme/{repository}", "team": other.slug}):
        response = member_client.post("/api/v1/locations/", data, format="json")
        assert response.status_code == 403, response.json()
    assert not Location.objects.exists()


def test_the_dry_run_is_answered_by_a_worker_and_polled(staff_client, repository):
    ServiceFactory(slug="billing", owner_team=TeamFactory(slug="payments"))

    response = staff_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}", "dry_run": True},
                                 format="json")

    assert response.status_code == 202
    plan = response.json()
    assert plan["state"] == "checking" and plan["status_url"] == f"/api/v1/locations/plans/{plan['id']}/"
    plans.plan_run(plan["id"])  # the worker's half (the task slipway.plan_location)
    answer = staff_client.get(plan["status_url"]).json()
    assert answer["state"] == "ready"
    assert {(d["name"], d["outcome"]) for d in answer["documents"]} == {
        ("ledger", "created"), ("billing", "conflict"), ("all", "followed")}
    assert not Location.objects.exists() and not Service.objects.filter(slug="ledger").exists()


def test_someone_elses_plan_is_not_found(staff_client, member_client, team, repository):
    plan = member_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}", "team": team.slug,
                                                     "dry_run": True}, format="json").json()
    from tests.conftest import _client_for
    from tests.factories import UserFactory

    stranger = _client_for(UserFactory())
    assert stranger.get(plan["status_url"]).status_code == 404
    assert staff_client.get(plan["status_url"]).status_code == 200
    assert member_client.get("/api/v1/locations/plans/not-a-plan/").status_code == 404


@pytest.mark.parametrize("data, field", [
    ({}, "url"),
    ({"url": "not a repository"}, "url"),
    ({"url": "localhost/acme/x/../../etc/passwd.yaml"}, "url"),
    ({"url": "localhost/acme/x", "team": "nobody"}, "team"),
    ({"url": "localhost/acme/x", "refresh_seconds": 5}, "refresh_seconds"),
])
def test_bad_registrations_are_400s_naming_the_field(staff_client, data, field):
    response = staff_client.post("/api/v1/locations/", data, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Location.objects.exists()


def test_registering_twice_is_a_409(staff_client, repository):
    first = staff_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}"}, format="json")
    second = staff_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}"}, format="json")

    assert (first.status_code, second.status_code) == (201, 409)


def test_conflicts_show_on_the_location_and_the_service_until_an_admin_takes_it(staff_client, repository):
    ServiceFactory(slug="billing", owner_team=TeamFactory(slug="payments"))
    location = staff_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}"}, format="json").json()
    location_refresh_by_id(location["id"])

    detail = staff_client.get(f"/api/v1/locations/{location['id']}/").json()
    assert detail["state"] == "partial" and detail["conflict_count"] == 1
    assert [(c["kind"], c["name"], c["path"]) for c in detail["conflicts"]] == [("Component", "billing", "more.yaml")]
    service = staff_client.get("/api/v1/services/billing/").json()
    assert service["origin"]["kind"] == "manual"
    assert [(c["location"], c["path"]) for c in service["conflicts"]] == [(location["id"], "more.yaml")]

    taken = staff_client.post(f"/api/v1/locations/{location['id']}/take/", {"kind": "Component", "name": "billing"},
                              format="json")
    assert taken.status_code == 202
    location_refresh_by_id(location["id"])
    assert staff_client.get("/api/v1/services/billing/").json()["origin"]["location"] == location["id"]
    assert staff_client.get(f"/api/v1/locations/{location['id']}/").json()["conflicts"] == []


def test_only_admins_take_entries_and_only_the_team_refreshes(member_client, viewer_client, team, repository):
    location = member_client.post("/api/v1/locations/", {"url": f"localhost/acme/{repository}", "team": team.slug},
                                  format="json").json()

    assert member_client.post(f"/api/v1/locations/{location['id']}/take/", {"kind": "Component", "name": "x"},
                              format="json").status_code == 403
    assert viewer_client.post(f"/api/v1/locations/{location['id']}/refresh/").status_code == 403
    assert member_client.post(f"/api/v1/locations/{location['id']}/refresh/").status_code == 202
    assert viewer_client.delete(f"/api/v1/locations/{location['id']}/").status_code == 403
    assert member_client.delete(f"/api/v1/locations/{location['id']}/").status_code == 204
    assert viewer_client.get("/api/v1/locations/99999/").status_code == 404
    assert viewer_client.get("/api/v1/locations/x/").status_code == 404
