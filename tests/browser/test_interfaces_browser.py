"""API and resource pages in a real browser: the list, an API with its providers and consumers, its
OpenAPI definition drawn by the Swagger UI under the Content-Security-Policy, a resource
(screenshots: test-output/screenshots/apis-*.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.catalog.sync.locations import catalog_import
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-password-1"
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "backstage-examples"


def test_apis_their_definitions_and_resources(page, live_server, sign_in, screenshot):
    catalog_import(path=EXAMPLES)
    reader = UserFactory(username="vera")
    reader.set_password(PASSWORD)
    reader.save()
    sign_in("vera", PASSWORD)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    page.goto(f"{live_server.url}/apis/")
    expect(page.locator("table tbody tr")).to_have_count(19)
    screenshot("apis-list")

    page.goto(f"{live_server.url}/apis/default/wayback-archive/")
    expect(page.locator("#providers-title")).to_contain_text("Provided by")
    expect(page.get_by_role("link", name="wayback-search")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("has not been fetched yet")
    screenshot("apis-detail-pending")

    page.goto(f"{live_server.url}/apis/default/petstore/")
    page.get_by_role("link", name="Open in the Swagger UI").click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Swagger Petstore", timeout=15_000)
    expect(page.locator(".opblock").first).to_be_visible()
    screenshot("apis-swagger")

    page.goto(f"{live_server.url}/services/wayback-search/")
    section = page.locator("section[aria-labelledby=interfaces-title]")
    expect(section.get_by_role("link", name="wayback-archive")).to_be_visible()
    section.scroll_into_view_if_needed()
    screenshot("apis-service-section")

    page.goto(f"{live_server.url}/services/alternative--different-namespace/")
    expect(page.locator("#service-title .badge")).to_have_text("alternative")

    page.goto(f"{live_server.url}/resources/default/artists-db/")
    expect(page.get_by_role("link", name="artist-lookup")).to_be_visible()
    screenshot("apis-resource")
    assert not problems, problems
