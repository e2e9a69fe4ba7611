"""A small, realistic demo organisation for trying the portal, built through the service layer.

Everything is written with the functions of services/catalog.py, so each object has its audit
event. Loading is idempotent: what exists already (by slug, username, or service and name) is left
as it is, so a second load writes nothing and an edited demo object is not reverted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from services import catalog
from services.models import Domain, Environment, Membership, Runbook, Service, System, Team

User = get_user_model()

ORGANISATION = "acme-demo"
REPOSITORY_HOST = "github.com"
EMAIL_DOMAIN = "acme.example.org"
WEB_DOMAIN = "acme.example.org"
DASHBOARDS = "https://grafana.example.org/d"
LOGS = "https://logs.example.org/app/discover#/?query=service:"
ON_CALL = "https://oncall.example.org/schedules"
TIER_MEANING = {1: "customer-facing, page at any hour", 2: "page in working hours", 3: "best effort"}


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str
    description: str
    parent: str | None
    lead: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSpec:
    slug: str
    name: str
    description: str
    owner: str
    type: str
    lifecycle: str
    tier: int
    language: str
    system: str
    tags: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    url: str = ""
    symptoms: tuple[str, ...] = ()
    runbook: bool = True


PEOPLE: tuple[tuple[str, str], ...] = (
    ("nadia.haddad", "Nadia Haddad"),
    ("tomas.lindqvist", "Tomas Lindqvist"),
    ("priya.raman", "Priya Raman"),
    ("kwame.mensah", "Kwame Mensah"),
    ("lucia.ferreira", "Lucía Ferreira"),
    ("hiroshi.tanaka", "Hiroshi Tanaka"),
    ("chloe.dubois", "Chloé Dubois"),
    ("ravi.shah", "Ravi Shah"),
    ("oskar.nowak", "Oskar Nowak"),
    ("fatima.zahra", "Fatima Zahra"),
    ("ben.carter", "Ben Carter"),
    ("mei.lin", "Mei Lin"),
    ("diego.alvarez", "Diego Álvarez"),
    ("sara.cohen", "Sara Cohen"),
    ("ifeoma.eze", "Ifeoma Eze"),
    ("jonas.weber", "Jonas Weber"),
    ("aisha.bello", "Aisha Bello"),
    ("liam.obrien", "Liam O'Brien"),
    ("yuki.sato", "Yuki Sato"),
    ("marco.rossi", "Marco Rossi"),
    ("emma.johansson", "Emma Johansson"),
    ("hannah.kim", "Hannah Kim"),
    ("arjun.nair", "Arjun Nair"),
    ("zoe.martin", "Zoé Martin"),
    ("samuel.adeyemi", "Samuel Adeyemi"),
)

# Parents come before their children: a team's parent must exist when it is created.
TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "engineering",
        "Engineering",
        "All of product engineering; the last step of every escalation.",
        None,
        "nadia.haddad",
        ("tomas.lindqvist", "kwame.mensah", "hiroshi.tanaka", "chloe.dubois", "ravi.shah"),
    ),
    TeamSpec(
        "platform",
        "Platform",
        "Runtime, networking and the paved road every service is deployed on.",
        "engineering",
        "tomas.lindqvist",
        ("oskar.nowak", "fatima.zahra"),
    ),
    TeamSpec(
        "developer-experience",
        "Developer Experience",
        "CI, build tooling, templates and documentation for engineers.",
        "platform",
        "priya.raman",
        ("ben.carter", "mei.lin"),
    ),
    TeamSpec(
        "payments",
        "Payments",
        "Card and bank payments, refunds, the ledger and payouts.",
        "engineering",
        "kwame.mensah",
        ("diego.alvarez", "sara.cohen", "ifeoma.eze", "samuel.adeyemi"),
    ),
    TeamSpec(
        "checkout",
        "Checkout",
        "The cart and checkout flow, from basket to order confirmation.",
        "payments",
        "lucia.ferreira",
        ("jonas.weber", "aisha.bello", "ifeoma.eze"),
    ),
    TeamSpec(
        "identity",
        "Identity",
        "Sign-up, sign-in, sessions and permissions.",
        "engineering",
        "hiroshi.tanaka",
        ("liam.obrien", "yuki.sato"),
    ),
    TeamSpec(
        "growth",
        "Growth",
        "Acquisition, activation and retention: notifications, experiments, referrals.",
        "engineering",
        "chloe.dubois",
        ("marco.rossi", "emma.johansson", "hannah.kim"),
    ),
    TeamSpec(
        "data",
        "Data",
        "Event collection, the warehouse and the models built on it.",
        "engineering",
        "ravi.shah",
        ("arjun.nair", "zoe.martin", "samuel.adeyemi"),
    ),
)

DOMAINS: tuple[tuple[str, str, str, str], ...] = (
    ("commerce", "Commerce", "Everything between a customer's basket and our bank account.", "payments"),
    (
        "core-platform",
        "Core Platform",
        "Shared foundations: identity, runtime and developer tooling.",
        "platform",
    ),
    ("insights", "Insights", "Data collection, analytics and machine learning.", "data"),
)

SYSTEMS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "payments-platform",
        "Payments Platform",
        "Taking money, keeping books, paying out.",
        "commerce",
        "payments",
    ),
    ("checkout-experience", "Checkout Experience", "Cart and checkout, web and API.", "commerce", "checkout"),
    ("growth-engine", "Growth Engine", "Notifications, experiments and referrals.", "commerce", "growth"),
    (
        "identity-platform",
        "Identity Platform",
        "Accounts, sign-in and sessions.",
        "core-platform",
        "identity",
    ),
    (
        "developer-platform",
        "Developer Platform",
        "The paved road: gateway, CI and docs.",
        "core-platform",
        "platform",
    ),
    ("data-platform", "Data Platform", "Events, warehouse and recommendations.", "insights", "data"),
)

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "payments-api",
        "Payments API",
        "Authorises, captures and refunds card and bank payments.",
        "payments",
        "service",
        "production",
        1,
        "Go",
        "payments-platform",
        ("payments", "pci", "grpc"),
        depends_on=("ledger", "fraud-scoring", "identity-api"),
        symptoms=(
            "Payment authorisation success rate below 97 % for 5 minutes",
            "p99 latency of `POST /v1/payments` above 800 ms",
            "Acquirer timeouts in the logs (`acquirer.timeout`)",
        ),
    ),
    ServiceSpec(
        "ledger",
        "Ledger",
        "Double-entry ledger: the source of truth for every money movement.",
        "payments",
        "service",
        "production",
        1,
        "Java",
        "payments-platform",
        ("payments", "pci", "postgres"),
        symptoms=(
            "Nightly reconciliation reports a non-zero balance difference",
            "Journal writes failing with serialization errors",
            "Replication lag of the ledger database above 30 s",
        ),
    ),
    ServiceSpec(
        "fraud-scoring",
        "Fraud Scoring",
        "Scores each payment attempt for fraud risk in real time.",
        "payments",
        "service",
        "production",
        1,
        "Python",
        "payments-platform",
        ("payments", "ml"),
        depends_on=("events-pipeline",),
        symptoms=(
            "Scoring latency above 150 ms at p95",
            "Share of declined-for-risk payments doubles within an hour",
            "Model file failed to load after a deploy",
        ),
    ),
    ServiceSpec(
        "payment-webhooks",
        "Payment Webhooks",
        "Receives acquirer and bank webhooks and updates payments.",
        "payments",
        "worker",
        "production",
        2,
        "Go",
        "payments-platform",
        ("payments", "webhooks", "queue"),
        depends_on=("payments-api",),
        symptoms=("Webhook queue older than 10 minutes", "Dead-letter queue growing"),
    ),
    ServiceSpec(
        "legacy-billing",
        "Legacy Billing",
        "The old invoicing monolith, replaced by the ledger; "
        "kept read-only until the last invoices are migrated.",
        "payments",
        "service",
        "deprecated",
        2,
        "PHP",
        "payments-platform",
        ("payments", "legacy", "mysql"),
        depends_on=("ledger",),
        symptoms=("Invoice PDF generation failing", "Cron `billing:export` did not run last night"),
    ),
    ServiceSpec(
        "checkout-web",
        "Checkout Web",
        "The basket and checkout pages of the shop.",
        "checkout",
        "website",
        "production",
        1,
        "TypeScript",
        "checkout-experience",
        ("checkout", "frontend", "nextjs"),
        depends_on=("cart-api", "payments-api", "auth-ui"),
        url=f"https://checkout.{WEB_DOMAIN}",
        symptoms=(
            "Checkout conversion drops by a third against the same hour last week",
            "JavaScript error rate above 2 % of sessions",
            "Core Web Vitals LCP above 4 s",
        ),
    ),
    ServiceSpec(
        "cart-api",
        "Cart API",
        "Baskets, prices, discounts and stock reservations.",
        "checkout",
        "service",
        "production",
        1,
        "Kotlin",
        "checkout-experience",
        ("checkout", "redis"),
        depends_on=("identity-api", "experiments"),
        symptoms=(
            "5xx rate of the cart endpoints above 1 %",
            "Redis memory above 85 %",
            "Stock reservations not released (reservation backlog growing)",
        ),
    ),
    ServiceSpec(
        "identity-api",
        "Identity API",
        "Accounts, credentials, sessions and tokens for every client.",
        "identity",
        "service",
        "production",
        1,
        "Go",
        "identity-platform",
        ("identity", "oauth", "security"),
        symptoms=(
            "Sign-in success rate below 95 %",
            "Token issuance p99 above 300 ms",
            "Spike of `invalid_grant` errors from one client",
        ),
    ),
    ServiceSpec(
        "auth-ui",
        "Sign-in Pages",
        "Sign-in, sign-up and password reset pages.",
        "identity",
        "website",
        "production",
        1,
        "TypeScript",
        "identity-platform",
        ("identity", "frontend"),
        depends_on=("identity-api",),
        url=f"https://login.{WEB_DOMAIN}",
        symptoms=("Sign-in page error rate above 1 %", "CAPTCHA provider unreachable"),
    ),
    ServiceSpec(
        "authz-client",
        "Authorization Client",
        "Library checking permissions against the identity API.",
        "identity",
        "library",
        "production",
        2,
        "Python",
        "identity-platform",
        ("identity", "sdk"),
        depends_on=("identity-api",),
        runbook=False,
    ),
    ServiceSpec(
        "notifications",
        "Notifications",
        "Sends e-mail, push and SMS messages from templates.",
        "growth",
        "worker",
        "production",
        2,
        "Python",
        "growth-engine",
        ("growth", "email", "celery"),
        depends_on=("identity-api",),
        symptoms=(
            "Send queue older than 15 minutes",
            "Bounce rate above 5 %",
            "Provider API answering 429 Too Many Requests",
        ),
    ),
    ServiceSpec(
        "experiments",
        "Experiments",
        "Feature flags and A/B test assignment.",
        "growth",
        "service",
        "experimental",
        3,
        "Python",
        "growth-engine",
        ("growth", "feature-flags"),
        depends_on=("events-pipeline",),
        symptoms=("Flag evaluation falling back to defaults", "Assignment events missing in the warehouse"),
    ),
    ServiceSpec(
        "marketing-site",
        "Marketing Site",
        "The public website: product pages, pricing and blog.",
        "growth",
        "website",
        "production",
        3,
        "TypeScript",
        "growth-engine",
        ("growth", "frontend", "cms"),
        url=f"https://www.{WEB_DOMAIN}",
        symptoms=("Home page not answering 200", "CMS webhook builds failing"),
    ),
    ServiceSpec(
        "referrals",
        "Referrals",
        "Referral codes and rewards for inviting friends.",
        "growth",
        "service",
        "experimental",
        3,
        "Ruby",
        "growth-engine",
        ("growth", "rails"),
        depends_on=("identity-api", "notifications", "ledger"),
        symptoms=("Rewards not credited within an hour of a referred purchase",),
    ),
    ServiceSpec(
        "sms-gateway",
        "SMS Gateway",
        "The old SMS sender; notifications sends SMS itself now.",
        "growth",
        "worker",
        "deprecated",
        3,
        "Java",
        "growth-engine",
        ("growth", "legacy", "sms"),
        symptoms=("SMS delivery reports missing",),
    ),
    ServiceSpec(
        "events-pipeline",
        "Events Pipeline",
        "Collects product events and streams them to the warehouse.",
        "data",
        "worker",
        "production",
        2,
        "Scala",
        "data-platform",
        ("data", "kafka", "streaming"),
        symptoms=(
            "Consumer lag above 100,000 events",
            "Events rejected by schema validation",
            "Warehouse tables more than an hour behind",
        ),
    ),
    ServiceSpec(
        "warehouse-loader",
        "Warehouse Loader",
        "Batch loads of operational databases into the warehouse.",
        "data",
        "worker",
        "production",
        2,
        "Python",
        "data-platform",
        ("data", "airflow", "batch"),
        depends_on=("events-pipeline", "ledger"),
        symptoms=("A daily DAG run failed or is still running after 06:00 UTC",),
    ),
    ServiceSpec(
        "recommendations",
        "Recommendations",
        "Product recommendations for the shop and e-mails.",
        "data",
        "service",
        "experimental",
        3,
        "Python",
        "data-platform",
        ("data", "ml"),
        depends_on=("events-pipeline",),
        symptoms=("Recommendation API answering the popular-items fallback only",),
    ),
    ServiceSpec(
        "api-gateway",
        "API Gateway",
        "The edge of every public API: routing, TLS, rate limits.",
        "platform",
        "service",
        "production",
        1,
        "Go",
        "developer-platform",
        ("platform", "edge", "envoy"),
        depends_on=("identity-api",),
        url=f"https://api.{WEB_DOMAIN}",
        symptoms=(
            "Edge 5xx rate above 0.5 %",
            "TLS certificate expires in less than 14 days",
            "Rate limiter rejecting a first-party client",
        ),
    ),
    ServiceSpec(
        "observability-sdk",
        "Observability SDK",
        "Logging, metrics and tracing defaults for Python services.",
        "platform",
        "library",
        "production",
        2,
        "Python",
        "developer-platform",
        ("platform", "sdk", "opentelemetry"),
        runbook=False,
    ),
    ServiceSpec(
        "ci-runner-autoscaler",
        "CI Runner Autoscaler",
        "Scales self-hosted CI runners with the job queue.",
        "developer-experience",
        "worker",
        "production",
        2,
        "Go",
        "developer-platform",
        ("ci", "kubernetes"),
        symptoms=("CI jobs queued for more than 10 minutes", "Runner pods stuck in Pending"),
    ),
    ServiceSpec(
        "docs-site",
        "Engineering Docs",
        "The engineering handbook and generated API references.",
        "developer-experience",
        "website",
        "production",
        3,
        "TypeScript",
        "developer-platform",
        ("docs", "frontend"),
        url=f"https://docs.{WEB_DOMAIN}",
        symptoms=("Docs build failing on main", "Search index older than a day"),
    ),
    # Owned by one person, as Backstage allows: a side project that has not found a team yet.
    ServiceSpec(
        "release-notes-bot",
        "Release Notes Bot",
        "Drafts release notes from merged pull requests.",
        "user:mei.lin",
        "worker",
        "experimental",
        3,
        "Python",
        "developer-platform",
        ("ci", "bot"),
        runbook=False,
    ),
)


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
            user = catalog.person_upsert(
                actor=actor, username=username, display_name=display_name, email=f"{username}@{EMAIL_DOMAIN}"
            )
            created["people"] += 1
        users[username] = user

    for spec in TEAMS:
        team = Team.objects.filter(slug=spec.slug).first()
        if team is None:
            team = catalog.team_create(
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
                catalog.membership_set(actor=actor, team=team, user=users[username], role=role)
                created["memberships"] += 1

    for slug, name, description, owner in DOMAINS:
        if not Domain.objects.filter(slug=slug).exists():
            catalog.domain_upsert(actor=actor, slug=slug, name=name, description=description, owner=owner)
            created["domains"] += 1

    for slug, name, description, domain, owner in SYSTEMS:
        if not System.objects.filter(slug=slug).exists():
            catalog.system_upsert(
                actor=actor, slug=slug, name=name, description=description, domain=domain, owner=owner
            )
            created["systems"] += 1

    today = timezone.now().date()
    for position, spec in enumerate(SERVICES):
        service = Service.objects.filter(slug=spec.slug).first()
        if service is None:
            service = catalog.service_create(
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
                catalog.environment_create(actor=actor, service=service, name=name, **values)
                created["environments"] += 1
        if spec.runbook and not Runbook.objects.filter(service=service, slug="on-call").exists():
            # Spread review dates over the last year, so some runbooks show as due for review.
            catalog.runbook_create(
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
