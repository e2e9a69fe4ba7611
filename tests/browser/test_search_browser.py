"""Search as you type on the home page and the results page, in a real browser (screenshots:
test-output/screenshots/search-*.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.models import Profile, System
from tests.factories import RunbookFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-password-1"


def test_typing_on_the_home_page_suggests_every_kind_and_the_results_page_groups_them(page, live_server, sign_in,
                                                                                       screenshot):
    streaming = TeamFactory(slug="streaming", name="Streaming", description="Runs the kafka clusters")
    ServiceFactory(slug="kafka-proxy", name="Kafka Proxy", owner_team=streaming, tags=["pci"])
    ServiceFactory(slug="card-gateway", name="Card Gateway", owner_team=streaming, description="Takes card payments")
    System.objects.create(slug="kafka-platform", name="Kafka Platform")
    RunbookFactory(service=ServiceFactory(slug="ledger", owner_team=streaming), slug="lag", title="Consumer lag",
                   body="Check the kafka consumer group first.")
    person = UserFactory(username="kafka-admin", first_name="Kaf", last_name="Ka")
    Profile.objects.create(user=person, display_name="Kaf Ka")
    reader = UserFactory(username="rita")
    reader.set_password(PASSWORD)
    reader.save()
    sign_in("rita", PASSWORD)

    page.goto(f"{live_server.url}/")
    page.locator("#home-search").press_sequentially("kaf", delay=50)
    suggestions = page.locator("#search-suggestions")
    for kind in ("service", "team", "person", "system", "runbook"):
        expect(suggestions.locator(f'[data-kind="{kind}"]')).to_be_visible()
    expect(suggestions.locator('a[href="/services/kafka-proxy/"]')).to_be_visible()
    screenshot("search-suggestions")

    page.locator("#home-search").fill("kafak")  # a typo: similar names
    expect(suggestions).to_contain_text("Names like it")
    expect(suggestions.locator('a[href="/services/kafka-proxy/"]')).to_be_visible()

    page.locator("#home-search").fill("card")
    expect(suggestions.locator('a[href="/services/card-gateway/"]')).to_be_visible()
    page.locator("#home-search").press("Enter")
    expect(page).to_have_url(f"{live_server.url}/search/?q=card")
    expect(page.locator('.search-page [data-kind="service"] h3')).to_contain_text("Services")
    screenshot("search-results")

    page.goto(f"{live_server.url}/search/?q=kafka")
    runbooks = page.locator('.search-page [data-kind="runbook"]')
    expect(runbooks).to_contain_text("Check the kafka consumer group")
    runbooks.locator("a").first.click()
    expect(page).to_have_url(f"{live_server.url}/services/ledger/runbooks/lag/")
