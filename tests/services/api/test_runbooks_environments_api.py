"""Runbooks (Markdown stored, sanitized HTML shown, revisions kept) and environments."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.catalog import markdown
from services.catalog.markdown import MAX_BODY_CHARS
from services.models import Environment, Runbook, RunbookRevision

pytestmark = pytest.mark.django_db


def test_member_adds_a_runbook_and_reads_it_as_sanitized_html(member_client, service):
    body = "# Restart\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) **now**"
    response = member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "Restart", "body": body},
                                  format="json")
    assert response.status_code == 201, response.content
    html = response.json()["html"]
    assert "<h1>Restart</h1>" in html and "<strong>now</strong>" in html
    assert "<script" not in html and 'href="javascript:' not in html
    assert response.json()["body"] == body


def test_editing_a_runbook_keeps_a_revision(member_client, service):
    runbook_id = member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "Restart", "body": "v1"},
                                    format="json").json()["id"]
    response = member_client.patch(f"/api/v1/runbooks/{runbook_id}/", {"body": "v2"}, format="json")
    assert response.status_code == 200
    assert list(RunbookRevision.objects.order_by("number").values_list("number", "body")) == [(1, "v1"), (2, "v2")]


def test_runbooks_list_by_service(viewer_client, member_client, service):
    member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "A"}, format="json")
    assert viewer_client.get("/api/v1/runbooks/", {"service": "ledger"}).json()["count"] == 1
    assert viewer_client.get("/api/v1/runbooks/", {"service": "other"}).json()["count"] == 0


def test_viewers_cannot_write_runbooks(viewer_client, member_client, service):
    response = viewer_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "A"}, format="json")
    assert response.status_code == 403
    runbook_id = member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "A"}, format="json").json()["id"]
    assert viewer_client.patch(f"/api/v1/runbooks/{runbook_id}/", {"body": "x"}, format="json").status_code == 403
    assert viewer_client.delete(f"/api/v1/runbooks/{runbook_id}/").status_code == 403
    assert member_client.delete(f"/api/v1/runbooks/{runbook_id}/").status_code == 204
    assert not Runbook.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"service": "ledger"}, "title"), ({"service": "ghost", "title": "A"}, "service"),
     ({"service": "ledger", "title": "A", "last_reviewed": "yesterday"}, "last_reviewed"),
     ({"service": "ledger", "title": "A", "slug": "../../etc"}, "slug")],
)
def test_bad_runbook_values_are_400_naming_the_field(member_client, service, payload, field):
    response = member_client.post("/api/v1/runbooks/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_body_over_the_limit_is_400_naming_the_body(member_client, service):
    response = member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "A",
                                                        "body": "x" * (MAX_BODY_CHARS + 1)}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]
    created = member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "A", "body": "x" * MAX_BODY_CHARS},
                                 format="json")
    assert created.status_code == 201
    response = member_client.patch(f"/api/v1/runbooks/{created.json()['id']}/", {"body": "y" * (MAX_BODY_CHARS + 1)},
                                   format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["body"]


def test_runbooks_are_read_as_the_html_kept_when_saved(member_client, viewer_client, service, monkeypatch):
    runbook_id = member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "Restart", "body": "*v1*"},
                                    format="json").json()["id"]
    assert member_client.patch(f"/api/v1/runbooks/{runbook_id}/", {"body": "**v2**"},
                               format="json").json()["html"] == "<p><strong>v2</strong></p>\n"

    def refuse(*args, **kwargs):
        raise AssertionError("Markdown rendered on a read")

    monkeypatch.setattr(markdown._markdown, "parse", refuse)
    assert viewer_client.get(f"/api/v1/runbooks/{runbook_id}/").json()["html"] == "<p><strong>v2</strong></p>\n"
    assert viewer_client.get("/api/v1/runbooks/").json()["results"][0]["html"] == "<p><strong>v2</strong></p>\n"


def test_a_service_lists_its_runbooks_without_reading_their_text(member_client, viewer_client, service):
    member_client.post("/api/v1/runbooks/", {"service": "ledger", "title": "Restart", "body": "x" * 1_000},
                       format="json")
    with CaptureQueriesContext(connection) as queries:
        runbooks = viewer_client.get("/api/v1/services/ledger/").json()["runbooks"]
    assert [runbook["title"] for runbook in runbooks] == ["Restart"]
    runbook_queries = [query["sql"] for query in queries.captured_queries if '"services_runbook"' in query["sql"]]
    assert runbook_queries and not any('"body"' in sql or '"html"' in sql for sql in runbook_queries)


def test_missing_runbook_is_404(viewer_client, db):
    assert viewer_client.get("/api/v1/runbooks/999/").status_code == 404


def test_member_adds_and_changes_an_environment_with_protection(member_client, viewer_client, service):
    response = member_client.post("/api/v1/environments/", {
        "service": "ledger", "name": "production", "url": "https://ledger.example.org",
        "required_reviewers": ["payments"], "wait_timer": 10, "branch_policy": "main"}, format="json")
    assert response.status_code == 201, response.content
    env_id = response.json()["id"]
    assert member_client.patch(f"/api/v1/environments/{env_id}/", {"wait_timer": 5}, format="json").json()["wait_timer"] == 5
    assert viewer_client.get("/api/v1/environments/", {"service": "ledger"}).json()["count"] == 1
    assert viewer_client.get("/api/v1/services/ledger/").json()["environments"][0]["name"] == "production"
    assert viewer_client.patch(f"/api/v1/environments/{env_id}/", {"wait_timer": 1}, format="json").status_code == 403
    assert member_client.delete(f"/api/v1/environments/{env_id}/").status_code == 204
    assert not Environment.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"service": "ledger", "name": "../prod"}, "name"), ({"service": "ledger", "name": "p", "wait_timer": -1}, "wait_timer"),
     ({"service": "ledger", "name": "p", "url": "javascript:alert(1)"}, "url"),
     ({"service": "ledger", "name": "p", "required_reviewers": "team"}, "required_reviewers")],
)
def test_bad_environment_values_are_400_naming_the_field(member_client, service, payload, field):
    response = member_client.post("/api/v1/environments/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_duplicate_environment_is_409(member_client, service):
    member_client.post("/api/v1/environments/", {"service": "ledger", "name": "prod"}, format="json")
    assert member_client.post("/api/v1/environments/", {"service": "ledger", "name": "prod"}, format="json").status_code == 409
