"""Provisioning runs: the run page that follows the workers step by step (polled by htmx), retry,
cancel, and the list of runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from services.access.permissions import can_act_on_run
from services.errors import CatalogError
from services.hosts.budget import BUDGET_REASON, QUEUE_REASON
from services.models import ProvisioningRun, RunStep, Team
from services.scaffolder import runs as provisioning_runs
from services.scaffolder import templates
from services.scaffolder.runs import RunFilter
from services.web.wizard import (
    RUNS_PER_PAGE,
    PartialLoginRequiredMixin,
    duration_text,
    elapsed,
    service_url,
    step_title,
)

# ---------------------------------------------------------------------------------------------
# Runs.


@dataclass(frozen=True)
class StepRow:
    position: int
    title: str
    action: str
    state: str
    state_label: str
    attempts: int
    duration: str
    log: str
    error: str


def _run_or_404(pk: Any) -> ProvisioningRun:
    try:
        return provisioning_runs.run_detail(pk)
    except ProvisioningRun.DoesNotExist:
        raise Http404("No such run.") from None


def run_context(request: HttpRequest, run: ProvisioningRun) -> dict[str, Any]:
    """Everything the run page and its live partial show."""
    now = timezone.now()
    steps = sorted(run.steps.all(), key=lambda step: step.position)
    rows = [
        StepRow(position=step.position, title=step_title(step), action=step.action, state=step.state,
                state_label=step.get_state_display(), attempts=step.attempts,
                duration=duration_text(elapsed(step.started_at, step.finished_at, now,
                                                 running=step.state == RunStep.State.RUNNING)),
                log=step.log, error=step.error)
        for step in steps
    ]
    done = sum(1 for step in steps if step.state == RunStep.State.SUCCEEDED)
    current = next((row for row in rows if row.state == RunStep.State.RUNNING), None)
    failed = next((row for row in rows if row.state == RunStep.State.FAILED), None)
    state = run.state
    active = state in ProvisioningRun.ACTIVE_STATES
    total = duration_text(elapsed(run.started_at, run.finished_at, now, running=state == ProvisioningRun.State.RUNNING))
    waiting = next((row for row in rows if row.state == RunStep.State.PENDING and row.error), None)
    if state == ProvisioningRun.State.QUEUED and run.not_before and run.not_before > now:
        if waiting and waiting.error.startswith((BUDGET_REASON, QUEUE_REASON)):
            # Pacing, not a fault: the step's reason names the budget and the time (UTC).
            summary = f"Waiting to stay within GitHub's rate limits: {waiting.error}."
        else:
            summary = (f"Paused after a temporary fault (such as a rate limit); it resumes by itself at "
                       f"{timezone.localtime(run.not_before):%H:%M:%S}.")
    elif state == ProvisioningRun.State.QUEUED:
        summary = "Waiting for a worker to pick it up."
    elif state == ProvisioningRun.State.RUNNING:
        where = f"Step {current.position} of {len(rows)}: {current.title}." if current else "Between steps."
        summary = where + (" Stopping after this step, as asked." if run.cancel_requested else "")
    elif state == ProvisioningRun.State.SUCCEEDED:
        summary = f"Done: {run.service_slug} was created in {total}." if total else f"Done: {run.service_slug} was created."
    elif state == ProvisioningRun.State.FAILED:
        summary = f"Stopped at step {failed.position} of {len(rows)}: {failed.title}." if failed else "Stopped."
    else:
        summary = "Cancelled: no further steps will run."
    if failed:
        reason = f"Slipway could not {failed.title[0].lower()}{failed.title[1:]}: {failed.error or run.error}"
    else:
        reason = run.error
    return {
        "run": run, "steps": rows, "done": done, "total_steps": len(rows), "summary": summary, "active": active,
        "duration": total, "reason": reason, "failed_step": failed,
        # repo.create refused a name it found taken (hosts' NameTaken): retrying cannot help.
        "name_taken": bool(failed and failed.action == "repo.create" and "already exists" in (failed.error or "")),
        "can_act": can_act_on_run(request.user, run),
        "service_url": service_url(run.service_slug),
        "show_web_link": bool(run.web_url) and run.web_url.startswith(("https://", "http://")),
    }


class RunDetailView(LoginRequiredMixin, View):
    """A run, step by step, updated live while it is queued or running."""

    def get(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        run = _run_or_404(pk)
        return render(request, "runs/run_detail.html", run_context(request, run))


class RunStatusView(PartialLoginRequiredMixin, View):
    """The live part of the run page, polled about every second until the run is finished."""

    def get(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        run = _run_or_404(pk)
        return render(request, "runs/partials/_run_status.html", run_context(request, run))


class _RunActionView(LoginRequiredMixin, View):
    done_message = ""

    def act(self, request: HttpRequest, run: ProvisioningRun) -> ProvisioningRun:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        try:
            run = provisioning_runs.run_list().get(pk=pk)
        except ProvisioningRun.DoesNotExist:
            raise Http404("No such run.") from None
        if not can_act_on_run(request.user, run):
            raise PermissionDenied(f"Only members of {run.owner.name}, the requester or staff may change this run.")
        try:
            self.act(request, run)
        except CatalogError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, self.done_message)
        return redirect("wizard:run_detail", pk=run.pk)


class RunRetryView(_RunActionView):
    """Resume a failed run from its failed step."""

    done_message = "Retrying from the failed step; the steps that succeeded are kept."

    def act(self, request: HttpRequest, run: ProvisioningRun) -> ProvisioningRun:
        return provisioning_runs.run_retry(actor=request.user, run=run)


class RunCancelView(_RunActionView):
    """Stop a queued run now, or a running one after its current step."""

    done_message = "Cancel requested: no further steps will start."

    def act(self, request: HttpRequest, run: ProvisioningRun) -> ProvisioningRun:
        return provisioning_runs.run_cancel(actor=request.user, run=run)


class RunListView(LoginRequiredMixin, View):
    """My runs or all runs, filtered by state, template and team, a page at a time."""

    def get(self, request: HttpRequest) -> HttpResponse:
        scope = "all" if request.GET.get("scope") == "all" else "mine"
        data = request.GET.copy()
        data["mine"] = "true" if scope == "mine" else ""
        runs = RunFilter(data, queryset=provisioning_runs.run_list().order_by("-created_at"), request=request)
        page = Paginator(runs.qs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
        now = timezone.now()
        rows = [(run, duration_text(elapsed(run.started_at, run.finished_at, now,
                                             running=run.state == ProvisioningRun.State.RUNNING)))
                for run in page.object_list]
        return render(request, "runs/run_list.html", {
            "scope": scope, "page": page, "rows": rows, "filters": runs.form,
            "states": ProvisioningRun.State.choices, "templates": templates.template_list(),
            "teams": Team.objects.order_by("name", "slug").only("slug", "name"),
            "selected": {key: request.GET.get(key, "") for key in ("state", "template", "owner")},
        })
