"""A small, realistic demo organisation for trying the portal, built through the service layer.

Everything is written with the functions of services/catalog/writes.py, so each object has its audit
event. Loading is idempotent: what exists already (by slug, username, or service and name) is left
as it is, so a second load writes nothing and an edited demo object is not reverted."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from services.catalog import people, writes
from services.catalog.demo_data import (
    DASHBOARDS,
    DOMAINS,
    EMAIL_DOMAIN,
    LOGS,
    ON_CALL,
    ORGANISATION,
    PEOPLE,
    REPOSITORY_HOST,
    SERVICES,
    SYSTEMS,
    TEAMS,
    TIER_MEANING,
    WEB_DOMAIN,
    ServiceSpec,
)
from services.models import Domain, Environment, Membership, Runbook, Service, System, Team

User = get_user_model()


def catalog_is_empty() -> bool:
    """True when the catalog has no services (what `load_demo --if-empty` checks)."""
    return not Service.objects.exists()


@transaction.atomic
def demo_load(*, actor: Any = None) -> dict[str, int]:
    """Load the demo organisation, creating only what is missing; returns how many of each were created."""
    created = {
        kind: 0
        for kind in (
            "people",
            "teams",
            "memberships",
            "domains",
            "systems",
            "services",
            "environments",
            "runbooks",
        )
    }
    users: dict[str, Any] = {}
    for username, display_name in PEOPLE:
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            user = people.person_upsert(
                actor=actor, username=username, display_name=display_name, email=f"{username}@{EMAIL_DOMAIN}"
            )
            created["people"] += 1
        users[username] = user

    for spec in TEAMS:
        team = Team.objects.filter(slug=spec.slug).first()
        if team is None:
            team = people.team_create(
                actor=actor,
                slug=spec.slug,
                name=spec.name,
                parent=spec.parent,
                description=spec.description,
                email=f"{spec.slug}@{EMAIL_DOMAIN}",
                chat_channel=f"#team-{spec.slug}",
                on_call=f"{ON_CALL}/{spec.slug}",
                github_team_slug=spec.slug,
            )
            created["teams"] += 1
        roles = [(spec.lead, Membership.Role.LEAD)] + [
            (name, Membership.Role.MEMBER) for name in spec.members
        ]
        for username, role in roles:
            if not Membership.objects.filter(team=team, user=users[username]).exists():
                people.membership_set(actor=actor, team=team, user=users[username], role=role)
                created["memberships"] += 1

    for slug, name, description, owner in DOMAINS:
        if not Domain.objects.filter(slug=slug).exists():
            writes.domain_upsert(actor=actor, slug=slug, name=name, description=description, owner=owner)
            created["domains"] += 1

    for slug, name, description, domain, owner in SYSTEMS:
        if not System.objects.filter(slug=slug).exists():
            writes.system_upsert(
                actor=actor, slug=slug, name=name, description=description, domain=domain, owner=owner
            )
            created["systems"] += 1

    today = timezone.now().date()
    for position, spec in enumerate(SERVICES):
        service = Service.objects.filter(slug=spec.slug).first()
        if service is None:
            service = writes.service_create(
                actor=actor,
                slug=spec.slug,
                owner=spec.owner,
                name=spec.name,
                description=spec.description,
                repository=f"{REPOSITORY_HOST}/{ORGANISATION}/{spec.slug}",
                system=spec.system,
                depends_on=list(spec.depends_on),
                type=spec.type,
                lifecycle=spec.lifecycle,
                tier=spec.tier,
                language=spec.language,
                tags=list(spec.tags),
                links=_links(spec),
                annotations={"github.com/project-slug": f"{ORGANISATION}/{spec.slug}"},
            )
            created["services"] += 1
        for name, values in _environments(spec):
            if not Environment.objects.filter(service=service, name=name).exists():
                writes.environment_create(actor=actor, service=service, name=name, **values)
                created["environments"] += 1
        if spec.runbook and not Runbook.objects.filter(service=service, slug="on-call").exists():
            # Spread review dates over the last year, so some runbooks show as due for review.
            writes.runbook_create(
                actor=actor,
                service=service,
                slug="on-call",
                title=f"{spec.name} on-call runbook",
                body=_runbook_body(spec),
                last_reviewed=today - datetime.timedelta(days=12 + 23 * position),
            )
            created["runbooks"] += 1
    return created


def _owner_slug(spec: ServiceSpec) -> str:
    return spec.owner.removeprefix("user:")


def _links(spec: ServiceSpec) -> list[dict[str, str]]:
    links = [
        {"title": "Dashboard", "url": f"{DASHBOARDS}/{spec.slug}", "type": "dashboard"},
        {"title": "Logs", "url": f"{LOGS}{spec.slug}", "type": "logs"},
    ]
    if spec.url:
        links.insert(0, {"title": "Website", "url": spec.url, "type": "website"})
    if spec.type == "library":
        links.append(
            {"title": "Package", "url": f"https://pypi.{WEB_DOMAIN}/project/{spec.slug}", "type": "package"}
        )
    return links


def _environments(spec: ServiceSpec) -> list[tuple[str, dict[str, Any]]]:
    """2-3 environments: staging and a protected production (a pre-release and a release for a library)."""
    reviewers = [_owner_slug(spec)]
    if spec.type == "library":
        return [
            ("pre-release", {"branch_policy": "main"}),
            ("release", {"required_reviewers": reviewers, "wait_timer": 0, "branch_policy": "main"}),
        ]
    host = spec.url.removeprefix("https://") if spec.url else f"{spec.slug}.{WEB_DOMAIN}"
    is_worker = spec.type == "worker"
    environments = []
    if spec.tier == 1:
        environments.append(("development", {"url": f"https://{spec.slug}.dev.{WEB_DOMAIN}"}))
    environments.append(
        (
            "staging",
            {
                "url": "" if is_worker else f"https://{spec.slug}.staging.{WEB_DOMAIN}",
                "branch_policy": "main",
            },
        )
    )
    environments.append(
        (
            "production",
            {
                "url": "" if is_worker else f"https://{host}",
                "required_reviewers": reviewers,
                "wait_timer": {1: 15, 2: 10}.get(spec.tier, 5),
                "branch_policy": "main",
            },
        )
    )
    return environments


def _runbook_body(spec: ServiceSpec) -> str:
    """A runbook in Markdown: symptoms, dashboards, first steps, escalation."""
    if spec.owner.startswith("user:"):
        team_line = f"- Owner: `{spec.owner}`; no on-call rota."
        escalation = "Message the owner; outside working hours, wait for the next working day."
    else:
        team_line = (
            f"- Owner: **{spec.owner}** (`#team-{spec.owner}`, [on-call schedule]({ON_CALL}/{spec.owner}))"
        )
        escalation = (
            f"Page the **{spec.owner}** [on-call]({ON_CALL}/{spec.owner}). If nobody acknowledges within "
            "15 minutes, the page escalates to the parent team's on-call; for a customer-visible tier 1 "
            "incident, also open an incident in `#incidents`."
        )
    symptoms = "\n".join(f"- {symptom}" for symptom in spec.symptoms) or "- The service's alerts fire."
    if spec.type == "worker":
        steps = (
            "1. Check the queue depth and the age of the oldest message on the dashboard.\n"
            "2. Check the worker pods: `kubectl -n {slug} get pods` — restarts or `OOMKilled`?\n"
            "3. Read the last errors: `kubectl -n {slug} logs deploy/{slug} --since=15m | grep -i error`.\n"
            "4. If the workers are healthy but slow, scale out: "
            "`kubectl -n {slug} scale deploy/{slug} --replicas=6`.\n"
            "5. Poison message? Move it to the dead-letter queue with `make dlq-move ID=<message id>`, "
            "never delete it."
        )
    elif spec.type == "website":
        steps = (
            "1. Open the site in a private window; compare with the synthetic checks on the dashboard.\n"
            "2. Was there a deploy in the last hour? Check the `production` environment's deployments "
            "and roll back with `make rollback ENV=production` if the timing matches.\n"
            "3. Check the API the page calls (see *Dependencies* on the service page) before digging "
            "into the front end.\n"
            "4. Purge the CDN cache only if stale assets are the cause: `make cdn-purge PATH=/*`."
        )
    else:
        steps = (
            "1. Check the error rate and latency panels; find the failing endpoint.\n"
            "2. Was there a deploy in the last hour? Roll back first, investigate later: "
            "`make rollback ENV=production`.\n"
            "3. Check the dependencies listed on the service page: their dashboards and status.\n"
            "4. Check the pods: `kubectl -n {slug} get pods` and "
            "`kubectl -n {slug} logs deploy/{slug} --since=15m | grep -i error`.\n"
            "5. Saturated? Scale out: `kubectl -n {slug} scale deploy/{slug} --replicas=<n+2>` and watch p99."
        )
    return f"""# {spec.name} on-call runbook

{spec.description}

- Tier: {spec.tier} ({TIER_MEANING[spec.tier]})
{team_line}
- Repository: <https://{REPOSITORY_HOST}/{ORGANISATION}/{spec.slug}>

## Symptoms

{symptoms}

## Dashboards

| What | Where |
| --- | --- |
| Overview: traffic, errors, latency, saturation | [Grafana]({DASHBOARDS}/{spec.slug}) |
| Logs of the last hour | [Log search]({LOGS}{spec.slug}) |
| Firing and silenced alerts | [Alertmanager](https://alerts.example.org/#/alerts?filter=%7Bservice%3D%22{spec.slug}%22%7D) |

## First steps

{steps.format(slug=spec.slug)}

## Escalation

{escalation}

## After the incident

Write the timeline in the incident channel while it is fresh, and update this runbook with what
was missing from it.
"""
