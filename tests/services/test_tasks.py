"""Celery tasks run by a real worker process over the configured broker (filesystem or Redis)."""

from __future__ import annotations

import pytest

from services.models import Heartbeat
from services.tasks import worker_heartbeat
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_process_runs_a_queued_task_and_records_its_heartbeat(client):
    with celery_worker() as process:
        worker_heartbeat.delay()
        beat = wait_for(lambda: Heartbeat.objects.filter(name="worker").first(), timeout=60,
                        what="the worker to record its heartbeat")
        assert process.poll() is None
    ready = client.get("/readyz").json()
    assert ready["worker"]["last_seen"] == beat.seen_at.isoformat()
    assert ready["worker"]["alive"] is True
