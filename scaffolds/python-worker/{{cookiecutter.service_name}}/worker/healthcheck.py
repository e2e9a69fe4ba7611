"""Container health probe: `python -m worker.healthcheck` exits 0 while the heartbeat is fresh.

The worker touches its heartbeat file on every turn of its loop; a stale or missing file means the
loop is stuck (or a single job runs longer than the allowed age: raise HEARTBEAT_MAX_AGE then).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from worker.config import Settings


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the last heartbeat, or None when there has been none."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def is_healthy(path: Path, max_age: float) -> bool:
    age = heartbeat_age(path)
    return age is not None and age <= max_age


def main() -> int:
    settings = Settings.from_env()
    default_max_age = 60 + 3 * settings.poll_interval
    max_age = float(os.environ.get("HEARTBEAT_MAX_AGE", default_max_age))
    return 0 if is_healthy(settings.heartbeat_file, max_age) else 1


if __name__ == "__main__":
    sys.exit(main())
