"""Health endpoints: /healthz (the process answers) and /readyz (database and broker reachable)."""

from __future__ import annotations

import datetime

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from services.models import Heartbeat


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return f"error: {type(error).__name__}: {error}"
    return "ok"


def _check_broker() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return f"error: {type(error).__name__}: {error}"
    return "ok"


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer; 503 naming the failing part otherwise."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ok = all(value == "ok" for value in checks.values())
    worker = None
    if checks["database"] == "ok":
        beat = Heartbeat.objects.filter(name="worker").first()
        if beat:
            age = (timezone.now() - beat.seen_at).total_seconds()
            worker = {"last_seen": beat.seen_at.isoformat(), "seconds_ago": round(age, 1),
                      "alive": age < datetime.timedelta(minutes=2).total_seconds()}
    body = {"status": "ok" if ok else "unavailable", "checks": checks, "worker": worker}
    return JsonResponse(body, status=200 if ok else 503)
