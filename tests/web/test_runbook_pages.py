"""Runbook pages: read (sanitized Markdown), edit with preview, revisions and their diff, staleness."""

from __future__ import annotations

import datetime
import difflib

import pytest
from django.test import Client
from django.utils import timezone

from services.catalog import markdown, writes
from services.catalog.markdown import MAX_BODY_CHARS
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


def test_history_shows_the_change_each_revision_made(member_web, member, runbook):
    for number in range(3):
        writes.runbook_update(actor=member, runbook=runbook, data={"body": f"line {number}\n"})
    diff = member_web.get(PAGE + "history/", {"revision": "3"}).content.decode()
    assert '<span class="diff-del">-line 0</span><span class="diff-add">+line 1</span>' in diff
    assert "line 2" not in diff
    # Links made when any two revisions could be compared show the change of the `to` revision.
    assert '<span class="diff-add">+line 2</span>' in member_web.get(PAGE + "history/", {"from": "1", "to": "4"}
                                                                       ).content.decode()
    assert "the first: nothing to compare" in member_web.get(PAGE + "history/", {"revision": "1"}).content.decode()
    for number in ("999", "-1", "9" * 30):
        missing = member_web.get(PAGE + "history/", {"from": "x", "to": number})
        assert missing.status_code == 200 and "No such revision" in missing.content.decode()


def test_a_revision_that_changed_too_much_says_so_with_its_line_counts(member_web, member, runbook):
    writes.runbook_update(actor=member, runbook=runbook,
                          data={"body": "".join(f"x{n}\ny{n}\n" for n in range(4_000))})
    page = member_web.get(PAGE + "history/").content.decode()
    assert "Too many lines changed to show a line diff: 4 lines before, 8000 after." in page
    assert 'class="diff"' not in page


def test_history_lists_revisions_a_page_at_a_time(member_web, member, runbook):
    for number in range(59):
        writes.runbook_update(actor=member, runbook=runbook, data={"body": f"v{number}"})
    first = member_web.get(PAGE + "history/").content.decode()
    assert first.count("<strong>Revision ") == 50
    assert "<strong>Revision 60</strong>" in first and "<strong>Revision 11</strong>" in first
    assert "<strong>Revision 10</strong>" not in first and 'href="?page=2" rel="next"' in first
    second = member_web.get(PAGE + "history/", {"page": "2", "revision": "2"}).content.decode()
    assert second.count("<strong>Revision ") == 10 and "<strong>Revision 1</strong>" in second
    assert "Changes in revision 2" in second and '<span class="diff-add">+v0</span>' in second
    # A revision shown from another page than its own is shown all the same.
    assert "Changes in revision 2" in member_web.get(PAGE + "history/", {"revision": "2"}).content.decode()


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


@pytest.mark.parametrize("revisions", [1, 60])
def test_runbook_pages_cost_a_fixed_number_of_queries(viewer_web, member, runbook, django_assert_num_queries,
                                                      revisions):
    for number in range(revisions - 1):
        writes.runbook_update(actor=member, runbook=runbook, data={"body": f"v{number}\n" * 1_000})
    # Expect 4 queries: session, user, the runbook (service and owner joined, its revision count),
    # whether the viewer is a member of the owning team.
    with django_assert_num_queries(4):
        assert viewer_web.get(PAGE).status_code == 200
    # Expect 4 queries: session, user, the runbook (service joined, its newest revision number), the
    # page's revisions (authors joined) with the diff of the one shown.
    for query in ({}, {"page": "2", "revision": "1"}):
        with django_assert_num_queries(4) as queries:
            assert viewer_web.get(PAGE + "history/", query).status_code == 200
        # No body is read, and of the diffs only the one shown.
        assert not any('"body"' in query["sql"] for query in queries.captured_queries)


def test_reading_runbooks_renders_no_markdown_and_diffs_no_text(viewer_web, member, runbook, monkeypatch):
    writes.runbook_update(actor=member, runbook=runbook, data={"body": "# On call\n\n1. Scale out first.\n"})

    def refuse(*args, **kwargs):
        raise AssertionError("work that grows with the text, done on a read")

    monkeypatch.setattr(markdown._markdown, "parse", refuse)
    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", refuse)
    monkeypatch.setattr(difflib.SequenceMatcher, "get_opcodes", refuse)
    assert "<li>Scale out first.</li>" in viewer_web.get(PAGE).content.decode()
    assert '<span class="diff-add">+1. Scale out first.</span>' in viewer_web.get(PAGE + "history/").content.decode()
    assert "On-call" in viewer_web.get("/services/ledger/").content.decode()


def test_the_editor_opens_with_the_preview_of_the_text_being_edited(member_web, runbook):
    page = member_web.get(PAGE + "edit/").content.decode()
    preview = page[page.index('<div id="preview"'):page.index("</section>", page.index('<div id="preview"'))]
    assert "<li>Check the dashboard.</li>" in preview
    assert "Nothing to preview yet" not in preview
    assert "Nothing to preview yet" in member_web.get("/services/ledger/new-runbook/").content.decode()


def test_a_form_sent_back_keeps_the_preview_of_its_body(member_web, runbook):
    response = member_web.post(PAGE + "edit/", {"title": "", "body": "*kept*", "action": "save"})
    assert response.status_code == 400
    assert "<em>kept</em>" in response.content.decode()


def test_a_body_over_the_limit_is_a_form_error_and_is_not_previewed(member_web, runbook):
    too_long = "x" * (MAX_BODY_CHARS + 1)
    response = member_web.post(PAGE + "edit/", {"title": "On-call", "body": too_long, "action": "save"})
    assert response.status_code == 400
    assert 'id="id_body_errors"' in response.content.decode()
    preview = member_web.post("/services/ledger/runbook-preview/", {"body": too_long}).content.decode()
    assert f"more than a runbook may have ({MAX_BODY_CHARS})" in preview and "<p>xxx" not in preview
    runbook.refresh_from_db()
    assert runbook.body.startswith("# On call")


def test_a_runbook_written_without_ticking_reviewed_is_not_stale(member_web, service, viewer_web):
    response = member_web.post("/services/ledger/new-runbook/", {"title": "Failover", "body": "Steps.", "action": "save"})
    assert response.status_code == 302
    assert Runbook.objects.get(slug="failover").last_reviewed == timezone.localdate()
    page = viewer_web.get("/services/ledger/runbooks/failover/").content.decode()
    assert "Stale" not in page and ">today</time>" in page
    assert 'class="badge stale"' not in viewer_web.get("/services/ledger/").content.decode()


@pytest.mark.parametrize(("days", "shown"), [(0, ">today</time>"), (1, ">yesterday</time>"), (12, "(12 days ago)")])
def test_a_review_date_is_shown_as_a_date_without_hours(viewer_web, runbook, days, shown):
    reviewed = timezone.localdate() - datetime.timedelta(days=days)
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed=reviewed)
    page = viewer_web.get(PAGE).content.decode()
    meta = page[page.index('<p class="meta">'):page.index("</p>", page.index('<p class="meta">'))]
    assert shown in meta
    assert f'<time datetime="{reviewed:%Y-%m-%d}">' in meta
    assert "hour" not in meta and "minute" not in meta and "week" not in meta


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

