"""Health endpoint for load balancers, Kubernetes probes and the container HEALTHCHECK."""

from __future__ import annotations

from flask import Blueprint

from app.config import SERVICE_NAME

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers HTTP. It checks no dependency, so a database outage does not
    get every instance restarted; add a /readyz for dependencies when the service has some."""
    return {"status": "ok", "service": SERVICE_NAME}
