"""Every kind of page under the portal's Content-Security-Policy in a real browser: no page is refused a
script, a style or an image, and what the pages do with script (htmx search as you type, the runbook
preview, the wizard's file tree, Swagger UI and ReDoc rendering the schema) still works."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from services.models import Service
from services.scaffolder import runs as provisioning_runs
from tests.browser.conftest import SCREENSHOTS
from tests.factories import MembershipFactory, RunbookFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MINI = Path(__file__).resolve().parents[1] / "data" / "scaffolds"
PASSWORD = "a-long-password-1"
# Chromium reports a refused resource both ways: a console error and a securitypolicyviolation event,
# which this script (injected by the browser, outside the page's policy) turns into a console message.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
                + ` at ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""

@pytest.fixture(autouse=True)
def _mini_templates(settings, monkeypatch):
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI
    monkeypatch.setenv("SLIPWAY_SCAFFOLDS_DIR", str(MINI))


@pytest.fixture
def problems(page):
    """What the browser complained about: CSP violations and uncaught script errors."""
    found: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            found.append(f"{page.url}: {message.text}")

    def on_request(request) -> None:
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("http:", "https:")) and host not in ("127.0.0.1", "localhost"):
            found.append(f"{page.url}: asked another origin for {request.url}")

    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", on_console)
    page.on("request", on_request)
    page.on("pageerror", lambda error: found.append(f"{page.url}: page error {error}"))
    return found


@pytest.fixture
def staff_user(db):
    user = UserFactory(username="ada", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def _visit(page, url: str, problems: list[str], *, title: str | re.Pattern[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 500, url
    assert "script-src 'self'" in response.headers.get("content-security-policy", ""), f"no CSP on {url}"
    page.wait_for_load_state("networkidle")
    expect(page).to_have_title(title)
    assert not problems, "\n".join(problems)


def test_every_kind_of_page_works_under_the_content_security_policy(page, live_server, sign_in, screenshot,
                                                                     problems, staff_user):
    base = live_server.url
    team = TeamFactory(slug="payments", name="Payments")
    MembershipFactory(user=staff_user, team=team)
    service = ServiceFactory(slug="ledger-api", name="Ledger API", owner_team=team)
    ServiceFactory(slug="ledger-reports", name="Ledger Reports", owner_team=team)
    runbook = RunbookFactory(service=service, slug="restart", title="Restart the ledger",
                             body="# Restart\n\nRun `kubectl rollout restart`.\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    run, _ = provisioning_runs.run_create(actor=staff_user, template="mini", owner="payments",
                                          inputs={"service_name": "queued-api", "description": "Waits",
                                                  "lifecycle": "production", "port": 8080})

    # The sign-in page, then signed in.
    _visit(page, f"{base}/accounts/login/", problems, title="Sign in · Slipway")
    sign_in("ada", PASSWORD)
    assert not problems, "\n".join(problems)

    # Home: htmx's search as you type still fills the suggestions (htmx runs, its request is allowed).
    _visit(page, f"{base}/", problems, title="Home · Slipway")
    page.locator("#home-search").press_sequentially("ledger", delay=30)
    expect(page.locator("#search-suggestions")).to_contain_text("Ledger API")
    # htmx's own indicator style is not injected inline: the meta config turned it off.
    assert page.evaluate("() => document.querySelectorAll('head style').length") == 0
    assert not problems, "\n".join(problems)

    _visit(page, f"{base}/services/", problems, title="Catalog · Slipway")
    _visit(page, f"{base}/services/{service.slug}/", problems, title="Ledger API · Catalog · Slipway")
    _visit(page, f"{base}/teams/{team.slug}/", problems, title="Payments · Teams · Slipway")
    _visit(page, f"{base}/ownership/?q=ledger-api", problems, title=re.compile("Who owns this"))
    _visit(page, f"{base}/services/{service.slug}/runbooks/{runbook.slug}/", problems,
           title=re.compile("Restart the ledger"))

    # Locations: the list, and a location's page (its sources and conflicts).
    from services.catalog.sync.locations import location_register
    from tests.services.catalog.test_locations import seed_repository

    location = location_register(actor=staff_user, url=f"localhost/acme/{seed_repository()}", team=None)
    _visit(page, f"{base}/locations/", problems, title="Locations · Slipway")
    _visit(page, f"{base}/locations/{location.pk}/", problems, title=re.compile("catalog-info.yaml · Slipway"))
    _visit(page, f"{base}/services/{service.slug}/dependencies/", problems, title=re.compile("Dependencies of"))
    _visit(page, f"{base}/systems/", problems, title="Systems and domains · Slipway")
    _visit(page, f"{base}/people/ada/", problems, title=re.compile("· People · Slipway"))

    # The runbook editor's live preview (htmx, triggered as one types).
    _visit(page, f"{base}/services/{service.slug}/runbooks/{runbook.slug}/edit/", problems,
           title=re.compile("Edit Restart the ledger"))
    page.locator("#id_body").fill("# Drain first\n\nThen *restart*.")
    expect(page.locator("#preview")).to_contain_text("Drain first", timeout=10_000)
    expect(page.locator("#preview em")).to_have_text("restart")
    assert not problems, "\n".join(problems)

    # The wizard: form, live name check, preview with its indented file tree.
    _visit(page, f"{base}/create/", problems, title="Create a service · Slipway")
    _visit(page, f"{base}/create/mini/", problems, title=re.compile("New Mini service"))
    name = page.get_by_label("Service name")
    name.fill("ledger-api")
    expect(page.locator("#name-check")).to_contain_text("A service with this name exists")
    from services.scaffolder import namecheck

    namecheck.check_now("books-api", "local")  # the worker's answer (tests/services/scaffolder/test_namecheck.py)
    name.fill("books-api")
    expect(page.locator("#name-check")).to_contain_text("books-api is free, on the repository host too.")
    page.get_by_label("What it does").fill("Keeps the books")
    page.get_by_role("button", name="Preview files").click()
    expect(page).to_have_title("Preview books-api · Create a service · Slipway")
    tree = page.get_by_role("navigation", name="Files")
    top = tree.locator("li", has_text="README.md").first.evaluate("e => getComputedStyle(e).paddingLeft")
    nested = tree.locator("li", has_text="ci.yml").first.evaluate("e => getComputedStyle(e).paddingLeft")
    assert float(nested.rstrip("px")) > float(top.rstrip("px")), (top, nested)  # indentation without style=
    tree.get_by_role("link", name="README.md").click()  # wizard.js opens the file
    expect(page.locator("details.wz-file", has=page.locator("summary", has_text="README.md"))).to_have_attribute(
        "open", "")
    screenshot("csp-wizard-preview")
    assert not problems, "\n".join(problems)

    _visit(page, f"{base}/runs/{run.pk}/", problems, title="Run queued-api (queued) · Runs · Slipway")
    _visit(page, f"{base}/runs/", problems, title=re.compile(r"runs · Runs · Slipway$"))
    _visit(page, f"{base}/tokens/", problems, title="API tokens · Slipway")
    page.get_by_label("Name", exact=True).fill("laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("body")).to_contain_text("slw_")
    assert not problems, "\n".join(problems)

    # Not found and the admin.
    _visit(page, f"{base}/no-such-page/", problems, title="Not found · Slipway")
    _visit(page, f"{base}/admin/", problems, title=re.compile("Site administration"))
    _visit(page, f"{base}/admin/services/service/{service.pk}/change/", problems, title=re.compile("Change service"))
    expect(page.locator("#id_slug")).to_have_value("ledger-api")
    _visit(page, f"{base}/admin/services/service/add/", problems, title=re.compile("Add service"))

    # The API docs render the schema from our own static files.
    _visit(page, f"{base}/api/docs/", problems, title=re.compile("Slipway API|Swagger"))
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("Slipway API", timeout=20_000)
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "csp-api-docs.png"))  # the viewport: the whole page is very long
    assert not problems, "\n".join(problems)
    _visit(page, f"{base}/api/redoc/", problems, title=re.compile("Slipway API|Redoc"))
    expect(page.locator("redoc h1").first).to_contain_text("Slipway API", timeout=20_000)
    page.screenshot(path=str(SCREENSHOTS / "csp-api-redoc.png"))
    page.wait_for_timeout(500)  # ReDoc injects its styles after the first paint
    assert not problems, "\n".join(problems)
    assert Service.objects.filter(slug="books-api").count() == 0  # the preview created nothing
