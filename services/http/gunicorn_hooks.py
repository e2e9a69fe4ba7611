"""gunicorn's settings for the web process: `gunicorn config.wsgi -c python:services.http.gunicorn_hooks`.

They give the worker processes one directory for Prometheus' multiprocess mode (services/http/metrics.py):
each worker writes its counters to files there and a scrape, answered by any worker, adds them all up.
The master prepares it before forking: PROMETHEUS_MULTIPROC_DIR when set (its counter files emptied,
else the last run's counts would be added to this one's), otherwise a new temporary directory, removed
when gunicorn exits. The workers inherit the variable; prometheus_client reads it when first imported.

gunicorn reads the names below that are its settings (limit_request_line, on_starting, on_exit) and
ignores the rest.
Imports nothing of Django or of the portal: this runs in the master, before any application is loaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# gunicorn answers a request line over this many bytes itself, as HTML, before Slipway sees it; at its
# maximum (8190) every API address up to the app's own bound (services.api.errors.MAX_API_ADDRESS,
# 4096) and a little past it reaches the app, which answers its 414 as JSON like every API error.
limit_request_line = 8190

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_created: list[str] = []


def on_starting(server: Any) -> None:
    """Before the workers are forked: an empty directory for their counter files."""
    directory = os.environ.get(VARIABLE)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for old in Path(directory).glob("*.db"):  # only prometheus_client's files: the directory may be shared
            old.unlink(missing_ok=True)
    else:
        directory = tempfile.mkdtemp(prefix="slipway-metrics-")
        _created.append(directory)
        os.environ[VARIABLE] = directory


def on_exit(server: Any) -> None:
    """Remove the directory on_starting made (one named by the operator stays)."""
    for directory in _created:
        shutil.rmtree(directory, ignore_errors=True)
