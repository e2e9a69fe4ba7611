"""The catalog in a real browser: who-owns by repository URL, search as you type, in-place editing,
the runbook editor with preview, and what a non-owner sees. Screenshots of every page at laptop and
phone width go to test-output/screenshots/catalog-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from services.catalog.demo import demo_load
from services.models import Runbook, Service
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-password-1"
LAPTOP, PHONE = 1280, 390


@pytest.fixture
def demo():
    """The demo organisation; kwame.mensah leads Payments (owns ledger), vera belongs to no team."""
    demo_load()
    owner = UserFactory(username="kwame.mensah")
    owner.set_password(PASSWORD)
    owner.save()
    viewer = UserFactory(username="vera", first_name="Vera", last_name="Viewer")
    viewer.set_password(PASSWORD)
    viewer.save()
    return {"owner": owner, "viewer": viewer}


def _both_widths(page, screenshot, name: str) -> None:
    """Screenshots at laptop and phone width; the page must never scroll sideways at either."""
    for width, suffix in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        culprits = page.evaluate("""() => { const w = document.documentElement.clientWidth; const out = [];
          for (const el of document.querySelectorAll('body *')) { const r = el.getBoundingClientRect();
            if (r.right > w + 1 && el.children.length === 0) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right)); }
          return out.slice(0, 12); }""")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px: {culprits}"
        screenshot(f"catalog-{name}-{suffix}")
    page.set_viewport_size({"width": LAPTOP, "height": 900})


def test_find_a_services_owner_by_pasting_its_repository_url(page, live_server, sign_in, screenshot, demo):
    sign_in("vera", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Who owns?").click()
    expect(page).to_have_title("Who owns this? · Slipway")
    _both_widths(page, screenshot, "ownership-empty")
    page.get_by_label("Service, repository, URL or person").fill("git@github.com:acme-demo/ledger.git")
    page.get_by_role("button", name="Find the owner").click()
    expect(page.get_by_role("heading", name="Ledger", exact=True)).to_be_visible()
    owner = page.locator(".answer-owner")
    expect(owner.get_by_role("link", name="Payments", exact=True)).to_be_visible()
    expect(owner).to_contain_text("Kwame Mensah")
    expect(owner.get_by_role("link", name=re.compile("payments@"))).to_have_attribute(
        "href", "mailto:payments@acme.example.org")
    expect(page.get_by_role("heading", name="If nobody answers, escalate to")).to_be_visible()
    _both_widths(page, screenshot, "ownership-answer")

    page.get_by_label("Service, repository, URL or person").fill("https://github.com/acme-demo/nothing-here")
    page.get_by_role("button", name="Find the owner").click()
    expect(page.get_by_role("heading", name=re.compile("Nothing found"))).to_be_visible()
    _both_widths(page, screenshot, "ownership-not-found")


def test_search_as_you_type_on_home_finds_the_service(page, live_server, sign_in, screenshot, demo):
    sign_in("vera", PASSWORD)
    search = page.get_by_label("Search services, teams, people")
    search.press_sequentially("ledg", delay=40)
    suggestion = page.locator('#search-suggestions a[href="/services/ledger/"]')  # its runbook is listed too
    expect(suggestion).to_be_visible()
    _both_widths(page, screenshot, "home-suggestions")
    search.press("ArrowDown")
    expect(page.locator("#search-suggestions a").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#search-suggestions a")).to_have_count(0)
    search.fill("")
    search.press_sequentially("payments", delay=20)
    payments = page.locator('#search-suggestions a[href="/services/payments-api/"]')
    expect(payments).to_be_visible()
    payments.click()
    expect(page).to_have_title("Payments API · Catalog · Slipway")
    # Without JavaScript the same box submits to a results page.
    page.goto(f"{live_server.url}/search/?q=ledger")
    expect(page.locator('.search-page a[href="/services/ledger/"]')).to_be_visible()
    _both_widths(page, screenshot, "search-results")


def test_owner_edits_a_service_in_place(page, live_server, sign_in, screenshot, demo):
    sign_in("kwame.mensah", PASSWORD)
    page.goto(f"{live_server.url}/services/ledger/")
    _both_widths(page, screenshot, "service-owner")
    page.get_by_role("link", name="Edit Ledger").click()
    expect(page.get_by_label("Description")).to_be_visible()
    expect(page.get_by_label("Name")).to_be_focused()  # focus moves into the form
    assert page.url.endswith("/services/ledger/")  # edited in place, no navigation
    _both_widths(page, screenshot, "service-edit")

    page.get_by_label("Tags").fill("payments, Not A Tag")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#id_tags_errors")).to_contain_text("A tag is 1 to 63 characters: lowercase letters")
    expect(page.get_by_label("Tags")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Tags")).to_be_focused()  # the first field in error
    _both_widths(page, screenshot, "service-edit-errors")

    page.get_by_label("Tags").fill("payments, pci, postgres")
    page.get_by_label("Description").fill("The books of record, double-entry, for every money movement.")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#service-summary")).to_contain_text("Saved.")
    expect(page.locator("#service-summary .description")).to_have_text(
        "The books of record, double-entry, for every money movement.")
    expect(page.locator("#history")).to_contain_text("kwame.mensah changed")
    assert Service.objects.get(slug="ledger").description.startswith("The books of record")


def test_owner_edits_a_runbook_with_preview_and_sees_the_revision(page, live_server, sign_in, screenshot, demo):
    sign_in("kwame.mensah", PASSWORD)
    page.goto(f"{live_server.url}/services/ledger/")
    page.locator("#runbooks").get_by_role("link", name="Ledger on-call runbook").click()
    expect(page.locator("#runbook-title")).to_have_text("Ledger on-call runbook")
    _both_widths(page, screenshot, "runbook")
    page.get_by_role("link", name="Edit Ledger on-call runbook").click()
    # The preview opens showing the text being edited, not "Nothing to preview yet".
    expect(page.locator("#preview h2").first).to_have_text("Symptoms")
    body = page.get_by_label("Body")
    body.fill("# Ledger on call\n\n1. **Check** the reconciliation report.\n2. Page the DBA.\n")
    # Live preview while typing (it opened with the saved text: wait for the new one).
    expect(page.locator("#preview")).to_contain_text("Page the DBA")
    expect(page.locator("#preview strong")).to_have_text("Check")
    body.press("End")
    body.type("\n<script>alert(1)</script>")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("<script>alert(1)</script>")  # shown as text
    assert page.locator("#preview script").count() == 0
    _both_widths(page, screenshot, "runbook-edit")
    page.get_by_label("I reviewed this runbook today").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message")).to_have_text("Runbook saved.")
    expect(page.locator(".badge.stale")).to_have_count(0)
    page.get_by_role("link", name="2 revisions").click()
    expect(page.locator(".diff-add").filter(has_text="Page the DBA")).to_be_visible()
    _both_widths(page, screenshot, "runbook-history")
    assert Runbook.objects.get(service__slug="ledger").revisions.count() == 2


def test_a_non_owner_sees_no_edit_controls(page, live_server, sign_in, screenshot, demo):
    sign_in("vera", PASSWORD)
    page.goto(f"{live_server.url}/services/ledger/")
    expect(page.get_by_role("heading", name="Ledger", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Edit"))).to_have_count(0)
    expect(page.get_by_role("link", name="New runbook")).to_have_count(0)
    _both_widths(page, screenshot, "service-viewer")
    page.locator("#runbooks").get_by_role("link", name="Ledger on-call runbook").click()
    expect(page.get_by_role("link", name=re.compile("^Edit"))).to_have_count(0)
    response = page.goto(f"{live_server.url}/services/ledger/edit/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You may not do that")).to_be_visible()
    _both_widths(page, screenshot, "403")


def test_catalog_team_and_other_pages_at_laptop_and_phone_width(page, live_server, sign_in, screenshot, demo):
    page.goto(f"{live_server.url}/")
    _both_widths(page, screenshot, "home-anonymous")
    page.goto(f"{live_server.url}/accounts/login/")
    _both_widths(page, screenshot, "login")
    sign_in("kwame.mensah", PASSWORD)
    _both_widths(page, screenshot, "home")
    page.get_by_role("link", name="Catalog", exact=True).click()
    expect(page).to_have_title("Catalog · Slipway")
    _both_widths(page, screenshot, "catalog")
    page.get_by_text("More filters").click()
    page.get_by_label("Lifecycle").fill("production")
    page.get_by_label("Tier").select_option("1")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.catalog tbody tr").first).to_be_visible()
    assert "tier=1" in page.url
    _both_widths(page, screenshot, "catalog-filtered")
    page.get_by_role("link", name="Teams", exact=True).click()
    _both_widths(page, screenshot, "teams")
    page.locator("a.row-title", has_text=re.compile("^Payments$")).click()
    expect(page.get_by_role("heading", name="Payments", level=1)).to_be_visible()
    _both_widths(page, screenshot, "team")
    page.goto(f"{live_server.url}/services/ledger/new-runbook/")
    _both_widths(page, screenshot, "runbook-new")
    response = page.goto(f"{live_server.url}/services/no-such-service/")
    assert response.status == 404
    _both_widths(page, screenshot, "404")
    page.goto(f"{live_server.url}/services/ledger/history/")
    _both_widths(page, screenshot, "service-history")


def test_keyboard_reaches_the_main_content_first(page, live_server, sign_in, demo):
    sign_in("vera", PASSWORD)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_the_longest_names_allowed_break_no_layout(page, live_server, sign_in, screenshot, demo):
    # 200 characters (the most a name may have), once as one unbreakable word, once as words; the
    # longest slugs too. No page may scroll sideways at laptop or phone width.
    from services.models import Membership, Team
    from tests.factories import MembershipFactory, ServiceFactory

    word = "Ledgerreconciliationandsettlement" * 7
    team = Team.objects.create(slug="t" * 100, name=word[:200], description=("settlement " * 50)[:500])
    MembershipFactory(user=demo["viewer"], team=team, role=Membership.Role.LEAD)
    ServiceFactory(slug="s" * 63, name=word[:200], owner_team=team, description=word[:1000],
                   repository="github.com/" + "o" * 39 + "/" + "r" * 100, tags=["t" * 63])
    ServiceFactory(slug="w" * 63, name=("Ledger reconciliation " * 10)[:200], owner_team=team)
    sign_in("vera", PASSWORD)
    for name, path in (("long-home", "/"), ("long-catalog", "/services/?q=s"), ("long-catalog-all", "/services/"),
                       ("long-team", f"/teams/{team.slug}/"), ("long-service", f"/services/{'s' * 63}/"),
                       ("long-teams", "/teams/"), ("long-owner", f"/ownership/?q={'s' * 63}")):
        page.goto(f"{live_server.url}{path}")
        _both_widths(page, screenshot, name)
