"""The read-only systems and domains endpoints."""

from __future__ import annotations

import pytest

from services.models import Domain, System

pytestmark = pytest.mark.django_db


@pytest.fixture
def grouping(team):
    domain = Domain.objects.create(slug="money", name="Money", owner=team)
    System.objects.create(slug="payments-platform", name="Payments platform", domain=domain, owner=team)


def test_systems_and_domains_list_and_detail(viewer_client, grouping):
    assert viewer_client.get("/api/v1/systems/").json()["results"] == [
        {"slug": "payments-platform", "name": "Payments platform", "description": "", "domain": "money",
         "owner": "payments", "owner_user": None}]
    assert viewer_client.get("/api/v1/domains/money/").json()["owner"] == "payments"


def test_missing_systems_and_domains_are_404(viewer_client, grouping):
    assert viewer_client.get("/api/v1/systems/ghost/").status_code == 404
    assert viewer_client.get("/api/v1/domains/ghost/").status_code == 404


def test_systems_and_domains_need_sign_in_and_are_read_only(anon_client, staff_client, grouping):
    assert anon_client.get("/api/v1/systems/").status_code == 401
    assert staff_client.post("/api/v1/systems/", {"slug": "x"}, format="json").status_code == 405
    assert staff_client.delete("/api/v1/domains/money/").status_code == 405


def test_bad_list_parameters_are_400(viewer_client, grouping):
    response = viewer_client.get("/api/v1/systems/", {"ordering": "secret"})
    assert response.status_code == 400 and "ordering" in response.json()["errors"]
