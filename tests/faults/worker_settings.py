"""Settings of a worker started by the database fault tests: tests.settings with a short SQLite
lock timeout, so a lock held by another process surfaces as 'database is locked' in a second."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], "timeout": 1}
