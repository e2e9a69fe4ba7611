"""A background worker: takes jobs from a queue and hands each one to `worker.handlers.handle`."""

from worker.config import SERVICE_NAME

__all__ = ["SERVICE_NAME"]
