"""Test settings: the project's settings, with a data directory and a Celery queue of the test run's own.

A worker process started by a test imports these too (DJANGO_SETTINGS_MODULE=tests.settings), and
finds the same data directory, queue and test database through the environment variables set here.
"""

from __future__ import annotations

import os
import tempfile
import uuid

if "SLIPWAY_TEST_DATA_DIR" not in os.environ:
    os.environ["SLIPWAY_TEST_DATA_DIR"] = tempfile.mkdtemp(prefix="slipway-test-")
    # Tasks of this run go to a queue no running portal listens to (the Redis broker is shared).
    os.environ["SLIPWAY_CELERY_QUEUE"] = f"slipway-test-{uuid.uuid4().hex[:8]}"
os.environ["SLIPWAY_DATA_DIR"] = os.environ["SLIPWAY_TEST_DATA_DIR"]

from config.settings import *  # noqa: E402,F403
from config.settings import DATA_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a worker process sees what the test wrote.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
if os.environ.get("SLIPWAY_WORKER_DB_NAME"):
    # Set for a worker process started by a test: use the test database the test run created.
    DATABASES["default"]["NAME"] = os.environ["SLIPWAY_WORKER_DB_NAME"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Throttling stays on (every request is counted), with limits only tests/test_throttling.py reaches: it
# lowers them with override_settings. The rest of the suite sends many requests from one address.
SLIPWAY_THROTTLE_TOKEN_RATE = "1000000/min"
SLIPWAY_THROTTLE_ANON_RATE = "1000000/min"
SLIPWAY_THROTTLE_BAD_TOKEN_RATE = "1000000/min"
SLIPWAY_LOGIN_FAILURE_RATE = "1000000/min"
SLIPWAY_LOGIN_ADDRESS_FAILURE_RATE = "1000000/min"

# Run limits per person and team (services/scaffolder/runs.py) are off, like the throttle's: many tests
# start runs as one person. tests/services/scaffolder/test_run_limits.py turns them on.
SLIPWAY_RUNS_ACTIVE_PER_PERSON = 0
SLIPWAY_RUNS_ACTIVE_PER_TEAM = 0
SLIPWAY_RUNS_PER_PERSON_PER_DAY = 0
SLIPWAY_RUNS_PER_TEAM_PER_DAY = 0
