"""Runbook pages: read (sanitized Markdown), edit with preview, revisions and their diff, staleness."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from services.catalog import writes
from services.models import AuditEvent, Runbook, RunbookRevision
from tests.web.conftest import web_client

pytestmark = pytest.mark.django_db

PAGE = "/services/ledger/runbooks/on-call/"


@pytest.fixture
def runbook(service, member):
    return writes.runbook_create(actor=member, service=service, slug="on-call", title="On-call",
                                  body="# On call\n\n1. Check the dashboard.\n2. Restart the pods.\n",
                                  last_reviewed=timezone.localdate())


def test_runbook_page_renders_markdown(viewer_web, runbook):
    body = viewer_web.get(PAGE).content.decode()
    assert "<h1>On call</h1>" in body
    assert "<li>Check the dashboard.</li>" in body
    assert "Last reviewed" in body
    assert "Stale" not in body


@pytest.mark.parametrize(("days", "stale"), [(0, False), (90, False), (91, True), (400, True)])
def test_stale_badge_after_ninety_days_without_review(viewer_web, runbook, days, stale):
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed=timezone.localdate() - datetime.timedelta(days=days))
    body = viewer_web.get(PAGE).content.decode()
    assert ("Stale — review due" in body) is stale
    assert ('class="badge stale"' in viewer_web.get("/services/ledger/").content.decode()) is stale


def test_a_runbook_never_reviewed_is_stale(viewer_web, runbook):
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed=None)
    body = viewer_web.get(PAGE).content.decode()
    assert "Never reviewed" in body and "Stale — review due" in body


def test_owner_edits_a_runbook_keeping_a_revision_and_the_diff_shows_the_change(member_web, member, runbook):
    form = member_web.get(PAGE + "edit/")
    assert form.status_code == 200
    assert "csrfmiddlewaretoken" in form.content.decode()
    new_body = "# On call\n\n1. Check the dashboard.\n2. Scale out first.\n"
    response = member_web.post(PAGE + "edit/", {"title": "On-call", "body": new_body, "action": "save"})
    assert response.status_code == 302 and response["Location"] == PAGE
    runbook.refresh_from_db()
    assert runbook.body == new_body
    assert list(runbook.revisions.values_list("number", flat=True).order_by("number")) == [1, 2]
    assert AuditEvent.objects.filter(action="runbook.update", actor=member, source="web").exists()
    history = member_web.get(PAGE + "history/")
    assert history.status_code == 200
    diff = history.content.decode()
    assert '<span class="diff-del">-2. Restart the pods.</span>' in diff
    assert '<span class="diff-add">+2. Scale out first.</span>' in diff
    assert "Revision 2" in diff


def test_history_compares_any_two_revisions(member_web, member, runbook):
    for number in range(3):
        writes.runbook_update(actor=member, runbook=runbook, data={"body": f"line {number}\n"})
    diff = member_web.get(PAGE + "history/", {"from": "1", "to": "4"}).content.decode()
    assert '<span class="diff-add">+line 2</span>' in diff
    assert "+line 0" not in diff
    assert member_web.get(PAGE + "history/", {"from": "x", "to": "999"}).status_code == 200


def test_marking_a_runbook_reviewed_sets_today(member_web, runbook):
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed=datetime.date(2020, 1, 1))
    member_web.post(PAGE + "edit/", {"title": "On-call", "body": runbook.body, "reviewed": "on", "action": "save"})
    runbook.refresh_from_db()
    assert runbook.last_reviewed == timezone.localdate()
    assert runbook.revisions.count() == 1  # the text did not change: no new revision


def test_preview_returns_sanitized_html_without_saving(member_web, runbook):
    response = member_web.post("/services/ledger/runbook-preview/",
                               {"body": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"},
                               HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;" in html
    assert "<html" not in html
    runbook.refresh_from_db()
    assert "bold" not in runbook.body


def test_preview_button_works_without_javascript(member_web, runbook):
    response = member_web.post(PAGE + "edit/", {"title": "On-call", "body": "_draft_", "action": "preview"})
    assert response.status_code == 200
    assert "<em>draft</em>" in response.content.decode()
    runbook.refresh_from_db()
    assert "draft" not in runbook.body


def test_editor_wires_the_preview_with_htmx_and_csrf(member_web, runbook):
    body = member_web.get(PAGE + "edit/").content.decode()
    assert 'hx-post="/services/ledger/runbook-preview/"' in body
    assert '"X-CSRFToken": "' in body


def test_preview_needs_csrf_and_an_editor(member, viewer, runbook):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post("/services/ledger/runbook-preview/", {"body": "x"}).status_code == 403
    assert web_client(viewer).post("/services/ledger/runbook-preview/", {"body": "x"}).status_code == 403


def test_owner_creates_a_runbook(member_web, service):
    page = member_web.get("/services/ledger/new-runbook/")
    assert page.status_code == 200
    response = member_web.post("/services/ledger/new-runbook/",
                               {"title": "Database failover", "body": "Steps.", "reviewed": "on", "action": "save"})
    assert response.status_code == 302
    assert response["Location"] == "/services/ledger/runbooks/database-failover/"
    runbook = Runbook.objects.get(service=service, slug="database-failover")
    assert runbook.last_reviewed == timezone.localdate()
    assert RunbookRevision.objects.filter(runbook=runbook, number=1).exists()


def test_creating_a_runbook_with_a_taken_title_says_so_next_to_the_title(member_web, runbook):
    response = member_web.post("/services/ledger/new-runbook/", {"title": "On call", "body": "", "action": "save"})
    assert response.status_code == 400
    assert 'id="id_title_errors"' in response.content.decode()
    assert Runbook.objects.count() == 1


def test_bad_runbook_values_show_field_errors_and_change_nothing(member_web, runbook):
    response = member_web.post(PAGE + "edit/", {"title": "", "body": "new", "action": "save"})
    assert response.status_code == 400
    assert 'id="id_title_errors"' in response.content.decode()
    runbook.refresh_from_db()
    assert runbook.body.startswith("# On call")
    assert runbook.revisions.count() == 1


def test_non_owners_see_no_runbook_edit_controls_and_are_refused(viewer_web, runbook):
    assert "/edit/" not in viewer_web.get(PAGE).content.decode()
    assert viewer_web.get(PAGE + "edit/").status_code == 403
    assert viewer_web.post(PAGE + "edit/", {"title": "Hacked", "body": "x", "action": "save"}).status_code == 403
    assert viewer_web.get("/services/ledger/new-runbook/").status_code == 403
    assert viewer_web.post("/services/ledger/new-runbook/", {"title": "x", "action": "save"}).status_code == 403
    runbook.refresh_from_db()
    assert runbook.title == "On-call"
    assert Runbook.objects.count() == 1


def test_runbook_pages_cost_a_fixed_number_of_queries(viewer_web, member, runbook, django_assert_max_num_queries):
    for number in range(20):
        writes.runbook_update(actor=member, runbook=runbook, data={"body": f"v{number}"})
    # Expect 5 queries: session, user, the runbook (service and owner joined), the revision count,
    # whether the viewer is a member of the owning team.
    with django_assert_max_num_queries(5):
        assert viewer_web.get(PAGE).status_code == 200
    # Expect 4 queries: session, user, the runbook (service joined), its revisions (authors joined).
    with django_assert_max_num_queries(4):
        assert viewer_web.get(PAGE + "history/").status_code == 200


def test_a_runbook_heading_that_repeats_its_title_is_not_shown_twice():
    from services.catalog.markdown import render_markdown

    assert render_markdown("# Ledger runbook\n\nRestart it.", title="Ledger Runbook") == "<p>Restart it.</p>\n"
    assert "<h1>Other</h1>" in render_markdown("# Other\n\nRestart it.", title="Ledger runbook")


@pytest.mark.parametrize("heading", ["#  on-CALL  #", "#\tOn-call", "On-call\n=======", "# *On-call*"])
def test_the_page_shows_a_title_repeated_by_the_body_once(viewer_web, service, member, heading):
    body = f"\n{heading}\n\nRestart the pods.\n"
    writes.runbook_create(actor=member, service=service, slug="on-call", title="On-call", body=body)
    page = viewer_web.get(PAGE).content.decode()
    assert page.count("<h1") == 1
    assert '<h1 id="runbook-title">On-call</h1>' in page
    assert "<p>Restart the pods.</p>" in page
    assert Runbook.objects.get(slug="on-call").body == body  # only the rendering leaves it out


def test_an_indented_title_line_is_code_and_is_shown(viewer_web, service, member):
    writes.runbook_create(actor=member, service=service, slug="on-call", title="On-call",
                           body="    # On-call\n\nRestart the pods.\n")
    page = viewer_web.get(PAGE).content.decode()
    assert "<pre><code># On-call\n</code></pre>" in page

