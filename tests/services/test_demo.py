"""The demo organisation: loaded through the service layer, complete, and idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from services.catalog.demo import demo_load
from services.catalog.demo_data import PEOPLE, SERVICES, TEAMS
from services.models import (
    AuditEvent,
    Domain,
    Environment,
    Membership,
    Runbook,
    Service,
    ServiceDependency,
    System,
    Team,
)
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

MODELS = (Team, Membership, Domain, System, Service, ServiceDependency, Environment, Runbook, AuditEvent)


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_demo_load_creates_the_organisation_through_the_service_layer():
    created = demo_load()

    assert created["people"] == len(PEOPLE)
    assert created["teams"] == len(TEAMS) == Team.objects.count()
    assert created["services"] == len(SERVICES) == Service.objects.count()
    assert Domain.objects.count() >= 2
    assert System.objects.filter(domain__isnull=False).count() == System.objects.count() > 0
    # Every write was recorded: one creation event per service, team and environment.
    assert AuditEvent.objects.filter(action="service.create").count() == len(SERVICES)
    assert AuditEvent.objects.filter(action="team.create").count() == len(TEAMS)
    assert AuditEvent.objects.filter(action="environment.create").count() == Environment.objects.count()


def test_demo_load_twice_changes_nothing():
    demo_load()
    before = _counts()

    created = demo_load()

    assert not any(created.values()), created
    assert _counts() == before


def test_demo_load_leaves_an_edited_demo_object_alone():
    demo_load()
    Team.objects.filter(slug="payments").update(chat_channel="#payments-renamed")

    demo_load()

    assert Team.objects.get(slug="payments").chat_channel == "#payments-renamed"


def test_every_demo_service_has_an_owner_and_a_repository():
    demo_load()

    for service in Service.objects.all():
        assert service.repository == f"github.com/acme-demo/{service.slug}"
        assert (service.owner_team_id is None) != (service.owner_user_id is None)


def test_one_demo_service_is_owned_by_a_person():
    demo_load()

    owned = Service.objects.filter(owner_user__isnull=False)
    assert owned.count() == 1
    assert owned.get().owner_user.profile.display_name


def test_demo_teams_have_a_lead_contacts_and_an_escalation_chain():
    demo_load()

    for team in Team.objects.all():
        assert team.memberships.filter(role=Membership.Role.LEAD).count() == 1, team.slug
        assert team.email and team.chat_channel == f"#team-{team.slug}"
        assert team.on_call.startswith("https://oncall.example.org/schedules/")
        assert team.github_team_slug
    checkout = Team.objects.get(slug="checkout")
    assert checkout.parent.slug == "payments"
    assert checkout.parent.parent.slug == "engineering"


def test_demo_catalog_covers_types_lifecycles_tiers_and_dependencies():
    demo_load()

    assert set(Service.objects.values_list("type", flat=True)) == {"service", "website", "library", "worker"}
    assert set(Service.objects.values_list("lifecycle", flat=True)) == {
        "production",
        "experimental",
        "deprecated",
    }
    assert set(Service.objects.values_list("tier", flat=True)) == {1, 2, 3}
    # Every dependency of the demo points at a demo service (none is left unresolved).
    assert ServiceDependency.objects.count() > 10
    assert not ServiceDependency.objects.filter(target__isnull=True).exists()


def test_demo_services_have_environments_and_most_have_a_runbook():
    demo_load()

    for service in Service.objects.prefetch_related("environments"):
        names = {environment.name for environment in service.environments.all()}
        assert 2 <= len(names) <= 3, service.slug
        protected = [e for e in service.environments.all() if e.name in ("production", "release")]
        assert len(protected) == 1 and protected[0].required_reviewers, service.slug
    production = Environment.objects.filter(name="production")
    assert production.exists() and all(e.wait_timer > 0 for e in production)
    assert Runbook.objects.count() > Service.objects.count() * 2 // 3
    body = Runbook.objects.get(service__slug="payments-api").body
    assert "## Symptoms" in body and "## Dashboards" in body and "## First steps" in body
    assert Runbook.objects.get(service__slug="payments-api").revisions.count() == 1


def test_load_demo_command_loads_and_reports():
    out = StringIO()

    call_command("load_demo", stdout=out)

    assert Service.objects.count() == len(SERVICES)
    assert "Demo data loaded" in out.getvalue()
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "nothing to add" in out.getvalue()


def test_load_demo_if_empty_loads_an_empty_catalog():
    out = StringIO()

    call_command("load_demo", "--if-empty", stdout=out)

    assert Service.objects.count() == len(SERVICES)


def test_load_demo_if_empty_leaves_a_non_empty_catalog_alone():
    ServiceFactory(slug="ours")
    before = _counts()
    out = StringIO()

    call_command("load_demo", "--if-empty", stdout=out)

    assert _counts() == before
    assert not Team.objects.filter(slug="engineering").exists()
    assert "not loaded" in out.getvalue()
