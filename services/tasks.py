"""Celery entry points: ids in, one service-layer call, nothing else. Imports downward only; the
service layer reaches these tasks by their registered names (services/apps.py registers them)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from services.audit import audit_source
from services.catalog.sync import locations, plans
from services.models import AuditEvent, Heartbeat
from services.scaffolder import namecheck, runs

logger = logging.getLogger(__name__)


@shared_task(name="slipway.worker_heartbeat", acks_late=True, ignore_result=True)
def worker_heartbeat() -> str:
    """Record that a worker is alive and consuming (shown by /readyz)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name="worker", defaults={"seen_at": now})
    logger.info("worker.heartbeat", extra={"at": now.isoformat()})
    return now.isoformat()


@shared_task(name=runs.ADVANCE_RUN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def advance_run(run_id: str) -> None:
    """Advance one provisioning run; a transient fault schedules the next attempt."""
    from services.scaffolder.runner import run_advance

    # Writes made here (the service a run registers, its environments and runbook) are the
    # worker's, with the task's id as their request id.
    with audit_source(AuditEvent.Source.WORKER, advance_run.request.id or ""):
        delay = run_advance(run_id)
    if delay is not None:
        runs.enqueue(run_id, countdown=delay)


@shared_task(name="slipway.sweep_runs", acks_late=True, ignore_result=True)
def sweep_runs() -> int:
    """Queue runs left behind: accepted while the broker was down, or whose worker died."""
    from services.models import ProvisioningRun

    run_ids = list(runs.runs_to_sweep().values_list("pk", flat=True)[:500])
    for run_id in run_ids:
        if runs.enqueue(run_id):
            # Restart the grace period so the next sweep does not queue it again while it waits.
            ProvisioningRun.objects.filter(pk=run_id, state="queued").update(updated_at=timezone.now())
    if run_ids:
        logger.info("runs.swept", extra={"count": len(run_ids)})
    return len(run_ids)


@shared_task(name=namecheck.CHECK_TASK, ignore_result=True, time_limit=60)
def check_repository_name(name: str, host: str) -> str:
    """Ask the repository host whether a new service's name is taken (the wizard shows the answer)."""
    return namecheck.check_now(name, host)


@shared_task(name=locations.REFRESH_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def refresh_location(location_id: int, repositories: list[str] | None = None) -> None:
    """Refresh one location (an organisation's `repositories` only, after a push); a claim keeps two
    workers from refreshing it at once."""
    with audit_source(AuditEvent.Source.WORKER, refresh_location.request.id or ""):
        locations.location_refresh_by_id(location_id, repositories)


@shared_task(name="slipway.refresh_due_locations", acks_late=True, ignore_result=True)
def refresh_due_locations() -> int:
    """Queue the refresh of every location that is due (its period passed, or a webhook or button asked)."""
    due = locations.due_locations()
    for location_id in due:
        locations.enqueue_refresh(location_id)
    return len(due)


@shared_task(name=plans.PLAN_TASK, ignore_result=True, time_limit=300)
def plan_location(plan_id: str) -> None:
    """The dry run of registering a repository (the page and the API poll for it)."""
    plans.plan_run(plan_id)
