"""Start a real Celery worker process against the test database and broker (no eager mode)."""

from __future__ import annotations

import os
import re
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
        stop(process, log=log)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its children at once: no warm shutdown, no acknowledgement."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


_TASK_RECEIVED = re.compile(r"Task [\w.]+\[[\w-]+\] received")
# Celery's outcome lines: "Task name[id] succeeded in ...", "... raised unexpected: ...", "... retry: ...", ...
_TASK_ENDED = re.compile(r"Task [\w.]+\[[\w-]+\] (?!received)")


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def tasks_received(log: Path) -> int:
    """How many task messages the worker has received (its log's receipts)."""
    return len(_TASK_RECEIVED.findall(_log_text(log)))


def tasks_ended(log: Path) -> bool:
    """Whether every task the worker received has ended (its log has as many outcomes as receipts)."""
    text = _log_text(log)
    return len(_TASK_RECEIVED.findall(text)) <= len(_TASK_ENDED.findall(text))


def stop(process: subprocess.Popen, *, log: Path | None = None, grace: float = 10) -> None:
    """Let the tasks the worker holds end (at most `grace` seconds), then kill its whole process group.

    Not a warm shutdown: Celery's takes ~5 s even when idle (the sync loop's 2 s poll, the pool's join,
    the timer thread), paid by every worker test. What the tests need of it - a task in hand ends
    before the process does, so nothing writes after the test moved on - is kept by waiting for the
    log to show that every task received has ended. Messages not yet received stay in the broker."""
    if log is not None and process.poll() is None:
        with suppress(AssertionError):
            wait_for(lambda: process.poll() is not None or tasks_ended(log), timeout=grace, interval=0.05,
                     what="the worker's tasks to end")
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.1, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
