"""Prometheus metrics at /metrics: the web processes' requests and database queries, and the scaffolder's
runs and steps counted from the database when Prometheus scrapes.

Requests and queries are counted where they happen, in each web process, by MetricsMiddleware (first
in MIDDLEWARE, so it sees every answer: throttled, cached, redirected, static). gunicorn runs several
worker processes and a scrape reaches one of them, so under gunicorn the counters are kept in
prometheus_client's multiprocess mode (files in PROMETHEUS_MULTIPROC_DIR, set up by
services/http/gunicorn_hooks.py) and a scrape adds up every process's files. Elsewhere (runserver,
tests) they are plain in-process counters.

Runs and steps are not counted as events in the Celery workers: workers have no HTTP server to scrape,
a task acknowledged late can run twice, and a restarted process would lose its counts. The database
already holds each run's and step's state, the same for every process, so a scrape asks it: two
grouped counts, whose answers are one row per state (runs) and per action and state (steps) however
many runs there are, plus the workers' heartbeat. The counts read the tables: measured, 40 ms on
PostgreSQL (90 ms on SQLite) for 20,000 runs of 9 steps, once per scrape (every 15-60 s) per web pod;
no request pays for them.

Access: `Authorization: Bearer <SLIPWAY_METRICS_TOKEN>`, or a signed-in staff user (a person looking).
Without a token configured the URL is a 404 to everyone else; with one, a wrong or missing token is
a 401. The answer is never cached (Cache-Control: no-store) and carries the portal's security headers.

prometheus_client was chosen over django-prometheus: the latter's middleware pair records a dozen
metrics per request labelled by view (and replaces the database backend to count queries); measured
here it cost 28-42 µs a request against 5-11 µs for this middleware (docs/deployment.md, Metrics).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from services.models import Heartbeat, ProvisioningRun, RunStep

# No `_created` series: they double the output, and multiprocess mode has none anyway.
disable_created_metrics()

# Metrics of this process. Under gunicorn (multiprocess mode) their values live in files, and what a
# scrape shows is read from the files of every process, not from this registry.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "slipway_http_requests", "HTTP requests answered by the web processes.",
    ["area", "method", "status"], registry=PROCESS_REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "slipway_http_request_duration_seconds", "Time to answer an HTTP request, in the web process.",
    ["area"], registry=PROCESS_REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
QUERIES = Counter(
    "slipway_db_queries", "Database queries sent while answering HTTP requests.", registry=PROCESS_REGISTRY,
)
QUERY_ERRORS = Counter(
    "slipway_db_query_errors", "Database queries that raised an error while answering HTTP requests.",
    registry=PROCESS_REGISTRY,
)
QUERY_SECONDS = Counter(
    "slipway_db_query_duration_seconds", "Time spent in database queries while answering HTTP requests.",
    registry=PROCESS_REGISTRY,
)

WEBHOOKS = Counter(
    "slipway_webhook_deliveries", "Webhook deliveries by outcome (accepted, ignored, duplicate, refused_*).",
    ["outcome"], registry=PROCESS_REGISTRY,
)
WEBHOOK_OUTCOMES = ("accepted", "ignored", "duplicate", "refused_not_configured", "refused_size",
                    "refused_unsigned", "refused_signature", "refused_payload")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Label values are a closed set, whatever clients send: a path is reported by its area only.
AREAS = (("/api/", "api"), ("/static/", "static"), ("/admin/", "admin"), ("/healthz", "health"),
         ("/readyz", "health"), ("/metrics", "metrics"), ("/webhooks/", "webhooks"))


def area_of(path: str) -> str:
    """The part of the portal a path belongs to: api, static, admin, health, metrics or pages."""
    for prefix, area in AREAS:
        if path.startswith(prefix):
            return area
    return "pages"


def _count_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception:
        QUERY_ERRORS.inc()
        raise
    finally:
        QUERIES.inc()
        QUERY_SECONDS.inc(time.perf_counter() - start)


class MetricsMiddleware:
    """Count every request by area, method and status, its duration, and the database queries it made."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        with connections["default"].execute_wrapper(_count_query):
            response = self.get_response(request)
        elapsed = time.perf_counter() - start
        key = (area_of(request.path), request.method if request.method in METHODS else "other", response.status_code)
        children = self._children.get(key)
        if children is None:  # .labels() takes a lock and builds a key: done once per combination
            children = (REQUESTS.labels(key[0], key[1], str(key[2])), REQUEST_SECONDS.labels(key[0]))
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
        return response


def multiprocess_mode() -> bool:
    """Whether counters are kept in files shared by the processes (gunicorn), not in this process."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _ThisProcess:
    """This process's metrics, for a scrape outside multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        return PROCESS_REGISTRY.collect()


class DatabaseCollector:
    """Runs by state, steps by action and state, and the workers' last heartbeat, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("slipway_database_up", "Whether the scrape could read the database (1) or not (0).")
        try:
            runs = dict(ProvisioningRun.objects.order_by().values_list("state").annotate(count=Count("pk")))
            steps = list(RunStep.objects.order_by().values_list("action", "state").annotate(count=Count("pk")))
            heartbeat = Heartbeat.objects.filter(name="worker").values_list("seen_at", flat=True).first()
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        run_family = GaugeMetricFamily("slipway_runs", "Provisioning runs by state.", labels=["state"])
        for state in ProvisioningRun.State.values:  # every state, zeros included: absent is not zero in PromQL
            run_family.add_metric([state], runs.get(state, 0))
        yield run_family
        step_family = GaugeMetricFamily("slipway_run_steps", "Steps of provisioning runs by action and state.",
                                        labels=["action", "state"])
        for action, state, count in sorted(steps):
            step_family.add_metric([action, state], count)
        yield step_family
        if heartbeat is not None:
            yield GaugeMetricFamily("slipway_worker_last_seen_timestamp_seconds",
                                    "When a Celery worker last recorded its heartbeat (Unix time).",
                                    value=heartbeat.timestamp())


def metrics_allowed(request: HttpRequest) -> bool | None:
    """True: serve. False: refuse (401). None: not configured for this client (404)."""
    token = settings.SLIPWAY_METRICS_TOKEN
    kind, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and kind.lower() == "bearer":
        return hmac.compare_digest(credential.strip().encode(), token.encode())
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    return False if token else None


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of every web process's counters and of the database's runs and steps."""
    allowed = metrics_allowed(request)
    if allowed is None:
        raise Http404("No metrics here.")
    if not allowed:
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    # The text format Prometheus asks for (OpenMetrics, or the classic one it has always read).
    encode, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encode(registry), content_type=content_type)
