"""Advance a run: claim it, run its steps in order, save state after each one.

A worker claims a run with a conditional update (only one wins), holds it with a short lease, and
saves every step's outcome before the next begins. While a step runs, a heartbeat thread renews the
lease every third of it, for at most SLIPWAY_STEP_TIMEOUT_SECONDS (a step running longer is presumed
hung and left to expire). A killed worker stops renewing: its lease (30 s by default) expires, the
sweeper (tasks.sweep_runs, every 15 s) requeues the run, and the next worker resumes at the first step
not succeeded — within a minute, and never twice at once: actions are idempotent, so a step cut short
is simply run again, and the lease's expiry is the token every write checks.

A step that must wait (a rate-limit answer with Retry-After, backoff after a fault, or the GitHub
write budget: throttle.WriteSlotDeferred) is handed back: the step is pending with the reason as its
error, the run queued with `not_before` set, and the worker is free meanwhile.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from types import TracebackType
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from services.audit import audit_record, audit_source
from services.hosts import host_for
from services.hosts.base import HostError, TransientHostError
from services.hosts.budget import BUDGET_REASON, QUEUE_REASON, WriteSlotDeferred
from services.hosts.secrets import redact
from services.models import ProvisioningRun, RunStep
from services.scaffolder.actions import ACTIONS, StepContext

logger = logging.getLogger(__name__)
BUDGET_REASONS = (BUDGET_REASON, QUEUE_REASON)  # how a step waiting for the write budget says so

State = ProvisioningRun.State
StepState = RunStep.State
# The database failing under a step (a dropped connection, a lock held past the timeout) is no fault
# of the step: the run waits and resumes, it never fails for it.
DATABASE_FAULTS = (OperationalError, InterfaceError)


def lease_seconds() -> float:
    return float(settings.SLIPWAY_RUN_LEASE_SECONDS)


class Heartbeat:
    """Renew a run's lease every third of it while a step runs, in a thread with its own database
    connection, until the step ends, the lease is lost, or SLIPWAY_STEP_TIMEOUT_SECONDS pass."""

    def __init__(self, run: ProvisioningRun) -> None:
        self.run = run
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        # Inside a transaction (a test calling the runner in its own), another connection would see
        # neither the run nor its lease: there is no one to take the run over either.
        if not transaction.get_connection().in_atomic_block:
            self.thread = threading.Thread(target=self._beat, name=f"lease-{self.run.pk}", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def _beat(self) -> None:
        deadline = time.monotonic() + float(settings.SLIPWAY_STEP_TIMEOUT_SECONDS)
        try:
            while not self.stopped.wait(lease_seconds() / 3):
                if time.monotonic() > deadline:
                    logger.warning("run.step_overran", extra={"run": str(self.run.pk)})
                    return
                try:
                    if not _renew(self.run):
                        return
                except DATABASE_FAULTS:  # the next beat tries again; the lease has time left
                    logger.warning("run.heartbeat_failed", extra={"run": str(self.run.pk)}, exc_info=True)
                    connection.close_if_unusable_or_obsolete()
        finally:
            connection.close()  # this thread's own connection


def backoff_seconds(attempt: int) -> float:
    """Bounded exponential backoff with jitter: 1, 2, 4 ... capped."""
    base = float(settings.SLIPWAY_RETRY_BASE_SECONDS)
    return min(base * (2 ** max(0, attempt - 1)), float(settings.SLIPWAY_RETRY_MAX_SECONDS)) * (
        1 + random.random() * 0.1)


def run_claim(run_id: Any) -> ProvisioningRun | None:
    """Take a run for this worker: queued and due, or running with an expired lease. One winner."""
    now = timezone.now()
    claimable = ProvisioningRun.objects.filter(pk=run_id).filter(
        Q(state=State.QUEUED, cancel_requested=False) & (Q(not_before__isnull=True) | Q(not_before__lte=now))
        | Q(state=State.RUNNING, lease_expires_at__lt=now)
    )
    claimed = claimable.update(state=State.RUNNING, lease_expires_at=now + datetime.timedelta(seconds=lease_seconds()),
                               not_before=None, started_at=Coalesce(F("started_at"), now), updated_at=now)
    if claimed != 1:
        return None
    return ProvisioningRun.objects.select_related("owner", "requested_by").get(pk=run_id)


def _renew(run: ProvisioningRun) -> bool:
    """Extend the lease; False if the run was taken from us (finished, or claimed after expiry).

    The expiry this worker last wrote is its token: a worker that outlived its lease (a call hung
    past it) finds another expiry there once the sweeper has handed the run on, and stops without
    writing. Call it in the transaction that records a step's outcome, so the check and the write
    are one (the run's row stays locked until the outcome is saved)."""
    now = timezone.now()
    expires = now + datetime.timedelta(seconds=lease_seconds())
    renewed = ProvisioningRun.objects.filter(pk=run.pk, state=State.RUNNING,
                                             lease_expires_at=run.lease_expires_at).update(
        lease_expires_at=expires, updated_at=now)
    if renewed != 1:
        logger.warning("run.lease_lost", extra={"run": str(run.pk)})
        return False
    run.lease_expires_at = expires
    return True


def _finish(run: ProvisioningRun, state: str, error: str = "") -> None:
    now = timezone.now()
    ProvisioningRun.objects.filter(pk=run.pk).update(state=state, error=error, finished_at=now, lease_expires_at=None,
                                                     updated_at=now)
    with audit_source("worker"):
        run.state = state
        audit_record(actor=run.requested_by, action=f"run.{state}", obj=run, changes={"error": error} if error else {})
    logger.info("run.finished", extra={"run": str(run.pk), "state": state})


def _count_calls(run: ProvisioningRun, host: Any) -> None:
    calls, host.calls = host.calls, 0
    if calls:
        ProvisioningRun.objects.filter(pk=run.pk).update(api_calls=F("api_calls") + calls)


def run_advance(run_id: Any) -> float | None:
    """Advance a run as far as it goes. Returns seconds after which to try again (a transient
    fault), or None when the run is finished, waiting elsewhere, or not ours."""
    run = run_claim(run_id)
    if run is None:
        logger.info("run.not_claimed", extra={"run": str(run_id)})
        return None
    host = host_for(run.host)
    for step in run.steps.order_by("position"):
        if step.state == StepState.SUCCEEDED:
            continue
        with transaction.atomic():
            if not _renew(run):
                return None
            if ProvisioningRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
                run.steps.filter(state__in=[StepState.PENDING, StepState.RUNNING]).update(state=StepState.CANCELLED)
                _finish(run, State.CANCELLED, "Cancelled on request before step " + step.action)
                return None
            step.state, step.attempts, step.started_at, step.error = (StepState.RUNNING, step.attempts + 1,
                                                                      timezone.now(), "")
            step.finished_at = None
            step.save(update_fields=["state", "attempts", "started_at", "error", "finished_at"])
        context = StepContext(run=run, step=step, host=host)
        try:
            with Heartbeat(run):
                if settings.SLIPWAY_STEP_DELAY_SECONDS:
                    time.sleep(settings.SLIPWAY_STEP_DELAY_SECONDS)  # demos and fault tests: widen each step
                output = ACTIONS[step.action](context)
        except TransientHostError as error:
            _count_calls(run, host)
            return _step_transient(run, step, context, error)
        except HostError as error:
            _count_calls(run, host)
            _step_failed(run, step, context, str(error))
            return None
        except DATABASE_FAULTS as error:
            return _step_database_fault(run, step, context, host, error)
        except Exception as error:  # noqa: BLE001 - an unexpected fault fails the run, never loops
            logger.exception("run.step_crashed", extra={"run": str(run.pk), "step": step.action})
            _count_calls(run, host)
            _step_failed(run, step, context, f"internal error in {step.action}: {type(error).__name__}: {error}")
            return None
        _count_calls(run, host)
        with transaction.atomic():
            if not _renew(run):  # the step outlived the lease and another worker has the run now
                return None
            step.state, step.output, step.finished_at = StepState.SUCCEEDED, output, timezone.now()
            step.log = redact("\n".join(filter(None, [step.log, *context.lines])))
            step.save(update_fields=["state", "output", "finished_at", "log"])
        logger.info("run.step_done", extra={"run": str(run.pk), "step": step.action, "attempt": step.attempts})
    with transaction.atomic():
        if _renew(run):
            _finish(run, State.SUCCEEDED)
    return None


def _step_transient(run: ProvisioningRun, step: RunStep, context: StepContext, error: TransientHostError) -> float | None:
    """Hand the step back until it may run again: pending, the run queued with `not_before`.

    Waiting for a GitHub write slot (WriteSlotDeferred) is pacing, not a fault: it resumes at the
    slot's time and gives the attempt back, so a run waiting for the budget never fails for it."""
    message = redact(str(error))
    deferred_until = error.resume_at if isinstance(error, WriteSlotDeferred) else None
    if deferred_until is None and step.attempts >= settings.SLIPWAY_STEP_MAX_ATTEMPTS:
        _step_failed(run, step, context, f"gave up after {step.attempts} attempts: {message}")
        return None
    if deferred_until is not None:
        step.attempts = max(step.attempts - 1, 0)
        context.log(f"waiting: {message}")
    else:
        delay = error.retry_after if error.retry_after is not None else backoff_seconds(step.attempts)
        context.log(f"attempt {step.attempts} hit a transient fault: {message}; retrying in {delay:.0f} s")
    with transaction.atomic():
        if not _renew(run):
            return None
        step.state, step.error = StepState.PENDING, message
        step.log = redact("\n".join(filter(None, [step.log, *context.lines])))
        step.save(update_fields=["state", "error", "log", "attempts"])
        now = timezone.now()
        if deferred_until is not None:
            resume_at = fair_turn(run, deferred_until, now=now)
            delay = max((resume_at - now).total_seconds(), 0.0)
        else:
            resume_at = now + datetime.timedelta(seconds=delay)
        ProvisioningRun.objects.filter(pk=run.pk, state=State.RUNNING).update(
            state=State.QUEUED, lease_expires_at=None, not_before=resume_at, updated_at=now)
    if deferred_until is not None:
        logger.info("run.step_deferred", extra={"run": str(run.pk), "step": step.action,
                                                "resume_at": resume_at.isoformat()})
    return delay


def fair_turn(run: ProvisioningRun, slot_at: datetime.datetime, *, now: datetime.datetime) -> datetime.datetime:
    """When the GitHub write budget defers runs, teams take turns: a run whose team already has k runs
    waiting for the budget resumes k write intervals (an hour / SLIPWAY_GITHUB_WRITES_PER_HOUR) after
    the slot. One team's hundred waiting runs come back spread out; another team's single run is among
    the first again, instead of behind all of them."""
    for_budget = Q(error__startswith=BUDGET_REASONS[0]) | Q(error__startswith=BUDGET_REASONS[1])
    waiting = (RunStep.objects.filter(for_budget, run__owner_id=run.owner_id, run__state=State.QUEUED,
                                      run__not_before__gt=now, state=StepState.PENDING)
               .exclude(run_id=run.pk).values("run_id").distinct().count())
    interval = 3600.0 / max(int(settings.SLIPWAY_GITHUB_WRITES_PER_HOUR or 0), 1)
    return slot_at + datetime.timedelta(seconds=waiting * interval)


def _step_database_fault(run: ProvisioningRun, step: RunStep, context: StepContext, host: Any,
                         error: Exception) -> float | None:
    """Reschedule a step the database failed under; if even that cannot be written, the lease
    expires and the sweeper requeues the run."""
    logger.warning("run.database_fault", extra={"run": str(run.pk), "step": step.action}, exc_info=True)
    connection.close_if_unusable_or_obsolete()  # a dropped connection is replaced on the next query
    try:
        _count_calls(run, host)
        return _step_transient(run, step, context, TransientHostError(f"database unavailable: {error}"))
    except DATABASE_FAULTS:
        logger.warning("run.database_unavailable", extra={"run": str(run.pk)}, exc_info=True)
        connection.close_if_unusable_or_obsolete()
        return None


def _step_failed(run: ProvisioningRun, step: RunStep, context: StepContext, message: str) -> None:
    message = redact(message)
    with transaction.atomic():
        if not _renew(run):
            return
        step.state, step.error, step.finished_at = StepState.FAILED, message, timezone.now()
        step.log = redact("\n".join(filter(None, [step.log, *context.lines, f"failed: {message}"])))
        step.save(update_fields=["state", "error", "finished_at", "log"])
        _finish(run, State.FAILED, f"{step.action} failed: {message}")
