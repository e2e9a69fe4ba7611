"""A service's origin and its conflicts on its page, in a real browser (screenshots:
test-output/screenshots/locations-*.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.catalog.sync.locations import catalog_import
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-password-1"


def test_a_service_page_says_which_location_describes_it_and_shows_a_conflict(page, live_server, sign_in,
                                                                                screenshot, tmp_path):
    payments = TeamFactory(slug="payments", name="Payments")
    ServiceFactory(slug="billing", owner_team=payments, name="Billing")
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger\nspec:\n  type: service\n"
        "  lifecycle: production\n  owner: payments\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: billing\nspec:\n  type: service\n"
        "  lifecycle: production\n  owner: risk\n")
    catalog_import(path=tmp_path / "catalog-info.yaml")
    reader = UserFactory(username="vera")
    reader.set_password(PASSWORD)
    reader.save()
    sign_in("vera", PASSWORD)

    page.goto(f"{live_server.url}/services/ledger/")
    described = page.locator("dt:text-is('Described by') + dd")
    expect(described).to_contain_text(str(tmp_path / "catalog-info.yaml"))
    expect(described).to_contain_text("(catalog-info.yaml)")
    screenshot("locations-service-origin")

    page.goto(f"{live_server.url}/services/billing/")
    expect(page.locator("dt:text-is('Described by') + dd")).to_have_text("the portal (made by hand)")
    expect(page.locator(".conflict")).to_contain_text("Conflict: catalog-info.yaml in")
    expect(page.locator(".conflict")).to_contain_text("Not applied until an administrator moves it there")
    screenshot("locations-service-conflict")


def test_a_member_checks_then_registers_a_repository_and_sees_what_was_read(page, live_server, sign_in, screenshot):
    from services.models import Location, Service
    from tests.factories import MembershipFactory
    from tests.services.catalog.test_locations import seed_repository
    from tests.worker import celery_worker, wait_for

    name = seed_repository()
    payments = TeamFactory(slug="payments", name="Payments")
    ServiceFactory(slug="billing", owner_team=payments, name="Billing")  # made by hand: the repository's is refused
    member = UserFactory(username="mia")
    member.set_password(PASSWORD)
    member.save()
    MembershipFactory(team=payments, user=member)
    with celery_worker():
        sign_in("mia", PASSWORD)
        page.goto(f"{live_server.url}/locations/")
        page.get_by_label("Repository or descriptor URL").fill(f"localhost/acme/{name}")
        page.get_by_label("For team").select_option("payments")
        screenshot("locations-list-empty")
        page.get_by_role("button", name="Check first").click()
        expect(page.locator("#plan[data-state=ready]")).to_be_visible(timeout=60_000)
        expect(page.locator("tr[data-outcome=created]")).to_contain_text("ledger")
        expect(page.locator("tr[data-outcome=conflict]")).to_contain_text("held by the portal (made by hand)")
        screenshot("locations-plan")
        assert not Location.objects.exists()
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"local:acme/{name}/catalog-info.yaml")
        wait_for(lambda: Location.objects.get().state in ("ok", "partial"), timeout=60, what="the first refresh")
        page.reload()
        expect(page.locator("#sources-title")).to_have_text("Files read (2)")
        expect(page.locator("#conflicts-title + .table-wrap")).to_contain_text("billing")
        expect(page.get_by_role("button", name="Move here")).to_have_count(0)  # members do not move entries
        screenshot("locations-detail")
    assert Service.objects.get(slug="ledger").owner_team == payments


def test_the_dependency_graph_of_a_demo_service_and_of_its_team(page, live_server, sign_in, screenshot):
    from services.catalog.demo import demo_load

    demo_load()
    reader = UserFactory(username="vera")
    reader.set_password(PASSWORD)
    reader.save()
    sign_in("vera", PASSWORD)
    page.goto(f"{live_server.url}/services/payments-api/")
    page.get_by_role("link", name="See the graph").click()
    graph = page.locator("svg.dependency-graph")
    expect(graph).to_be_visible()
    expect(graph.locator("g.graph-node.focus")).to_have_count(1)
    screenshot("graph-service")
    page.get_by_role("link", name="1 step").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("1 step each way")
    page.goto(f"{live_server.url}/teams/payments/dependencies/")
    expect(page.locator("svg.dependency-graph")).to_be_visible()
    screenshot("graph-team")
    page.goto(f"{live_server.url}/systems/")
    page.locator("table a").first.click()
    expect(page.locator("svg.dependency-graph")).to_be_visible()
    screenshot("system-page")
    page.goto(f"{live_server.url}/teams/payments/")
    page.locator("td a").first.click()  # a member: their page
    expect(page.locator("#person-teams-title")).to_be_visible()
    screenshot("person-page")
