"""Start a real Celery worker process against the test database and broker (no eager mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker that shares this test run's database, broker and queue."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SLIPWAY_WORKER_DB_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def celery_worker(*, concurrency: int = 1, beat: bool = False, log: Path | None = None,
                  env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """A `celery worker` process for the duration of the block, stopped (and reaped) afterwards."""
    log = log or Path(settings.DATA_DIR) / f"worker-{time.time_ns()}.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
               "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--concurrency", str(concurrency), "--pool", "prefork",
               "--without-gossip", "--without-mingle", "-n", f"test-{time.time_ns()}@%h"]
    if beat:
        command += ["--beat", "--schedule", str(Path(settings.DATA_DIR) / f"beat-{time.time_ns()}")]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=worker_env(**(env or {})), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        stop(process)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its children at once: no warm shutdown, no acknowledgement."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen, *, grace: float = 10) -> None:
    """Warm shutdown, then kill the whole process group if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.1, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
