"""Run requests: accept (validate, persist, then queue), retry, cancel. Called by the API, the
pages and the `scaffold` command alike."""

from __future__ import annotations

import datetime
import hashlib
import logging
from typing import Any

import django_filters
import orjson
from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from services.audit import audit_record
from services.catalog import search
from services.catalog.writes import resolve_team
from services.errors import Conflict, InvalidInput, TooManyRequests
from services.models import ProvisioningRun, RunStep, Service, Team
from services.scaffolder import namecheck, switches, templates

logger = logging.getLogger(__name__)

ADVANCE_RUN_TASK = "slipway.advance_run"

State = ProvisioningRun.State


def _steps_for(template: templates.Template) -> list[tuple[str, dict[str, Any]]]:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("scaffold.render", {}), ("repo.create", {}), ("repo.push", {}), ("repo.grant_team", {}),
    ]
    for environment in template.environments:
        steps.append(("env.create", {
            "name": str(environment["name"]), "wait_timer": int(environment.get("wait_timer", 0)),
            "reviewers": [str(r) for r in environment.get("reviewers", [])],
            "branch_policy": str(environment.get("branch_policy", "")),
        }))
    steps += [("repo.protect_branch", {}), ("catalog.register", {})]
    return steps


DAY = datetime.timedelta(days=1)
ACTIVE_STATES = (State.QUEUED, State.RUNNING)


def _wait_words(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes < 90 else f"{round(minutes / 60)} hours"


def _quota_check(actor: Any, team: Team) -> None:
    """Refuse a new run (429) when the person or the team has too many runs under way or has started
    too many in the last 24 hours (settings SLIPWAY_RUNS_*; 0 switches a limit off). Called inside
    the run's transaction with the person's and the team's rows locked, so two requests at once
    cannot both take the last place."""
    if not any((settings.SLIPWAY_RUNS_ACTIVE_PER_PERSON, settings.SLIPWAY_RUNS_ACTIVE_PER_TEAM,
                settings.SLIPWAY_RUNS_PER_PERSON_PER_DAY, settings.SLIPWAY_RUNS_PER_TEAM_PER_DAY)):
        return
    now = timezone.now()
    person = actor if getattr(actor, "is_authenticated", False) else None
    if person is not None:
        get_user_model().objects.select_for_update().filter(pk=person.pk).first()
    Team.objects.select_for_update().filter(pk=team.pk).first()
    checks = [("team", f"team {team.slug}", ProvisioningRun.objects.filter(owner=team),
               settings.SLIPWAY_RUNS_ACTIVE_PER_TEAM, settings.SLIPWAY_RUNS_PER_TEAM_PER_DAY)]
    if person is not None:
        checks.insert(0, ("you", "you", ProvisioningRun.objects.filter(requested_by=person),
                          settings.SLIPWAY_RUNS_ACTIVE_PER_PERSON, settings.SLIPWAY_RUNS_PER_PERSON_PER_DAY))
    for who, name, runs, active_limit, daily_limit in checks:
        field = "owner" if who == "team" else "requested_by"
        if active_limit and runs.filter(state__in=ACTIVE_STATES).count() >= active_limit:
            raise TooManyRequests(
                f"{name.capitalize()} already {'have' if who == 'you' else 'has'} {active_limit} runs queued or "
                f"running, the most allowed at once. Start this one when one of them has finished.",
                {field: [f"at most {active_limit} runs at once"]}, retry_after=60)
        if daily_limit:
            recent = list(runs.filter(created_at__gt=now - DAY).order_by("-created_at")
                          .values_list("created_at", flat=True)[:daily_limit])
            if len(recent) >= daily_limit:
                wait = (recent[-1] + DAY - now).total_seconds()
                raise TooManyRequests(
                    f"{name.capitalize()} started {daily_limit} runs in the last 24 hours, the most allowed. "
                    f"The next one can start in {_wait_words(wait)}.",
                    {field: [f"at most {daily_limit} runs a day"]}, retry_after=int(wait) + 1)


def request_hash(*, template: str, owner: str, inputs: Any) -> str:
    """A fingerprint of a request body: the same Idempotency-Key with another body is a conflict."""
    body = orjson.dumps({"template": template, "owner": owner, "inputs": inputs}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def enqueue(run_id: Any, *, countdown: float | None = None) -> bool:
    """Send the run to the workers; False (logged) if the broker is unreachable — the sweeper will."""
    # Looked up by its registered name, not imported: services/tasks.py is the edge that calls this
    # layer, and importing it back would make a circle (services/apps.py registers it in every process).
    advance_run = current_app.tasks[ADVANCE_RUN_TASK]
    try:
        advance_run.apply_async((str(run_id),), countdown=countdown)
    except Exception:  # noqa: BLE001 - any broker failure leaves the run queued for the sweeper
        logger.warning("run.enqueue_failed", extra={"run": str(run_id)}, exc_info=True)
        return False
    return True


def run_create(*, actor: Any, template: str, owner: str, inputs: Any, idempotency_key: str = "") -> tuple[
        ProvisioningRun, bool]:
    """Validate and persist a run with its steps, queue it after commit. Returns (run, created).

    The same idempotency key with the same body answers the existing run; with another body, 409.
    """
    if idempotency_key and (len(idempotency_key) > 200 or not idempotency_key.isprintable()):
        raise InvalidInput.field("Idempotency-Key", "at most 200 printable characters")
    fingerprint = request_hash(template=template, owner=owner, inputs=inputs)
    if idempotency_key and getattr(actor, "is_authenticated", False):
        existing = ProvisioningRun.objects.filter(requested_by=actor, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise Conflict("This Idempotency-Key was used for a different request.",
                               {"Idempotency-Key": ["already used with a different body"]})
            return existing, False
    definition = templates.template_get(template)
    switches.require_on(definition.name)
    team = resolve_team(owner, field="owner")
    values = templates.inputs_validate(definition, inputs)
    slug = values[templates.NAME_INPUT]
    if Service.objects.filter(slug=slug).exists():
        raise Conflict(f"A service named '{slug}' is in the catalog already.",
                       {f"inputs.{templates.NAME_INPUT}": ["a service with this name exists"]})
    if namecheck.host_answer(slug) == namecheck.TAKEN:  # asked lately by the wizard (through a worker)
        raise Conflict(namecheck.taken_words(slug).capitalize() + ".",
                       {f"inputs.{templates.NAME_INPUT}": [namecheck.taken_words(slug)]})
    try:
        with transaction.atomic():
            _quota_check(actor, team)
            run = ProvisioningRun.objects.create(
                template=definition.name, template_version=definition.version, inputs=values, owner=team,
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                idempotency_key=idempotency_key, request_hash=fingerprint, service_slug=slug,
                host=settings.SLIPWAY_REPO_HOST,
            )
            RunStep.objects.bulk_create([
                RunStep(run=run, position=position, action=action, params=params)
                for position, (action, params) in enumerate(_steps_for(definition), start=1)
            ])
            audit_record(actor=actor, action="run.create", obj=run,
                         changes={"template": definition.name, "owner": team.slug, "service": slug})
            transaction.on_commit(lambda: enqueue(run.pk))
    except IntegrityError:
        if idempotency_key and getattr(actor, "is_authenticated", False):
            existing = ProvisioningRun.objects.filter(requested_by=actor, idempotency_key=idempotency_key).first()
            if existing is not None:
                if existing.request_hash != fingerprint:
                    raise Conflict("This Idempotency-Key was used for a different request.",
                                   {"Idempotency-Key": ["already used with a different body"]}) from None
                return existing, False
        raise Conflict(f"Another run is creating '{slug}' right now.",
                       {f"inputs.{templates.NAME_INPUT}": ["another run is creating a service with this name"]}
                       ) from None
    return run, True


def run_retry(*, actor: Any, run: ProvisioningRun) -> ProvisioningRun:
    """Resume a failed run from its failed step (succeeded steps are kept)."""
    with transaction.atomic():
        updated = ProvisioningRun.objects.filter(pk=run.pk, state=State.FAILED).update(
            state=State.QUEUED, error="", finished_at=None, not_before=None, lease_expires_at=None,
            updated_at=timezone.now())
        if updated != 1:
            raise Conflict(f"Only a failed run can be retried; this one is {run.state}.", {"state": [run.state]})
        run.steps.filter(state__in=[RunStep.State.FAILED, RunStep.State.CANCELLED]).update(
            state=RunStep.State.PENDING, attempts=0)
        audit_record(actor=actor, action="run.retry", obj=run)
        transaction.on_commit(lambda: enqueue(run.pk))
    run.refresh_from_db()
    return run


def run_cancel(*, actor: Any, run: ProvisioningRun) -> ProvisioningRun:
    """Stop a queued run now, or a running one between steps."""
    with transaction.atomic():
        now = timezone.now()
        if ProvisioningRun.objects.filter(pk=run.pk, state=State.QUEUED).update(
                state=State.CANCELLED, cancel_requested=True, finished_at=now, error="Cancelled on request.",
                updated_at=now):
            run.steps.filter(state=RunStep.State.PENDING).update(state=RunStep.State.CANCELLED)
        elif not ProvisioningRun.objects.filter(pk=run.pk, state=State.RUNNING).update(cancel_requested=True,
                                                                                        updated_at=now):
            raise Conflict(f"Only a queued or running run can be cancelled; this one is {run.state}.",
                           {"state": [run.state]})
        audit_record(actor=actor, action="run.cancel", obj=run)
    run.refresh_from_db()
    return run


def runs_to_sweep() -> QuerySet[ProvisioningRun]:
    """Runs a worker should pick up: queued and due, or running with an expired lease."""
    now = timezone.now()
    # A run queued moments ago is still on its way through the broker: leave it a grace period.
    grace = now - datetime.timedelta(seconds=settings.SLIPWAY_SWEEP_SECONDS)
    due = ProvisioningRun.objects.filter(state=State.QUEUED, cancel_requested=False, updated_at__lt=grace).exclude(
        not_before__gt=now)
    lost = ProvisioningRun.objects.filter(state=State.RUNNING, lease_expires_at__lt=now)
    return (due | lost).order_by("created_at")


def run_list() -> QuerySet[ProvisioningRun]:
    """Runs with their owner team and requester (one query per page)."""
    return ProvisioningRun.objects.select_related("owner", "requested_by")


def run_detail(run_id: Any) -> ProvisioningRun:
    """One run with its owner, requester and steps (two queries), or ProvisioningRun.DoesNotExist."""
    return run_list().prefetch_related("steps").get(pk=run_id)


def service_name_problem(slug: str) -> str | None:
    """Why a new service cannot take this name now (the same rules run_create enforces), or None."""
    if Service.objects.filter(slug=slug).exists():
        return "a service with this name exists"
    if ProvisioningRun.objects.filter(service_slug=slug, state__in=ProvisioningRun.ACTIVE_STATES).exists():
        return "another run is creating a service with this name"
    return None


def run_preview(*, template: str, owner: str, inputs: Any) -> dict[str, Any]:
    """Validate and render a run's files without side effects (the API's and the wizard's preview)."""
    definition = templates.template_get(template)
    team = Team.objects.filter(slug=str(owner).lower()).first()
    if team is None:
        raise InvalidInput.field("owner", f"no team '{owner}'")
    values = templates.inputs_validate(definition, inputs)
    files = templates.scaffold_render(definition, values,
                                        portal=templates.portal_values(
                                            definition, owner=team.slug, team=team,
                                            service_name=str(values.get(templates.NAME_INPUT, ""))))
    return {"template": definition.name, "version": definition.version, "tree": sorted(files),
            "files": [{"path": path, "content": files[path]} for path in sorted(files)]}


class RunFilter(django_filters.FilterSet):
    """The runs list's filters, held to formats as the catalog's are (catalog/search.py): a malformed
    value is a 400 naming the parameter; a well-formed one no run has answers an empty list."""

    state = django_filters.ChoiceFilter(choices=ProvisioningRun.State.choices)
    template = django_filters.CharFilter(validators=[search.text_format(100, "a template name")],
                                         help_text="A template's name." + search.UNKNOWN_IS_EMPTY)
    owner = django_filters.CharFilter(field_name="owner__slug", lookup_expr="iexact", validators=[search.TEAM_SLUG],
                                      help_text="The owner team's slug." + search.UNKNOWN_IS_EMPTY)
    requested_by = django_filters.CharFilter(
        field_name="requested_by__username", lookup_expr="iexact", validators=[search.text_format(150, "a username")],
        help_text="Who asked for the run (a username)." + search.UNKNOWN_IS_EMPTY)
    # A strict choice: django-filter's BooleanFilter quietly ignores a value it cannot read (?mine=maybe).
    mine = django_filters.ChoiceFilter(choices=search.STRICT_BOOLEAN, method="filter_mine",
                                       error_messages={"invalid_choice": "true or false"},
                                       help_text="true: only runs I requested.")

    class Meta:
        model = ProvisioningRun
        fields: list[str] = []

    def filter_mine(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(requested_by=self.request.user) if value == "true" else queryset
