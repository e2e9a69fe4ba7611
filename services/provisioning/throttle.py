"""Space writes per credential across every worker process, through the database."""

from __future__ import annotations

import datetime
import hashlib
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from services.models import HostThrottle


def credential_key(*parts: str) -> str:
    """A stable, non-secret key for a credential."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def throttle_wait(key: str, spacing: float) -> float:
    """Reserve the next write slot for `key` and sleep until it; answers the seconds waited.

    The reservation is one short locked update, so processes queue fairly whatever the database."""
    if spacing <= 0:
        return 0.0
    for _ in range(3):
        try:
            with transaction.atomic():
                now = timezone.now()
                row = HostThrottle.objects.select_for_update().filter(key=key).first()
                if row is None:
                    HostThrottle.objects.create(key=key, next_at=now + datetime.timedelta(seconds=spacing))
                    return 0.0
                start = max(now, row.next_at)
                row.next_at = start + datetime.timedelta(seconds=spacing)
                row.save(update_fields=["next_at"])
            break
        except IntegrityError:
            continue  # another process created the row first: take a slot after it
    else:
        return 0.0
    wait = (start - now).total_seconds()
    if wait > 0:
        time.sleep(wait)
    return max(wait, 0.0)
