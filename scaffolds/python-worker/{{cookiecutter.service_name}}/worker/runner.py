"""The worker loop: claim a job, handle it, record the outcome; stop cleanly on SIGTERM.

On SIGTERM (what `docker stop` and Kubernetes send) or SIGINT, the worker finishes the job in hand,
then exits 0. It never abandons a job half-done; a worker killed outright (SIGKILL, a crash) leaves
its job in processing/, and the next worker to start puts it back after STALE_AFTER seconds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from worker.config import SERVICE_NAME, Settings
from worker.handlers import PermanentError, handle
from worker.queue import DirectoryQueue, Job

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Worker:
    def __init__(
        self,
        queue: DirectoryQueue,
        handler: Handler = handle,
        *,
        poll_interval: float = 5.0,
        max_attempts: int = 3,
        heartbeat_file: Path | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.heartbeat_file = heartbeat_file
        self.stopping = threading.Event()

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Ask the loop to stop after the job in hand (a signal handler, or call it directly)."""
        if signum is not None:
            log.info("received %s: stopping after the current job", signal.Signals(signum).name)
        self.stopping.set()

    def heartbeat(self) -> None:
        """Show the container health check that the loop is alive."""
        if self.heartbeat_file is not None:
            self.heartbeat_file.touch()

    def process(self, job: Job) -> str:
        """Run the handler on one job and record the outcome: 'done', 'retry' or 'failed'."""
        started = time.monotonic()
        try:
            result = self.handler(job.body)
        except PermanentError as exc:
            log.warning("job %s failed permanently: %s", job.id, exc)
            self.queue.fail(job, str(exc))
            return "failed"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if job.attempts + 1 >= self.max_attempts:
                log.exception("job %s failed after %d attempts", job.id, job.attempts + 1)
                self.queue.fail(job, error)
                return "failed"
            self.queue.retry(job, error)
            return "retry"
        try:
            self.queue.ack(job, result)
        except (TypeError, ValueError) as exc:  # the result is not JSON: a bug in the task
            log.error("job %s returned a result that cannot be stored: %s", job.id, exc)
            self.queue.fail(job, f"unstorable result: {exc}")
            return "failed"
        log.info("job %s done in %.3fs", job.id, time.monotonic() - started)
        return "done"

    def run_once(self) -> bool:
        """Process one job if there is one; return whether there was."""
        job = self.queue.claim()
        if job is None:
            return False
        self.process(job)
        return True

    def run(self) -> None:
        """Loop until asked to stop; sleep `poll_interval` whenever the queue is empty."""
        log.info(
            "%s started; polling %s every %ss", SERVICE_NAME, self.queue.root, self.poll_interval
        )
        while not self.stopping.is_set():
            self.heartbeat()
            if not self.run_once():
                self.stopping.wait(self.poll_interval)  # wakes at once on a stop request
        log.info("%s stopped", SERVICE_NAME)


def install_signal_handlers(worker: Worker) -> None:
    signal.signal(signal.SIGTERM, worker.request_stop)
    signal.signal(signal.SIGINT, worker.request_stop)


def main() -> int:
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    queue = DirectoryQueue(settings.spool_dir)
    queue.requeue_stale(settings.stale_after)
    worker = Worker(
        queue,
        poll_interval=settings.poll_interval,
        max_attempts=settings.max_attempts,
        heartbeat_file=settings.heartbeat_file,
    )
    install_signal_handlers(worker)
    worker.run()
    return 0
