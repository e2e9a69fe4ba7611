"""The demo organisation as data: its people, teams, domains, systems and services (loaded by demo.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

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
