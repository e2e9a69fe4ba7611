"""A job queue in a spool directory: one JSON file per job, no broker to run.

    incoming/    jobs waiting, oldest first (producers call `put`, or write a file elsewhere on the
                 same file system and rename it into incoming/)
    processing/  jobs a worker has claimed; claiming is an atomic rename, so several worker
                 processes can share one spool directory
    done/        finished jobs with their results, kept for inspection
    failed/      jobs that failed for good, with the error

To move to a broker (SQS, Pub/Sub, RabbitMQ, Redis...), write a class with the same methods
(`claim`, `ack`, `retry`, `fail`) and pass it to the Worker: nothing else changes.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUBDIRS = ("incoming", "processing", "done", "failed", "tmp")


@dataclass(frozen=True)
class Job:
    id: str
    body: dict[str, Any]
    attempts: int = 0


class DirectoryQueue:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        for name in SUBDIRS:
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def _path(self, state: str, job_id: str) -> Path:
        return self.root / state / f"{job_id}.json"

    def _write(self, state: str, job_id: str, document: dict[str, Any]) -> None:
        """Write atomically: a reader never sees a half-written file."""
        tmp = self.root / "tmp" / f"{job_id}.{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self._path(state, job_id))

    def put(self, body: dict[str, Any], *, attempts: int = 0) -> str:
        """Enqueue a job; return its id. Ids sort by time, so jobs are taken oldest first."""
        job_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        self._write("incoming", job_id, {"body": body, "attempts": attempts})
        return job_id

    def depth(self) -> int:
        """How many jobs are waiting."""
        return sum(1 for _ in (self.root / "incoming").glob("*.json"))

    def claim(self) -> Job | None:
        """Take the oldest waiting job, or return None when there is none."""
        for path in sorted((self.root / "incoming").glob("*.json")):
            job_id = path.stem
            try:
                os.rename(path, self._path("processing", job_id))
            except FileNotFoundError:
                continue  # another worker claimed it first
            os.utime(self._path("processing", job_id))  # the claim time, for requeue_stale
            try:
                document = json.loads(self._path("processing", job_id).read_text(encoding="utf-8"))
                body, attempts = document["body"], int(document.get("attempts", 0))
                if not isinstance(body, dict):
                    raise TypeError("the job body is not a JSON object")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.error("job %s is unreadable and goes to failed/: %s", job_id, exc)
                os.replace(self._path("processing", job_id), self._path("failed", job_id))
                continue
            return Job(id=job_id, body=body, attempts=attempts)
        return None

    def ack(self, job: Job, result: dict[str, Any]) -> None:
        """The job succeeded: keep it in done/ with its result."""
        self._finish(
            job, "done", {"body": job.body, "attempts": job.attempts + 1, "result": result}
        )

    def fail(self, job: Job, error: str) -> None:
        """The job failed for good: keep it in failed/ with the error."""
        self._finish(
            job, "failed", {"body": job.body, "attempts": job.attempts + 1, "error": error}
        )

    def retry(self, job: Job, error: str) -> None:
        """The job failed but may succeed later: put it back at the end of the queue."""
        new_id = self.put(job.body, attempts=job.attempts + 1)
        log.info("job %s will be retried as %s after: %s", job.id, new_id, error)
        self._path("processing", job.id).unlink(missing_ok=True)

    def _finish(self, job: Job, state: str, document: dict[str, Any]) -> None:
        self._write(state, job.id, document)
        self._path("processing", job.id).unlink(missing_ok=True)

    def requeue_stale(self, older_than: float) -> int:
        """Put back jobs claimed more than `older_than` seconds ago by a worker that died."""
        cutoff = time.time() - older_than
        count = 0
        for path in (self.root / "processing").glob("*.json"):
            try:
                if path.stat().st_mtime < cutoff:
                    os.rename(path, self.root / "incoming" / path.name)
                    count += 1
            except FileNotFoundError:
                continue  # finished or requeued meanwhile
        if count:
            log.warning("requeued %d stale job(s) from processing/", count)
        return count
