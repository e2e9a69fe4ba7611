"""The database failing under a worker mid-step: on PostgreSQL its connection is terminated, on
SQLite another process holds the write lock past the worker's timeout. The run resumes, once."""

from __future__ import annotations

import sqlite3
import threading
import time
import urllib.parse

import pytest
from django.db import connection

from services.models import AuditEvent, ProvisioningRun, RunStep, Service
from tests.faults.conftest import FAST, all_finished, bare, commit_count, run_request, steps_of
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SLOW = {**FAST, "SLIPWAY_STEP_DELAY_SECONDS": "0.5"}


def step_running(run_id: str, action: str) -> bool:
    return RunStep.objects.filter(run_id=run_id, action=action, state="running").exists()


def assert_resumed_once(run_id: str, action: str) -> None:
    run = ProvisioningRun.objects.get(pk=run_id)
    assert run.state == "succeeded", (run.error, steps_of(run))
    assert commit_count(run.service_slug) == 1
    assert [path.name for path in bare(run.service_slug).parent.glob("*.git")] == [f"{run.service_slug}.git"]
    assert Service.objects.filter(slug=run.service_slug).count() == 1
    assert RunStep.objects.get(run_id=run_id, action=action).attempts == 2  # the interrupted step, once more
    assert not RunStep.objects.filter(run_id=run_id).exclude(action=action).exclude(attempts=1).exists()
    assert not AuditEvent.objects.filter(action="run.failed").exists()  # never failed on the way


@pytest.mark.parametrize("action", ["repo.create", "catalog.register"])
def test_a_dropped_database_connection_mid_step_resumes_the_run_once(member_client, team, action):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server connection to drop; see the lock test below")
    name = f"slipway-fault-worker-{time.time_ns()}"
    url = urllib.parse.urlsplit(__import__("os").environ["DATABASE_URL"])
    query = urllib.parse.urlencode([*urllib.parse.parse_qsl(url.query), ("application_name", name)])
    database_url = urllib.parse.urlunsplit(url._replace(query=query))
    with celery_worker(beat=True, env={**SLOW, "DATABASE_URL": database_url}):
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        wait_for(lambda: step_running(run_id, action), timeout=60, what=f"{action} to be running")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                           [name])
            assert cursor.fetchall(), "the worker's connection was not found"
        wait_for(lambda: all_finished([run_id]), timeout=90, what="the run to finish")
    assert_resumed_once(run_id, action)


@pytest.mark.parametrize("action", ["repo.create", "catalog.register"])
def test_the_database_locked_by_another_process_mid_step_resumes_the_run_once(member_client, team, action):
    if connection.vendor != "sqlite":
        pytest.skip("'database is locked' is SQLite's fault; PostgreSQL's is the dropped connection above")
    path = connection.settings_dict["NAME"]
    held = threading.Event()

    def hold_the_write_lock(seconds: float) -> None:
        locker = sqlite3.connect(path, timeout=20, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            held.set()
            time.sleep(seconds)
            locker.execute("ROLLBACK")
        finally:
            locker.close()

    with celery_worker(beat=True, env={**SLOW, "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings"}):
        run_id = member_client.post("/api/v1/runs/", run_request(), format="json").json()["id"]
        wait_for(lambda: step_running(run_id, action), timeout=60, what=f"{action} to be running")
        # Longer than the step's pause plus the worker's 1 s lock timeout: its first write in the
        # step fails with 'database is locked'; released soon after, so what follows can write.
        locker = threading.Thread(target=hold_the_write_lock, args=(2.0,))
        locker.start()
        assert held.wait(10)
        locker.join()
        wait_for(lambda: all_finished([run_id]), timeout=90, what="the run to finish")
    assert_resumed_once(run_id, action)
