"""The dry run of registering a repository: asked from a page or the API, answered by a worker (a host
read never happens inside a web request), kept for an hour in the cache every process shares."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import current_app
from django.core.cache import caches

from services.catalog.sync.locations import location_from_url, location_plan
from services.errors import InvalidInput
from services.hosts.base import HostError
from services.models import Team

logger = logging.getLogger(__name__)

PLAN_TASK = "slipway.plan_location"
CACHE_ALIAS = "counters"  # shared by every process, the workers included
PLAN_SECONDS = 3600
MOST_PLANNED_DOCUMENTS = 500  # documents a plan lists (the counts cover them all)


def _key(plan_id: str) -> str:
    return f"location-plan:{plan_id}"


def plan_start(*, url: str, team: Team | None, actor: Any) -> dict[str, Any]:
    """Check the URL now (a bad one is a 400 naming the field), then ask a worker for the dry run."""
    values = location_from_url(url)
    plan = {"id": uuid.uuid4().hex, "state": "checking", "url": url.strip(), "team": team.slug if team else None,
            "requested_by": getattr(actor, "pk", None), "location": values}
    caches[CACHE_ALIAS].set(_key(plan["id"]), plan, PLAN_SECONDS)
    try:
        current_app.tasks[PLAN_TASK].apply_async((plan["id"],))
    except Exception:  # noqa: BLE001 - a broker outage: say so rather than poll forever
        logger.warning("location.plan_enqueue_failed", exc_info=True)
        plan.update(state="failed", error="the workers cannot be reached right now; try again in a minute")
        caches[CACHE_ALIAS].set(_key(plan["id"]), plan, PLAN_SECONDS)
    return plan


def plan_get(plan_id: str) -> dict[str, Any] | None:
    if not isinstance(plan_id, str) or len(plan_id) != 32 or not plan_id.isalnum():
        return None
    return caches[CACHE_ALIAS].get(_key(plan_id))


def plan_run(plan_id: str) -> dict[str, Any] | None:
    """The worker's half: read the repository, plan, keep the answer."""
    plan = plan_get(plan_id)
    if plan is None or plan["state"] != "checking":
        return plan
    team = Team.objects.filter(slug=plan["team"]).first() if plan["team"] else None
    try:
        result = location_plan(url=plan["url"], team=team)
    except (HostError, InvalidInput) as error:
        plan.update(state="failed", error=str(error))
    else:
        report = result.report
        plan.update(
            state="failed" if result.error else "ready", error=result.error,
            counts=report.counts(),
            documents=[{"file": r.file, "index": r.index, "kind": r.kind, "name": r.name, "outcome": r.outcome,
                        "reasons": r.reasons, "notes": r.notes, "changes": r.changes}
                       for r in report.documents[:MOST_PLANNED_DOCUMENTS]],
            file_errors=report.file_errors[:MOST_PLANNED_DOCUMENTS],
            sources=[{"path": s.path, "state": s.state, "named_by": s.named_by} for s in result.sources],
            declared={"teams": report.declared_teams, "users": report.declared_users},
        )
    caches[CACHE_ALIAS].set(_key(plan_id), plan, PLAN_SECONDS)
    return plan
