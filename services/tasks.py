"""Celery tasks: thin wrappers over the service layer."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from services.models import Heartbeat

logger = logging.getLogger(__name__)


@shared_task(name="slipway.worker_heartbeat", acks_late=True, ignore_result=True)
def worker_heartbeat() -> str:
    """Record that a worker is alive and consuming (shown by /readyz)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name="worker", defaults={"seen_at": now})
    logger.info("worker.heartbeat", extra={"at": now.isoformat()})
    return now.isoformat()
