"""Every interface records where a write came from: a web page edit (web), the API (api, with the
X-Request-ID sent), a management command (command, one id per run) and a Celery worker registering
the service a provisioning run created (worker, one id per task) — each through the real interface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from services.models import AuditEvent, ProvisioningRun, Service
from tests.factories import ServiceFactory
from tests.worker import ROOT, celery_worker, wait_for, worker_env

MINI_TEMPLATES = Path(__file__).resolve().parent / "data" / "scaffolds"

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: audit-importer
spec:
  type: service
  lifecycle: production
  owner: payments
"""


@pytest.mark.django_db
def test_a_web_page_edit_is_recorded_as_web_with_the_requests_id(member, team):
    ServiceFactory(slug="ledger", owner_team=team, lifecycle="experimental")
    web = Client()
    web.force_login(member)
    response = web.post("/services/ledger/edit/", {"name": "Ledger", "lifecycle": "production"},
                        HTTP_X_REQUEST_ID="web-edit-1")
    assert response.status_code in (200, 302), response.content[:500]
    event = AuditEvent.objects.get(action="service.update")
    assert event.changes["lifecycle"] == ["experimental", "production"]
    assert (event.source, event.request_id, event.actor_name) == ("web", "web-edit-1", "mia")
    assert response["X-Request-ID"] == "web-edit-1"
    # Without an incoming id, the one made for the request is recorded and answered.
    response = web.post("/services/ledger/edit/", {"name": "Ledger", "lifecycle": "deprecated"})
    event = AuditEvent.objects.filter(action="service.update").latest("id")
    assert event.source == "web" and event.request_id == response["X-Request-ID"] != "web-edit-1"


@pytest.mark.django_db
def test_an_api_write_is_recorded_as_api_with_the_x_request_id_sent(member_client, team):
    response = member_client.post("/api/v1/services/", {"slug": "ledger", "owner": "payments"}, format="json",
                                  HTTP_X_REQUEST_ID="deploy-2024.07_a")
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "deploy-2024.07_a"
    event = AuditEvent.objects.get(action="service.create")
    assert (event.source, event.request_id, event.actor_name) == ("api", "deploy-2024.07_a", "mia")


def _manage(*args: str) -> subprocess.CompletedProcess:
    """`python manage.py ...` as its own process, on this test run's database."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=worker_env(), capture_output=True,
                          text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_management_commands_are_recorded_as_command_with_one_id_per_run(member, team, tmp_path):
    created = _manage("api_token", "mia", "--name", "cli")
    assert created.returncode == 0, created.stderr
    descriptor = tmp_path / "catalog-info.yaml"
    descriptor.write_text(COMPONENT)
    imported = _manage("import_catalog", str(descriptor), "--actor", "mia")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert Service.objects.filter(slug="audit-importer").exists()
    token_event = AuditEvent.objects.get(action="token.create", changes__name="cli")
    import_event = AuditEvent.objects.get(action="service.create", object_repr="audit-importer")
    assert token_event.source == import_event.source == "command"
    assert import_event.actor_name == "mia"
    # Each run has an id of its own, shared by all its events.
    assert token_event.request_id and import_event.request_id and token_event.request_id != import_event.request_id
    assert set(AuditEvent.objects.filter(request_id=import_event.request_id).values_list("source", flat=True)) == {
        "command"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_registering_a_runs_service_is_recorded_as_worker(member_client, team, settings, monkeypatch,
                                                                   tmp_path):
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI_TEMPLATES
    monkeypatch.setenv("SLIPWAY_SCAFFOLDS_DIR", str(MINI_TEMPLATES))
    settings.SLIPWAY_REPOSITORY_DIR = tmp_path / "repositories"
    monkeypatch.setenv("SLIPWAY_REPOSITORY_DIR", str(tmp_path / "repositories"))
    request = {"template": "mini", "owner": "payments",
               "inputs": {"service_name": "ledger-api", "description": "Keeps the books", "lifecycle": "production",
                          "port": 8080}}
    with celery_worker():
        response = member_client.post("/api/v1/runs/", request, format="json", HTTP_X_REQUEST_ID="run-request-1")
        assert response.status_code == 202, response.content
        run_id = response.json()["id"]
        run = wait_for(lambda: ProvisioningRun.objects.filter(pk=run_id, state__in=["succeeded", "failed"]).first(),
                       timeout=90, what="the run to finish")
    assert run.state == "succeeded", run.error
    requested = AuditEvent.objects.get(action="run.create")
    assert (requested.source, requested.request_id) == ("api", "run-request-1")
    registered = AuditEvent.objects.get(action="service.create", object_repr="ledger-api")
    assert registered.source == "worker"
    assert registered.actor_name == "mia"  # on behalf of whoever asked for the run
    worker_events = AuditEvent.objects.exclude(pk=requested.pk).filter(created_at__gte=requested.created_at)
    assert {"service.create", "environment.create", "runbook.create", "run.succeeded"} <= set(
        worker_events.values_list("action", flat=True))
    # One task, one id (the Celery task's), shared by everything it wrote and distinct from the request's.
    assert set(worker_events.values_list("source", "request_id")) == {("worker", registered.request_id)}
    assert registered.request_id and registered.request_id != "run-request-1"
