"""The new-service wizard, the run page and the runs list, through Django's test client.

Nothing in the service layer is replaced: the pages call scaffolder.templates and scaffolder.runs for real
(runs are stored; no worker runs here, so they stay queued unless a test moves them on).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from services.models import AuditEvent, Membership, ProvisioningRun, RunStep, Service
from services.scaffolder import runs as provisioning_runs
from services.scaffolder import templates
from services.web.forms.wizard import NewServiceForm, html_pattern
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MINI = Path(__file__).resolve().parents[1] / "data" / "scaffolds"
KEY = "6b0c7e39-8f3e-4a53-9a0a-1f5d1c0f3f11"


@pytest.fixture(autouse=True)
def _mini_templates(settings, tmp_path):
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI
    settings.SLIPWAY_REPOSITORY_DIR = tmp_path / "repositories"


def form_data(action: str = "preview", key: str = KEY, **inputs: str) -> dict[str, str]:
    values = {"service_name": "ledger-api", "description": "Keeps the books", "lifecycle": "production",
              "port": "8080", **inputs}
    return {**{f"inputs.{name}": value for name, value in values.items()}, "owner": "payments",
            "idempotency_key": key, "action": action}


def make_run(user, slug: str = "ledger-api", **changes) -> ProvisioningRun:
    run, _ = provisioning_runs.run_create(
        actor=user, template="mini", owner="payments",
        inputs={"service_name": slug, "description": "Keeps the books", "lifecycle": "production", "port": 8080})
    if changes:
        ProvisioningRun.objects.filter(pk=run.pk).update(**changes)
        run.refresh_from_db()
    return run


def html(response) -> str:
    return response.content.decode()


def field_block(page: str, name: str) -> str:
    """The markup of one form field: its label, control, error and help."""
    start = page.index(f'<label for="id_{name}"')
    end = page.find('<div class="wz-field', start + 1)
    return page[start:end if end != -1 else len(page)]


# ---------------------------------------------------------------------------------------------
# Choosing a golden path and the generated form.


def test_pages_ask_anonymous_visitors_to_sign_in(client):
    run_id = uuid.uuid4()
    for url in ("/create/", "/create/mini/", "/runs/", f"/runs/{run_id}/", f"/runs/{run_id}/status/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_a_signed_out_browser_polling_a_fragment_is_sent_to_sign_in_as_a_whole(client):
    run_id = uuid.uuid4()
    response = client.get(f"/runs/{run_id}/status/",
                          headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/runs/{run_id}/"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next=/runs/{run_id}/"
    response = client.get("/create/mini/check-name/", {"inputs.service_name": "x"}, headers={"HX-Request": "true"})
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_template_cards_show_title_description_tags_and_link_to_the_form(member_web):
    response = member_web.get("/create/")
    assert response.status_code == 200
    page = html(response)
    assert "<title>Create a service · Slipway</title>" in page
    assert '<a class="wz-card-link" href="/create/mini/">Mini service</a>' in page
    assert "A tiny template for the pipeline&#x27;s tests." in page
    assert "<li>python</li><li>test</li>" in page
    assert "Environments: dev, staging, production" in page


def test_an_unknown_template_is_a_404(member_web):
    assert member_web.get("/create/nope/").status_code == 404
    assert member_web.get("/create/..%2Fetc/").status_code == 404


def test_the_form_has_every_input_with_its_label_help_choices_default_and_limits(member_web, team):
    TeamFactory(slug="search", name="Search")  # not mia's team: not offered
    page = html(member_web.get("/create/mini/"))
    assert "<title>New Mini service · Create a service · Slipway</title>" in page
    name = field_block(page, "inputs.service_name")
    assert ">Service name<" in name and 'value="my-service"' in name and 'maxlength="40"' in name
    # The Python pattern's trailing hyphen is escaped for the browser's v-flag regex.
    assert 'pattern="^[a-z][a-z0-9\\-]{1,38}[a-z0-9]$"' in name
    assert "Lower-case letters, digits and hyphens." in name and 'hx-get="/create/mini/check-name/"' in name
    assert 'aria-describedby="id_inputs.service_name_helptext"' in name
    description = field_block(page, "inputs.description")
    assert ">What it does<" in description and 'value="A small service"' in description
    assert "required" not in description  # optional in the template
    lifecycle = field_block(page, "inputs.lifecycle")
    assert re.search(r'<option value="experimental" selected>experimental</option>\s*<option value="production">',
                     lifecycle)
    port = field_block(page, "inputs.port")
    assert 'type="number"' in port and 'value="8080"' in port and 'min="1024"' in port and 'max="65535"' in port
    owner = field_block(page, "owner")
    assert '<option value="payments" selected>Payments (payments)</option>' in owner and "search" not in owner
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page).group(1)
    assert uuid.UUID(key)
    assert 'name="csrfmiddlewaretoken"' in page
    assert html(member_web.get("/create/mini/")).count(key) == 0  # a new key each time the form is shown


def test_staff_may_choose_any_team_and_a_person_without_a_team_is_told_why_there_is_no_form(staff_web, viewer_web,
                                                                                             team):
    TeamFactory(slug="search", name="Search")
    owner = field_block(html(staff_web.get("/create/mini/")), "owner")
    assert 'value="payments"' in owner and 'value="search"' in owner
    page = html(viewer_web.get("/create/mini/"))
    assert "You are not in any team yet." in page and "<form method=\"post\" action=\"/create/mini/\"" not in page


def test_the_form_is_generated_from_any_schema_booleans_integer_choices_and_textareas():
    spec = templates.InputSpec
    template = templates.Template(
        name="synthetic", path=MINI, title="Synthetic", description="", tags=(), version="1", variables={},
        environments=(), inputs=(
            spec(name="service_name", type="string", default="x", label="Name", pattern="^(?P<n>[a-z]+)$"),
            spec(name="public", type="boolean", default=True, label="Public"),
            spec(name="replicas", type="choice", default=1, label="Replicas", choices=(1, 3, 5)),
            spec(name="notes", type="string", default="", label="Notes", required=False, multiline=True),
        ))
    form = NewServiceForm(template=template, teams=[])
    page = str(form["inputs.public"]) + str(form["inputs.replicas"]) + str(form["inputs.notes"])
    assert 'type="checkbox"' in page and "checked" in page
    assert '<option value="3">3</option>' in page and "<textarea" in page
    assert "pattern" not in str(form["inputs.service_name"])  # a Python-only pattern is left to the server
    bound = NewServiceForm({"inputs.service_name": "abc", "inputs.replicas": "3", "owner": "t",
                            "idempotency_key": KEY}, template=template, teams=[])
    assert bound.is_valid(), bound.errors
    assert bound.inputs() == {"service_name": "abc", "public": False, "replicas": 3, "notes": ""}


@pytest.mark.parametrize(("python", "browser"), [
    ("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", "^[a-z][a-z0-9\\-]{1,38}[a-z0-9]$"),
    ("^[-a-z]+$", "^[\\-a-z]+$"),
    ("^[^-_]+$", "^[^\\-_]+$"),
    ("^(?:[a-z0-9_-]{0,98}[a-z0-9])?$", "^(?:[a-z0-9_\\-]{0,98}[a-z0-9])?$"),
    ("^[a-z(|)]$", "^[a-z\\(\\|\\)]$"),
    ("^\\d+\\.\\d+$", "^\\d+\\.\\d+$"),
    ("(?i)^abc$", None),
    ("^abc\\Z", None),
    ("^[abc$", None),
])
def test_python_patterns_become_browser_patterns(python, browser):
    assert html_pattern(python) == browser


# ---------------------------------------------------------------------------------------------
# Validation: errors next to their field, nothing stored.


def test_bad_values_come_back_with_errors_next_to_their_fields_and_nothing_is_stored(member_web, team):
    response = member_web.post("/create/mini/", form_data(service_name="Bad Name", port="80"))
    assert response.status_code == 400
    page = html(response)
    assert "<title>Fix the form: New Mini service" in page
    name = field_block(page, "inputs.service_name")
    assert 'value="Bad Name"' in name and 'aria-invalid="true"' in name
    # The rule in the template's words (`pattern_help`), never its regular expression.
    assert ('<div class="wz-error" id="id_inputs.service_name_error"><p>Must be 3 to 40 lowercase letters, digits '
            'and hyphens, starting with a letter</p>') in name
    assert "[a-z" not in page.split("<form", 1)[1].replace('pattern="^[a-z][a-z0-9\\-]{1,38}[a-z0-9]$"', "")
    assert "id_inputs.service_name_error" in name.split("<input", 1)[1].split(">", 1)[0]  # aria-describedby
    assert '<p>Must be at least 1024</p>' in field_block(page, "inputs.port")
    assert "wz-error" not in field_block(page, "inputs.lifecycle")
    assert '<a href="#id_inputs.port">Port</a>: must be at least 1024' in page  # the summary at the top
    assert re.search(r'name="idempotency_key" value="' + KEY, page)  # the same key is kept
    assert not ProvisioningRun.objects.exists() and not AuditEvent.objects.exists()


def test_values_that_do_not_parse_and_missing_ones_are_named(member_web, team):
    data = form_data(port="eighty")
    del data["inputs.lifecycle"]
    page = html(member_web.post("/create/mini/", data))
    assert "Enter a whole number." in field_block(page, "inputs.port")
    assert "This field is required." in field_block(page, "inputs.lifecycle")
    page = html(member_web.post("/create/mini/", form_data(lifecycle="retired")))
    assert "Select a valid choice." in field_block(page, "inputs.lifecycle")
    page = html(member_web.post("/create/mini/", {**form_data(), "owner": "nobody"}))
    assert "No team &#x27;nobody&#x27;" in field_block(page, "owner")
    assert not ProvisioningRun.objects.exists()


def test_hostile_values_are_data_escaped_on_every_page_or_refused(member_web, team):
    hostile = "{{ 7*7 }} <script>alert(1)</script> {% raw %}"
    response = member_web.post("/create/mini/", form_data(description=hostile))
    assert response.status_code == 200
    page = html(response)
    assert "{{ 7*7 }} &lt;script&gt;alert(1)&lt;/script&gt; {% raw %}" in page  # README, as typed, escaped
    assert "<script>alert(1)" not in page and "49 &lt;script" not in page  # never evaluated as Jinja
    refused = member_web.post("/create/mini/", form_data(service_name="<script>x</script>"))
    assert refused.status_code == 400
    name = field_block(html(refused), "inputs.service_name")
    assert 'value="&lt;script&gt;x&lt;/script&gt;"' in name and "Must be 3 to 40 lowercase letters" in name
    template_like = member_web.post("/create/mini/", form_data(service_name="{{7*7}}"))
    assert template_like.status_code == 400
    assert "Must be 3 to 40 lowercase letters" in field_block(html(template_like), "inputs.service_name")
    control = member_web.post("/create/mini/", form_data(description="line\u202eevil"))
    assert "Contains control or invisible formatting characters" in field_block(html(control), "inputs.description")
    run = make_run(UserFactory(), slug="hostile", error="<img src=x onerror=alert(1)>",
                   state=ProvisioningRun.State.FAILED)
    RunStep.objects.filter(run=run, position=1).update(state="failed", log="<script>alert(2)</script>",
                                                       error="<b>bad</b>")
    page = html(member_web.get(f"/runs/{run.pk}/"))
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script>alert(2)" not in page
    assert "&lt;b&gt;bad&lt;/b&gt;" in page and "<b>bad</b>" not in page


# ---------------------------------------------------------------------------------------------
# Preview and submit.


def test_preview_shows_the_file_tree_and_each_file_and_creates_nothing(member_web, team):
    response = member_web.post("/create/mini/", form_data())
    assert response.status_code == 200
    page = html(response)
    assert "<title>Preview ledger-api · Create a service · Slipway</title>" in page
    for path in ("CODEOWNERS", "README.md", "app.py", "catalog-info.yaml", "docs/runbook.md",
                 ".github/workflows/ci.yml"):
        assert f"<summary><code>{path}</code>" in page, path
    assert '<span class="wz-folder">docs/</span>' in page
    assert "# ledger-api\n\nKeeps the books\n\nOwned by payments; listens on port 8080." in page
    # Back and Create carry every value and the same idempotency key, with CSRF.
    confirm = page[page.index('data-submit-once'):]
    for name, value in form_data().items():
        if name != "action":
            assert f'name="{name}" value="{value}"' in confirm, name
    assert 'name="csrfmiddlewaretoken"' in confirm
    assert 'value="back"' in confirm and 'value="create"' in confirm
    assert not ProvisioningRun.objects.exists() and not AuditEvent.objects.exists()
    assert not Service.objects.exists()


def test_back_shows_the_form_again_with_the_values(member_web, team):
    page = html(member_web.post("/create/mini/", form_data("back", description="Ledgers")))
    assert 'value="Ledgers"' in field_block(page, "inputs.description")
    assert f'value="{KEY}"' in page and "wz-error" not in page


def test_a_taken_name_is_refused_before_the_preview(member_web, team):
    ServiceFactory(slug="ledger-api", owner_team=team)
    response = member_web.post("/create/mini/", form_data())
    assert response.status_code == 400
    assert "A service with this name exists" in field_block(html(response), "inputs.service_name")


def test_create_starts_one_run_and_a_double_submit_answers_the_same_run(member_web, member, team):
    first = member_web.post("/create/mini/", form_data("create"))
    assert first.status_code == 302
    run = ProvisioningRun.objects.get()
    assert first["Location"] == f"/runs/{run.pk}/"
    assert run.requested_by == member and run.owner == team and run.idempotency_key == KEY
    assert run.inputs == {"service_name": "ledger-api", "description": "Keeps the books", "lifecycle": "production",
                          "port": 8080}
    assert run.steps.count() == 9
    second = member_web.post("/create/mini/", form_data("create"))
    assert second.status_code == 302 and second["Location"] == first["Location"]
    assert ProvisioningRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="run.create").count() == 1


def test_the_same_key_with_other_values_asks_for_a_new_preview(member_web, team):
    member_web.post("/create/mini/", form_data("create"))
    response = member_web.post("/create/mini/", form_data("create", service_name="other-api"))
    assert response.status_code == 409
    page = html(response)
    assert "This form already started a run with other values" in page
    assert f'value="{KEY}"' not in page  # a fresh key for the next attempt
    assert ProvisioningRun.objects.count() == 1


def test_a_second_run_for_a_name_being_created_is_refused_next_to_the_name(member_web, team):
    member_web.post("/create/mini/", form_data("create"))
    response = member_web.post("/create/mini/", form_data("create", key=str(uuid.uuid4())))
    assert response.status_code == 409
    assert "Another run is creating a service with this name" in field_block(html(response), "inputs.service_name")
    assert ProvisioningRun.objects.count() == 1


def test_only_members_of_the_owner_team_or_staff_may_preview_or_create(viewer_web, staff_web, team, member):
    for action in ("preview", "create"):
        assert viewer_web.post("/create/mini/", form_data(action)).status_code == 403
    assert not ProvisioningRun.objects.exists()
    # A member of another team may not create for this one either.
    MembershipFactory(user=member, team=TeamFactory(slug="ops"), role=Membership.Role.MEMBER)
    assert viewer_web.post("/create/mini/", {**form_data("create"), "owner": "ops"}).status_code == 403
    response = staff_web.post("/create/mini/", form_data("create"))
    assert response.status_code == 302 and ProvisioningRun.objects.get().owner == team


def test_forms_refuse_a_post_without_the_csrf_token(member, team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post("/create/mini/", form_data("create")).status_code == 403
    run = make_run(member)
    assert client.post(f"/runs/{run.pk}/cancel/").status_code == 403
    assert not ProvisioningRun.objects.exclude(pk=run.pk).exists()
    assert ProvisioningRun.objects.get(pk=run.pk).state == "queued"


# ---------------------------------------------------------------------------------------------
# The live name check.


def test_the_name_check_says_whether_a_name_is_well_formed_and_free(member_web, member, team):
    def check(name: str) -> str:
        response = member_web.get("/create/mini/check-name/", {"inputs.service_name": name})
        assert response.status_code == 200
        return html(response)

    from services.scaffolder import namecheck

    namecheck.check_now("ledger-api", "local")  # what the worker answers (tests/services/scaffolder/test_namecheck.py)
    assert "<strong>ledger-api</strong> is free, on the repository host too." in check("ledger-api")
    assert "Must be 3 to 40 lowercase letters, digits and hyphens, starting with a letter" in check("Ledger_API")
    assert "Must be 3 to 40 lowercase letters" in check("<b>x</b>") and "<b>" not in check("<b>x</b>")
    ServiceFactory(slug="taken-api", owner_team=team)
    assert "A service with this name exists" in check("taken-api")
    make_run(member, slug="coming-api")
    assert "Another run is creating a service with this name" in check("coming-api")
    assert check("").strip() == ""


# ---------------------------------------------------------------------------------------------
# The run page and its live partial.


def test_the_run_page_shows_every_step_and_polls_while_the_run_is_active(member_web, member, team):
    run = make_run(member)
    response = member_web.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    page = html(response)
    assert "<title>Run ledger-api (queued) · Runs · Slipway</title>" in page
    for title in ("Render the project files", "Create the repository", "Push the first commit",
                  "Give the owner team access", "Create the dev environment", "Create the staging environment",
                  "Create the production environment", "Protect the main branch",
                  "Register the service in the catalog"):
        assert title in page, title
    assert page.count('class="run-step"') == 9
    assert f'hx-get="/runs/{run.pk}/status/" hx-trigger="every 1s"' in page
    assert "Waiting for a worker to pick it up." in page
    assert 'id="cancel-button"' in page and "Retry" not in page
    assert '<progress class="run-bar" max="9" value="0"' in page


def test_the_partial_reports_progress_and_stops_polling_when_the_run_is_finished(member_web, member, team):
    run = make_run(member)
    now = timezone.now()
    ProvisioningRun.objects.filter(pk=run.pk).update(state="running", started_at=now)
    RunStep.objects.filter(run=run, position__lte=2).update(state="succeeded", attempts=1, started_at=now,
                                                            finished_at=now + timezone.timedelta(seconds=1.5),
                                                            log="repository slipway/ledger-api ready")
    RunStep.objects.filter(run=run, position=3).update(state="running", attempts=2, started_at=now)
    response = member_web.get(f"/runs/{run.pk}/status/", headers={"HX-Request": "true"})
    partial = html(response)
    # htmx takes a root-level <title> as the tab's new title.
    assert partial.startswith("<title>Run ledger-api (running) · Runs · Slipway</title>\n<section id=\"run-status\"")
    assert "<html" not in partial
    assert 'hx-trigger="every 1s"' in partial
    assert "Step 3 of 9: Push the first commit." in partial
    assert "1.5 s" in partial and "2 attempts" in partial and "repository slipway/ledger-api ready" in partial
    assert '<progress class="run-bar" max="9" value="2"' in partial
    ProvisioningRun.objects.filter(pk=run.pk).update(
        state="succeeded", finished_at=now + timezone.timedelta(seconds=4), repository="localhost/slipway/ledger-api",
        web_url="file:///data/slipway/ledger-api.git", clone_url="/data/slipway/ledger-api.git")
    RunStep.objects.filter(run=run).update(state="succeeded", finished_at=now)
    partial = html(member_web.get(f"/runs/{run.pk}/status/"))
    assert "hx-trigger" not in partial and "hx-get" not in partial
    assert "Done: ledger-api was created in 4.0 s." in partial
    assert 'href="/services/ledger-api/"' in partial
    assert '<code id="clone-command">git clone /data/slipway/ledger-api.git</code>' in partial
    assert 'href="file://' not in partial  # a local host's path is no link for a browser
    assert "Cancel" not in partial and "Retry" not in partial


def test_a_failed_run_says_why_in_plain_words_and_offers_retry_to_those_who_may(member_web, viewer_web, member, team):
    run = make_run(member)
    ProvisioningRun.objects.filter(pk=run.pk).update(
        state="failed", error="repo.create failed: repository slipway/ledger-api already exists and was not created "
                              "by this run")
    RunStep.objects.filter(run=run, position=1).update(state="succeeded")
    RunStep.objects.filter(run=run, position=2).update(
        state="failed", attempts=1, error="repository slipway/ledger-api already exists and was not created by this run")
    page = html(member_web.get(f"/runs/{run.pk}/"))
    assert ("Slipway could not create the repository: repository slipway/ledger-api already exists and was not "
            "created by this run") in page
    assert "Stopped at step 2 of 9: Create the repository." in page
    assert f'action="/runs/{run.pk}/retry/"' in page and "Retry from step 2" in page
    assert "hx-trigger" not in page
    viewer_page = html(viewer_web.get(f"/runs/{run.pk}/"))
    assert "Retry from step 2" not in viewer_page and "can retry it" in viewer_page
    assert viewer_web.post(f"/runs/{run.pk}/retry/").status_code == 403
    assert ProvisioningRun.objects.get(pk=run.pk).state == "failed"
    response = member_web.post(f"/runs/{run.pk}/retry/", follow=True)
    assert response.redirect_chain == [(f"/runs/{run.pk}/", 302)]
    assert "Retrying from the failed step" in html(response)
    run.refresh_from_db()
    assert run.state == "queued" and run.error == ""
    assert list(run.steps.order_by("position").values_list("state", flat=True)[:2]) == ["succeeded", "pending"]
    assert AuditEvent.objects.filter(action="run.retry").count() == 1


def test_cancel_is_offered_while_active_and_enforced_by_the_server(member_web, viewer_web, staff_web, member, team):
    run = make_run(member)
    assert 'id="cancel-button"' not in html(viewer_web.get(f"/runs/{run.pk}/"))
    assert viewer_web.post(f"/runs/{run.pk}/cancel/").status_code == 403
    assert member_web.get(f"/runs/{run.pk}/cancel/").status_code == 405
    response = member_web.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert "Cancel requested" in html(response)
    run.refresh_from_db()
    assert run.state == "cancelled"
    page = html(member_web.get(f"/runs/{run.pk}/"))
    assert "Cancelled on request." in page and 'id="cancel-button"' not in page
    again = member_web.post(f"/runs/{run.pk}/cancel/", follow=True)  # too late now: said, not done
    assert "Only a queued or running run can be cancelled; this one is cancelled." in html(again)
    other = make_run(member, slug="other-api")
    assert staff_web.post(f"/runs/{other.pk}/cancel/").status_code == 302  # staff may
    assert member_web.post(f"/runs/{uuid.uuid4()}/cancel/").status_code == 404


def test_the_requester_may_act_on_a_run_even_after_leaving_the_team(member_web, member, team):
    run = make_run(member)
    Membership.objects.filter(user=member).delete()
    assert 'id="cancel-button"' in html(member_web.get(f"/runs/{run.pk}/"))
    assert member_web.post(f"/runs/{run.pk}/cancel/").status_code == 302


def test_an_unknown_run_is_a_404(member_web):
    assert member_web.get(f"/runs/{uuid.uuid4()}/").status_code == 404
    assert member_web.get(f"/runs/{uuid.uuid4()}/status/").status_code == 404
    assert member_web.get("/runs/not-a-uuid/").status_code == 404


# ---------------------------------------------------------------------------------------------
# The runs list.


def test_the_runs_list_shows_my_runs_or_all_runs_and_filters(member_web, member, team):
    search = TeamFactory(slug="search", name="Search")
    other = UserFactory(username="olga")
    MembershipFactory(user=other, team=search)
    mine = make_run(member, slug="mine-api")
    failed = make_run(member, slug="broken-api", state="failed")
    theirs, _ = provisioning_runs.run_create(actor=other, template="mini", owner="search",
                                             inputs={"service_name": "their-api", "lifecycle": "production",
                                                     "port": 8080})

    def listed(query: str = "") -> set[str]:
        response = member_web.get(f"/runs/{query}")
        assert response.status_code == 200
        return set(re.findall(r'<a href="/runs/[0-9a-f-]{36}/">([a-z-]+)</a>', html(response)))

    assert listed() == {"mine-api", "broken-api"}  # "my runs" by default
    assert listed("?scope=all") == {"mine-api", "broken-api", "their-api"}
    assert listed("?scope=all&state=failed") == {"broken-api"}
    assert listed("?scope=all&owner=search") == {"their-api"}
    assert listed("?scope=all&template=mini&state=queued") == {"mine-api", "their-api"}
    assert listed("?scope=all&template=other") == set()
    page = html(member_web.get("/runs/?scope=all&state=bogus"))
    assert "Some filters were ignored" in page
    page = html(member_web.get("/runs/?scope=all&owner=search"))
    assert "<title>All runs · Runs · Slipway</title>" in page
    assert '<option value="search" selected>Search</option>' in page
    assert f'href="/runs/{theirs.pk}/"' in page and f'href="/runs/{mine.pk}/"' not in page
    assert f'href="/runs/{failed.pk}/"' in html(member_web.get("/runs/"))


def test_the_runs_list_is_paginated_keeping_its_filters(member_web, member, team):
    for index in range(30):
        make_run(member, slug=f"svc-{index:02d}", state="succeeded")
    page = html(member_web.get("/runs/?scope=all&state=succeeded"))
    assert page.count('<td data-label="Service">') == 25
    assert "Page 1 of 2 · 30 runs" in page
    assert 'href="?scope=all&amp;state=succeeded&amp;page=2" rel="next"' in page
    second = html(member_web.get("/runs/?scope=all&state=succeeded&page=2"))
    assert second.count('<td data-label="Service">') == 5 and "(page 2)" in second
    assert html(member_web.get("/runs/?page=999")).count('<td data-label="Service">') == 5  # the last page


# ---------------------------------------------------------------------------------------------
# Query counts: fixed, whatever the number of rows.


@pytest.mark.parametrize("extra_steps", [0, 41])
def test_the_run_page_and_its_partial_cost_a_fixed_number_of_queries(member_web, member, team, extra_steps,
                                                                     django_assert_max_num_queries):
    run = make_run(UserFactory())  # not the requester: the page asks whether mia is in the team
    RunStep.objects.bulk_create([RunStep(run=run, position=10 + index, action="env.create", params={"name": "x"})
                                 for index in range(extra_steps)])
    # Expect 5 queries: session, user, run with owner and requester, its steps, mia's membership
    with django_assert_max_num_queries(5):
        page = html(member_web.get(f"/runs/{run.pk}/"))
    assert page.count('class="run-step"') == 9 + extra_steps
    with django_assert_max_num_queries(5):
        member_web.get(f"/runs/{run.pk}/status/")


@pytest.mark.parametrize("count", [1, 50])
def test_the_runs_list_costs_a_fixed_number_of_queries(member_web, member, team, count,
                                                       django_assert_max_num_queries):
    for index in range(count):
        make_run(member, slug=f"svc-{index:02d}", state="succeeded")
    # Expect 5 queries: session, user, count of runs, the page of runs with owner and requester, teams to filter by
    with django_assert_max_num_queries(5):
        page = html(member_web.get("/runs/?scope=all"))
    assert page.count('<td data-label="Service">') == min(count, 25)


def test_the_wizard_pages_cost_a_fixed_number_of_queries(member_web, team, django_assert_max_num_queries):
    TeamFactory.create_batch(20)
    # Expect 3 queries: session, user, the templates' on/off switches (the templates are files)
    with django_assert_max_num_queries(3):
        member_web.get("/create/")
    # Expect 4 queries: session, user, the switches, mia's teams
    with django_assert_max_num_queries(4):
        member_web.get("/create/mini/")
    # Expect 9 queries: session, user, the switches, mia's teams, the owner team, mia's membership, is the
    # name a service, is it being created, the owner team again (in the preview)
    with django_assert_max_num_queries(9):
        assert member_web.post("/create/mini/", form_data()).status_code == 200
