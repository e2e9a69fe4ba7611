"""The new-service wizard in a real browser, against the portal on loopback and a real Celery worker:
choose a golden path, fill the generated form (live checks), preview, create, and watch the run page
reach success without reloading; then the failed-run and runs-list pages, at laptop and phone widths.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.models import ProvisioningRun, Runbook, RunStep, Service
from services.scaffolder import runs as provisioning_runs
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MINI = Path(__file__).resolve().parents[1] / "data" / "scaffolds"
PASSWORD = "a-long-password-1"
LAPTOP = {"width": 1280, "height": 900}
# Layout shift (the Layout Instability API) summed over the run page's live updates.
WATCH_SHIFTS = """() => {
  window.__shift = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) { if (!entry.hadRecentInput) window.__shift += entry.value; }
  }).observe({type: "layout-shift", buffered: false});
}"""


@pytest.fixture(autouse=True)
def _mini_templates(settings, monkeypatch, tmp_path):
    """The small test template and a repository folder of this test's own, for the live server
    (settings) and for the worker process (environment)."""
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI
    monkeypatch.setenv("SLIPWAY_SCAFFOLDS_DIR", str(MINI))
    settings.SLIPWAY_REPOSITORY_DIR = tmp_path / "repositories"
    monkeypatch.setenv("SLIPWAY_REPOSITORY_DIR", str(tmp_path / "repositories"))


@pytest.fixture
def mia(member):
    member.set_password(PASSWORD)
    member.save()
    return member


@pytest.fixture
def shoot(page, screenshot):
    """shoot("name") saves the page at laptop width and at phone width (390 px)."""

    def take(name: str) -> None:
        screenshot(f"{name}-laptop", width=LAPTOP["width"])
        screenshot(f"{name}-phone", width=390)
        page.set_viewport_size(LAPTOP)

    return take


def run_inputs(slug: str) -> dict:
    return {"service_name": slug, "description": "Keeps the books", "lifecycle": "production", "port": 8080}


@pytest.mark.worker
def test_create_a_service_through_the_wizard_and_watch_the_run_succeed_live(page, live_server, sign_in, shoot, mia,
                                                                            team):
    ServiceFactory(slug="taken-api", owner_team=team)
    page.set_viewport_size(LAPTOP)
    sign_in("mia", PASSWORD)

    # 1. Choose a golden path.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Create").click()
    expect(page).to_have_title("Create a service · Slipway")
    shoot("wizard-1-templates")
    page.get_by_role("link", name="Mini service").click()

    # 2. The generated form, with live checks of the name (the browser's pattern and the server's).
    expect(page).to_have_title("New Mini service · Create a service · Slipway")
    name = page.get_by_label("Service name")
    expect(name).to_have_value("my-service")
    name.fill("Bad_Name")
    assert name.evaluate("element => element.validity.patternMismatch") is True  # the pattern compiled
    expect(page.locator("#name-check")).to_contain_text("Must be 3 to 40 lowercase letters")
    name.fill("taken-api")
    expect(page.locator("#name-check")).to_contain_text("A service with this name exists")
    name.fill("ledger-api")
    assert name.evaluate("element => element.validity.valid") is True
    # Free in the catalog; the repository host is asked through a worker, and the page asks again
    # every second until the answer is there (here given as the worker would give it).
    expect(page.locator("#name-check")).to_contain_text("asking the repository host whether ledger-api is free")
    from services.scaffolder import namecheck

    namecheck.check_now("ledger-api", "local")
    expect(page.locator("#name-check")).to_contain_text("ledger-api is free, on the repository host too.")
    page.get_by_label("What it does").fill("Keeps the books <b>safe</b> {{ 7*7 }}")
    page.get_by_label("Lifecycle").select_option("production")
    page.get_by_label("Port").fill("8081")
    expect(page.get_by_label("Owner team")).to_have_value("payments")
    shoot("wizard-2-form")

    # The server refuses what the browser cannot know: the name taken meanwhile, shown at the field.
    name.fill("taken-api")
    page.get_by_role("button", name="Preview files").click()
    expect(page).to_have_title(re.compile(r"^Fix the form: New Mini service"))
    expect(page.locator("#id_inputs\\.service_name_error")).to_have_text("A service with this name exists")
    expect(page.get_by_role("alert")).to_contain_text("Service name: a service with this name exists")
    shoot("wizard-2-form-errors")
    page.get_by_label("Service name").fill("ledger-api")
    page.get_by_role("button", name="Preview files").click()

    # 3. Preview: the file tree and each file, escaped, nothing created yet.
    expect(page).to_have_title("Preview ledger-api · Create a service · Slipway")
    readme = page.locator("details.wz-file", has=page.locator("summary", has_text="README.md"))
    expect(readme).not_to_have_attribute("open", "")
    page.get_by_role("navigation", name="Files").get_by_role("link", name="README.md").click()
    expect(readme).to_have_attribute("open", "")
    expect(readme.locator("pre")).to_contain_text("Keeps the books <b>safe</b> {{ 7*7 }}")
    assert not ProvisioningRun.objects.exists()
    shoot("wizard-3-preview")

    # 4. Create: the run page follows the run live, without reloading, until it succeeded.
    page.get_by_role("button", name="Create service").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))
    page.evaluate("() => { window.__samePage = true; }")
    page.evaluate(WATCH_SHIFTS)
    run = ProvisioningRun.objects.get()
    assert run.state == "queued" and run.requested_by == mia
    expect(page.locator(".run-step")).to_have_count(9)
    shoot("run-queued")
    with celery_worker(env={"SLIPWAY_STEP_DELAY_SECONDS": "0.4"}):
        expect(page.locator(".run-step[data-state=running]")).to_have_count(1, timeout=30_000)
        expect(page).to_have_title(re.compile(r"\(running\)"))
        shoot("run-running")
        expect(page.get_by_role("heading", name="Your service is ready")).to_be_visible(timeout=60_000)
    assert page.evaluate("() => window.__samePage") is True  # updated in place by htmx, not reloaded
    shift = page.evaluate("() => window.__shift")
    print(f"run page layout shift while updating: {shift:.4f}")
    assert shift < 0.02, f"the run page moved while it updated (layout shift {shift:.3f})"
    expect(page).to_have_title("Run ledger-api (succeeded) · Runs · Slipway")
    expect(page.locator(".run-step[data-state=succeeded]")).to_have_count(9)
    run.refresh_from_db()
    assert run.state == "succeeded"
    expect(page.locator("#clone-command")).to_have_text(f"git clone {run.clone_url}")
    page.locator("#log-summary-2").click()  # open a step's log
    expect(page.locator("#log-2 pre")).to_contain_text("repository slipway/ledger-api ready")
    shoot("run-succeeded")

    # The polling stopped: the section carries no trigger any more.
    assert page.locator("#run-status").get_attribute("hx-trigger") is None

    # 5. The new service page.
    service_link = page.locator("#service-link")
    expect(service_link).to_have_attribute("href", "/services/ledger-api/")
    with page.expect_navigation() as navigation:
        service_link.click()
    assert navigation.value.status == 200
    expect(page.locator("h1")).to_contain_text("ledger-api")
    assert Service.objects.get(slug="ledger-api").owner_team == team

    # ... and its runbook, made from the scaffold's docs/runbook.md, is edited by its owner.
    page.locator("#runbooks").get_by_role("link", name="ledger-api runbook").click()
    expect(page.locator("#runbook-title")).to_have_text("ledger-api runbook")
    page.get_by_role("link", name="Edit ledger-api runbook").click()
    page.get_by_label("Body").fill("# ledger-api\n\nRestart it with `make restart`, then check `/healthz`.\n")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message")).to_have_text("Runbook saved.")
    assert Runbook.objects.get(service__slug="ledger-api").revisions.count() == 2
    shoot("new-service-runbook-edited")

    # The runs list shows it.
    page.goto(f"{live_server.url}/runs/")
    expect(page).to_have_title("My runs · Runs · Slipway")
    row = page.locator("tbody tr", has_text="ledger-api")
    expect(row.locator(".run-badge")).to_have_text("Succeeded")
    shoot("runs-list")


def test_a_failed_run_says_why_and_is_retried_from_the_keyboard(page, live_server, sign_in, shoot, mia, team):
    run, _ = provisioning_runs.run_create(actor=mia, template="mini", owner="payments",
                                          inputs=run_inputs("broken-api"))
    ProvisioningRun.objects.filter(pk=run.pk).update(
        state="failed", error="repo.create failed: repository slipway/broken-api already exists and was not created "
                              "by this run")
    RunStep.objects.filter(run=run, position=1).update(state="succeeded", attempts=1, log="rendered 6 files")
    RunStep.objects.filter(run=run, position=2).update(
        state="failed", attempts=1, error="repository slipway/broken-api already exists and was not created by this "
                                          "run", log="checking slipway/broken-api")
    page.set_viewport_size(LAPTOP)
    sign_in("mia", PASSWORD)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page).to_have_title("Run broken-api (failed) · Runs · Slipway")
    expect(page.locator(".run-reason")).to_have_text(
        "Slipway could not create the repository: repository slipway/broken-api already exists and was not created "
        "by this run")
    shoot("run-failed")
    # Keyboard only: Tab reaches the Retry button, which shows where focus is, and Enter presses it.
    retry = page.get_by_role("button", name="Retry from step 2")
    for _ in range(40):
        page.keyboard.press("Tab")
        if retry.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the Retry button")
    outline = retry.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline not in ("", "none"), "the focused button shows no focus ring"
    page.keyboard.press("Enter")
    expect(page.get_by_text("Retrying from the failed step")).to_be_visible()
    expect(page).to_have_title("Run broken-api (queued) · Runs · Slipway")
    assert ProvisioningRun.objects.get(pk=run.pk).state == "queued"
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible()


def test_runs_list_filters_and_a_non_member_sees_no_controls(page, live_server, sign_in, shoot, mia, team):
    search = TeamFactory(slug="search", name="Search")
    olga = UserFactory(username="olga")
    MembershipFactory(user=olga, team=search)
    for index, state in enumerate(["succeeded", "failed", "queued", "cancelled", "running", "succeeded"]):
        run, _ = provisioning_runs.run_create(actor=mia, template="mini", owner="payments",
                                              inputs=run_inputs(f"svc-{index}"))
        ProvisioningRun.objects.filter(pk=run.pk).update(state=state)
    theirs, _ = provisioning_runs.run_create(actor=olga, template="mini", owner="search",
                                             inputs=run_inputs("their-api"))
    page.set_viewport_size(LAPTOP)
    sign_in("mia", PASSWORD)
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator("tbody tr")).to_have_count(6)
    page.get_by_role("link", name="All runs").click()
    expect(page.locator("tbody tr")).to_have_count(7)
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("svc-1")
    page.get_by_label("State").select_option("")
    page.get_by_label("Team").select_option("search")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("tbody tr")).to_have_count(7)
    shoot("runs-list-all")
    # mia is not in Search: the run page shows no Cancel button (and the server would refuse it).
    page.goto(f"{live_server.url}/runs/{theirs.pk}/")
    expect(page.locator(".run-step")).to_have_count(9)
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    # A person in no team is told why there is no form.
    page.goto(f"{live_server.url}/accounts/login/")
    lone = UserFactory(username="lone")
    lone.set_password(PASSWORD)
    lone.save()
    page.context.clear_cookies()
    sign_in("lone", PASSWORD)
    page.goto(f"{live_server.url}/create/mini/")
    expect(page.get_by_text("You are not in any team yet.")).to_be_visible()
    shoot("wizard-2-no-team")
