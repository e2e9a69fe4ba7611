"""The wizard asks the repository host, through a worker, whether a name is free; a name the host
holds is refused before a run is accepted, and a failed run offers to start again with its answers."""

from __future__ import annotations

import subprocess
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client

from services.models import ProvisioningRun
from services.scaffolder import namecheck
from tests.services.scaffolder.conftest import run_request
from tests.worker import celery_worker, wait_for

CHECK = "/create/mini/check-name/"


def taken_on_the_host(name: str) -> Path:
    path = Path(settings.SLIPWAY_REPOSITORY_DIR) / settings.SLIPWAY_LOCAL_OWNER / f"{name}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
    return path


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_request_only_asks_a_worker_once_and_says_it_is_checking(member, team):
    task = mock.Mock()
    with mock.patch.dict("celery.current_app.tasks", {namecheck.CHECK_TASK: task}):
        answers = [web(member).get(CHECK, {"inputs.service_name": "ledger-api"}).content.decode() for _ in range(3)]
    assert task.apply_async.call_count == 1
    assert task.apply_async.call_args.args[0] == ("ledger-api", "local")
    assert all("asking the repository host whether" in answer for answer in answers)
    assert 'hx-trigger="load delay:1s"' in answers[0]  # it asks again in a second


@pytest.mark.django_db
def test_the_workers_answer_is_kept_and_shown(member, team):
    assert namecheck.check_now("ledger-api", "local") == namecheck.FREE
    assert "is free, on the repository host too" in web(member).get(CHECK, {"inputs.service_name": "ledger-api"}
                                                                    ).content.decode()
    taken_on_the_host("billing-api")
    assert namecheck.check_now("billing-api", "local") == namecheck.TAKEN
    body = web(member).get(CHECK, {"inputs.service_name": "billing-api"}).content.decode()
    assert "A repository named billing-api already exists on the repository host" in body


@pytest.mark.django_db
def test_a_host_that_cannot_answer_is_unknown_not_an_error(member, team):
    from services.hosts.base import TransientHostError

    with mock.patch("services.hosts.local.LocalHost.repository_taken", side_effect=TransientHostError("down")):
        assert namecheck.check_now("ledger-api", "local") == namecheck.UNKNOWN
    assert "could not be asked just now" in web(member).get(CHECK, {"inputs.service_name": "ledger-api"}
                                                            ).content.decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_name_the_host_holds_is_refused_before_the_run_is_accepted(member, member_client, team):
    taken_on_the_host("ledger-api")
    client = web(member)
    assert "asking the repository host" in client.get(CHECK, {"inputs.service_name": "ledger-api"}).content.decode()
    with celery_worker():
        wait_for(lambda: "already exists" in client.get(CHECK, {"inputs.service_name": "ledger-api"}).content.decode(),
                 timeout=60, what="the worker's answer")
    refused = member_client.post("/api/v1/runs/", run_request(), format="json")
    assert refused.status_code == 409
    assert refused.json()["errors"] == {"inputs.service_name": [
        "a repository named ledger-api already exists on the repository host; choose another name"]}
    assert not ProvisioningRun.objects.exists()


@pytest.mark.django_db
def test_a_failed_run_offers_to_start_again_with_its_answers(member, team):
    run = ProvisioningRun.objects.create(
        template="mini", template_version="1", owner=team, requested_by=member, service_slug="ledger-api",
        host="local", request_hash="x", state="failed", error="repo.create failed: exists",
        inputs={"service_name": "ledger-api", "description": "Keeps the books", "lifecycle": "production",
                "port": 8080})
    run.steps.create(position=1, action="repo.create", params={}, state="failed",
                     error="A repository named slipway/ledger-api already exists and was not created by this run")
    page = web(member).get(f"/runs/{run.pk}/").content.decode()
    assert f'href="/create/mini/?from={run.pk}"' in page and "Start again with these answers" in page
    assert "a retry would fail the same way" in page
    form = web(member).get(f"/create/mini/?from={run.pk}").content.decode()
    assert 'value="Keeps the books"' in form and 'value="ledger-api"' in form
    assert web(member).get("/create/mini/?from=not-a-uuid").status_code == 200
