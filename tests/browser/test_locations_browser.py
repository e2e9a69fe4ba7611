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
