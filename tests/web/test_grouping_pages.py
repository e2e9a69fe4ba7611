"""System, domain and person pages: what they hold, in a fixed number of queries."""

from __future__ import annotations

import pytest

from services.catalog.demo import demo_load
from services.models import Domain, ProvisioningRun, System
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client):
    demo_load()
    user = UserFactory(username="vera")
    client.force_login(user)
    return client


def test_the_systems_page_lists_systems_and_domains(reader, django_assert_max_num_queries):
    # session, user, systems (with domain, owner, counts), domains (with owner, counts)
    with django_assert_max_num_queries(4):
        body = reader.get("/systems/").content.decode()
    for system in System.objects.all():
        assert f'href="/systems/{system.slug}/"' in body
    for domain in Domain.objects.all():
        assert f'href="/domains/{domain.slug}/"' in body


def test_a_system_page_shows_its_services_and_their_graph(reader, django_assert_max_num_queries):
    system = System.objects.filter(services__isnull=False).first()
    # session, user, the system, its services (graph), their edges both ways, the list of services
    with django_assert_max_num_queries(7):
        response = reader.get(f"/systems/{system.slug}/")
    body = response.content.decode()
    assert response.status_code == 200
    for service in system.services.all():
        assert f'href="/services/{service.slug}/"' in body
    assert "dependency-graph" in body


def test_a_domain_page_lists_its_systems(reader):
    domain = Domain.objects.filter(systems__isnull=False).first()
    body = reader.get(f"/domains/{domain.slug}/").content.decode()
    for system in domain.systems.all():
        assert system.name in body


def test_a_person_page_shows_teams_what_they_own_and_their_runs(reader):
    from services.models import Membership

    membership = Membership.objects.select_related("user", "team").first()
    person = membership.user
    team = membership.team
    ProvisioningRun.objects.create(template="mini", owner=team, requested_by=person, service_slug="new-thing",
                                   inputs={}, template_version="v1")

    body = reader.get(f"/people/{person.username}/").content.decode()

    assert team.name in body and "new-thing" in body
    for service in team.services.all()[:3]:
        assert f'href="/services/{service.slug}/"' in body


def test_unknown_pages_are_404(reader):
    for url in ("/systems/nope/", "/domains/nope/", "/people/nobody-here/"):
        assert reader.get(url).status_code == 404
