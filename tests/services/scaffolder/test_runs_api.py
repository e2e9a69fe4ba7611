"""Templates and runs through the API: listing, preview, accepting, idempotency, retry, cancel."""

from __future__ import annotations

import pytest

from services.models import AuditEvent, ProvisioningRun, RunStep
from tests.factories import ServiceFactory
from tests.services.scaffolder.conftest import run_request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """These tests look at what is stored; nothing is sent to a worker."""
    sent = []
    monkeypatch.setattr("services.scaffolder.runs.enqueue", lambda run_id, countdown=None: sent.append(run_id))
    return sent


def test_templates_list_and_detail_show_the_inputs_schema(viewer_client):
    listing = viewer_client.get("/api/v1/templates/").json()
    assert [t["name"] for t in listing] == ["mini"]
    detail = viewer_client.get("/api/v1/templates/mini/").json()
    assert detail["title"] == "Mini service"
    assert detail["inputs_schema"]["properties"]["lifecycle"]["enum"] == ["experimental", "production"]
    assert [e["name"] for e in detail["environments"]] == ["dev", "staging", "production"]
    assert viewer_client.get("/api/v1/templates/nope/").status_code == 404


def test_preview_answers_files_without_side_effects(member_client, team):
    payload = run_request()
    payload.pop("template")
    response = member_client.post("/api/v1/templates/mini/preview/", payload, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "catalog-info.yaml" in body["tree"]
    readme = next(f for f in body["files"] if f["path"] == "README.md")
    assert "Keeps the books" in readme["content"]
    assert not ProvisioningRun.objects.exists()


def test_preview_is_for_ones_own_teams_as_on_the_wizard(viewer_client, member_client, team):
    payload = run_request()
    payload.pop("template")
    refused = viewer_client.post("/api/v1/templates/mini/preview/", payload, format="json")
    assert refused.status_code == 403 and "Only members of Payments" in refused.json()["detail"]
    unknown = member_client.post("/api/v1/templates/mini/preview/", {**payload, "owner": "nobody"}, format="json")
    assert unknown.status_code == 400 and set(unknown.json()["errors"]) == {"owner"}


def test_preview_refuses_bad_inputs_naming_them(member_client, team):
    payload = run_request(service_name="Bad Name", port="x")
    payload.pop("template")
    response = member_client.post("/api/v1/templates/mini/preview/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"inputs.service_name", "inputs.port"}


def test_a_member_starts_a_run_202_with_its_url_and_steps_are_planned(
        member_client, team, _no_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post("/api/v1/runs/", run_request(), format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued" and body["url"].endswith(f"/api/v1/runs/{body['id']}/")
    assert response["Location"] == body["url"]
    run = ProvisioningRun.objects.get()
    assert [s.action for s in run.steps.order_by("position")] == [
        "scaffold.render", "repo.create", "repo.push", "repo.grant_team", "env.create", "env.create", "env.create",
        "repo.protect_branch", "catalog.register"]
    assert _no_broker == [run.pk]
    assert AuditEvent.objects.filter(action="run.create").count() == 1
    detail = member_client.get(body["url"]).json()
    assert len(detail["steps"]) == 9 and detail["steps"][0]["state"] == "pending"


def test_the_same_idempotency_key_and_body_answers_the_same_run(member_client, team):
    first = member_client.post("/api/v1/runs/", run_request(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = member_client.post("/api/v1/runs/", run_request(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    other = member_client.post("/api/v1/runs/", run_request(port=9090), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["errors"]
    assert ProvisioningRun.objects.count() == 1


def test_two_runs_for_the_same_service_name_conflict(member_client, team):
    assert member_client.post("/api/v1/runs/", run_request(), format="json").status_code == 202
    response = member_client.post("/api/v1/runs/", run_request(port=9000), format="json")
    assert response.status_code == 409
    assert "inputs.service_name" in response.json()["errors"]


def test_a_name_taken_in_the_catalog_is_a_conflict(member_client, team):
    ServiceFactory(slug="ledger-api", owner_team=team)
    response = member_client.post("/api/v1/runs/", run_request(), format="json")
    assert response.status_code == 409
    assert not ProvisioningRun.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"template": "nope", "owner": "payments", "inputs": {}}, "template"),
        ({"template": "mini", "owner": "ghost", "inputs": {}}, "owner"),
        ({"template": "mini", "owner": "payments", "inputs": []}, "inputs"),
        ({"template": "mini", "owner": "payments"}, "inputs"),
        (run_request(service_name="{{ 7*7 }}"), "inputs.service_name"),
        (run_request(_slipway={}), "inputs._slipway"),
        (run_request(description="\x00"), "inputs.description"),
        ({**run_request(), "extra": 1}, "extra"),
    ],
)
def test_bad_requests_are_4xx_naming_the_field_and_store_nothing(member_client, team, payload, field):
    response = member_client.post("/api/v1/runs/", payload, format="json")
    assert response.status_code in (400, 404), response.content
    assert field in response.json()["errors"]
    assert not ProvisioningRun.objects.exists() and not RunStep.objects.exists()


def test_only_members_of_the_owner_team_may_start_a_run(viewer_client, staff_client, team):
    assert viewer_client.post("/api/v1/runs/", run_request(), format="json").status_code == 403
    assert not ProvisioningRun.objects.exists()
    assert staff_client.post("/api/v1/runs/", run_request(), format="json").status_code == 202


def test_cancel_a_queued_run_and_retry_only_failed_ones(member_client, viewer_client, team):
    run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
    assert viewer_client.post(f"/api/v1/runs/{run_id}/cancel/").status_code == 403
    response = member_client.post(f"/api/v1/runs/{run_id}/cancel/")
    assert response.status_code == 202 and response.json()["state"] == "cancelled"
    assert member_client.post(f"/api/v1/runs/{run_id}/cancel/").status_code == 409
    assert member_client.post(f"/api/v1/runs/{run_id}/retry/").status_code == 409
    ProvisioningRun.objects.filter(pk=run_id).update(state="failed")
    RunStep.objects.filter(run_id=run_id, position=2).update(state="failed", attempts=3)
    response = member_client.post(f"/api/v1/runs/{run_id}/retry/")
    assert response.status_code == 202 and response.json()["state"] == "queued"
    assert RunStep.objects.get(run_id=run_id, position=2).state == "pending"


def test_runs_list_filters(member_client, team):
    member_client.post("/api/v1/runs/", run_request(), format="json")
    assert member_client.get("/api/v1/runs/", {"state": "queued"}).json()["count"] == 1
    assert member_client.get("/api/v1/runs/", {"state": "failed"}).json()["count"] == 0
    assert member_client.get("/api/v1/runs/", {"owner": "payments", "mine": "true"}).json()["count"] == 1
    assert member_client.get("/api/v1/runs/", {"state": "bogus"}).status_code == 400
    assert member_client.get("/api/v1/runs/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.parametrize(("params", "field"), [({"owner": "x" * 60_000}, "owner"), ({"owner": "Pay ments"}, "owner"),
                                               ({"requested_by": "a\x01b"}, "requested_by"),
                                               ({"template": "t" * 101}, "template"), ({"mine": "maybe"}, "mine")])
def test_malformed_run_filters_are_400_naming_the_parameter(member_client, team, params, field):
    answer = member_client.get("/api/v1/runs/", params)
    assert answer.status_code in (400, 414) and (answer.status_code == 414 or set(answer.json()["errors"]) == {field})


def test_well_formed_unknown_run_filters_answer_an_empty_list(member_client, team):
    for params in ({"owner": "nobody"}, {"requested_by": "ghost"}, {"template": "none"}):
        answer = member_client.get("/api/v1/runs/", params)
        assert answer.status_code == 200 and answer.json()["count"] == 0
