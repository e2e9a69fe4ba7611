"""End to end on the local host with real Celery worker processes: success, a killed worker,
an unreachable broker, a name collision and a cancel."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from services.models import AuditEvent, Environment, ProvisioningRun, Runbook, RunStep, Service
from tests.services.scaffolder.conftest import run_request
from tests.worker import celery_worker, kill, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST = {"SLIPWAY_RUN_LEASE_SECONDS": "3", "SLIPWAY_SWEEP_SECONDS": "1", "SLIPWAY_RETRY_BASE_SECONDS": "0.2"}


def bare(name: str) -> Path:
    return Path(settings.SLIPWAY_REPOSITORY_DIR) / settings.SLIPWAY_LOCAL_OWNER / f"{name}.git"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True).stdout


def finished(run_id: str) -> ProvisioningRun | None:
    run = ProvisioningRun.objects.get(pk=run_id)
    return run if run.state in ("succeeded", "failed", "cancelled") else None


def test_a_run_creates_one_commit_with_every_file_and_registers_the_service(member_client, team):
    with celery_worker():
        response = member_client.post("/api/v1/runs/", run_request(), format="json")
        assert response.status_code == 202
        run = wait_for(lambda: finished(response.json()["id"]), timeout=60, what="the run to finish")
    assert run.state == "succeeded", (run.error, list(run.steps.values_list("action", "state", "error")))
    repo = bare("ledger-api")
    assert git(repo, "rev-list", "--count", "main").strip() == "1"
    files = set(git(repo, "ls-tree", "-r", "--name-only", "main").split())
    assert files == {".github/workflows/ci.yml", "CODEOWNERS", "README.md", "app.py", "catalog-info.yaml",
                     "docs/runbook.md", ".slipway/provenance.json"}
    provenance = json.loads(git(repo, "show", "main:.slipway/provenance.json"))
    assert provenance["template"] == "mini" and provenance["template_version"] == run.template_version
    assert provenance["inputs"]["service_name"] == "ledger-api"
    record = json.loads((repo / "slipway.json").read_text())
    assert record["teams"] == {"payments": "push"}
    assert record["environments"]["production"] == {"wait_timer": 10, "reviewers": ["payments"],
                                                    "branch_policy": "main"}
    assert record["protection"]["main"]["required_approving_review_count"] == 1
    service = Service.objects.get(slug="ledger-api")
    assert service.owner_team == team and service.template == "mini"
    assert service.repository == "localhost/slipway/ledger-api"
    assert sorted(Environment.objects.filter(service=service).values_list("name", flat=True)) == [
        "dev", "production", "staging"]
    assert "Page payments" in Runbook.objects.get(service=service).body
    assert run.api_calls == 7  # create, push, grant, 3 environments, protect
    detail = member_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert detail["service"] == "ledger-api"
    assert detail["repository"]["clone_url"] == str(repo)
    assert all(step["state"] == "succeeded" and step["duration_seconds"] is not None for step in detail["steps"])
    owner = member_client.get("/api/v1/ownership/", {"service": "ledger-api"}).json()
    assert owner["team"]["slug"] == "payments"
    assert AuditEvent.objects.filter(action="run.succeeded", source="worker").exists()


def test_a_worker_killed_mid_run_is_resumed_by_another_with_one_repository_and_one_commit(member_client, team):
    slow = {**FAST, "SLIPWAY_STEP_DELAY_SECONDS": "0.7"}
    with celery_worker(env=slow) as first:
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        wait_for(lambda: RunStep.objects.filter(run_id=run_id, action="repo.push", state="succeeded").exists(),
                 timeout=60, what="the push to be done")
        wait_for(lambda: RunStep.objects.filter(run_id=run_id, state="running").exists(), timeout=30,
                 what="a later step to be running")
        kill(first)
    assert ProvisioningRun.objects.get(pk=run_id).state == "running"
    with celery_worker(env=slow, beat=True):
        run = wait_for(lambda: finished(run_id), timeout=90, what="the run to finish after the restart")
    assert run.state == "succeeded", run.error
    assert git(bare("ledger-api"), "rev-list", "--count", "main").strip() == "1"
    assert len(list(bare("ledger-api").parent.glob("*.git"))) == 1
    assert Service.objects.filter(slug="ledger-api").count() == 1
    assert RunStep.objects.filter(run_id=run_id, attempts__gt=1).exists()  # the cut-short step ran again


def test_a_run_accepted_while_the_broker_is_down_is_kept_and_finishes_later(member_client, team, monkeypatch):
    from kombu.exceptions import OperationalError

    from services.tasks import advance_run

    def broker_down(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(advance_run, "apply_async", broker_down)
        response = member_client.post("/api/v1/runs/", run_request(), format="json")
    assert response.status_code == 202
    run_id = response.json()["id"]
    assert ProvisioningRun.objects.get(pk=run_id).state == "queued"
    with celery_worker(env=FAST, beat=True):  # the sweeper finds it
        run = wait_for(lambda: finished(run_id), timeout=90, what="the swept run to finish")
    assert run.state == "succeeded", run.error


def test_a_name_taken_on_the_host_fails_cleanly_and_the_foreign_repository_is_untouched(member_client, team):
    foreign = bare("ledger-api")
    foreign.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--bare", "-q", str(foreign)], check=True)
    before = sorted(p.relative_to(foreign).as_posix() for p in foreign.rglob("*"))
    with celery_worker():
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        run = wait_for(lambda: finished(run_id), timeout=60, what="the run to finish")
    assert run.state == "failed"
    assert "already exists and was not created by this run" in run.error
    assert sorted(p.relative_to(foreign).as_posix() for p in foreign.rglob("*")) == before
    assert not Service.objects.filter(slug="ledger-api").exists()
    step = RunStep.objects.get(run_id=run_id, action="repo.create")
    assert step.state == "failed" and "untouched" in step.error
    assert RunStep.objects.filter(run_id=run_id, state="pending").count() == 7


def test_a_running_run_is_cancelled_between_steps(member_client, team):
    with celery_worker(env={**FAST, "SLIPWAY_STEP_DELAY_SECONDS": "0.5"}):
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        wait_for(lambda: RunStep.objects.filter(run_id=run_id, action="repo.create", state="succeeded").exists(),
                 timeout=60, what="the repository step")
        assert member_client.post(f"/api/v1/runs/{run_id}/cancel/").status_code == 202
        run = wait_for(lambda: finished(run_id), timeout=60, what="the cancel to take effect")
    assert run.state == "cancelled"
    assert RunStep.objects.filter(run_id=run_id, state="cancelled").exists()
    assert not Service.objects.filter(slug="ledger-api").exists()


def test_a_step_longer_than_the_lease_keeps_its_run_by_heartbeat(member_client, team, tmp_path):
    # Each step takes twice the lease; a second worker process and the sweeper stand by. Without the
    # heartbeat the sweeper would hand the run over mid-step and the step would run twice.
    log = tmp_path / "worker.log"
    env = {**FAST, "SLIPWAY_RUN_LEASE_SECONDS": "2", "SLIPWAY_STEP_DELAY_SECONDS": "4"}
    with celery_worker(concurrency=2, beat=True, log=log, env=env):
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        run = wait_for(lambda: finished(run_id), timeout=120, what="the run to finish")
    assert run.state == "succeeded", run.error
    assert set(RunStep.objects.filter(run_id=run_id).values_list("attempts", flat=True)) == {1}
    assert "run.lease_lost" not in log.read_text(errors="replace")


@pytest.mark.slow
def test_a_killed_workers_run_resumes_within_a_minute_on_the_default_lease(member_client, team):
    # The defaults: a 30 s lease, renewed while steps run, and a sweep every 15 s. A killed worker's
    # lease ends at most 30 s after it died, and the next sweep hands the run on: under a minute.
    assert settings.SLIPWAY_RUN_LEASE_SECONDS + settings.CELERY_BEAT_SCHEDULE["sweep-runs"]["schedule"] <= 45
    slow = {"SLIPWAY_STEP_DELAY_SECONDS": "1"}
    with celery_worker(env=slow) as first:
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        wait_for(lambda: RunStep.objects.filter(run_id=run_id, action="repo.push", state="succeeded").exists(),
                 timeout=60, what="the push to be done")
        kill(first)
    killed_at = timezone.now()
    lease = ProvisioningRun.objects.get(pk=run_id).lease_expires_at
    assert lease is not None and lease <= killed_at + datetime.timedelta(seconds=settings.SLIPWAY_RUN_LEASE_SECONDS)
    with celery_worker(env=slow, beat=True):
        run = wait_for(lambda: finished(run_id), timeout=120, what="another worker to resume and finish the run")
    assert run.state == "succeeded", run.error
    assert Service.objects.filter(slug="ledger-api").count() == 1
