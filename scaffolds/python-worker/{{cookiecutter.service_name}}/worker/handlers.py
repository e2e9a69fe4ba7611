"""What the worker does with a job: `handle(job)` is the whole of its business logic.

A job is a JSON object: `{"kind": "<task name>", "payload": {...}}`. `handle` dispatches it to the
task of that kind and returns the task's result, a JSON-serializable dict. The two tasks below are
examples: replace them with your own, and keep them free of queue and process concerns so that
they stay easy to test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Result = dict[str, Any]


class PermanentError(Exception):
    """The job can never succeed (bad input, unknown kind): it fails at once, without retries.

    Any other exception is taken as transient, and the job is retried.
    """


def echo(payload: Payload) -> Result:
    """Return the payload: a smoke test of the pipeline."""
    return {"echo": payload}


def word_count(payload: Payload) -> Result:
    """Count the words and characters of `payload["text"]`."""
    text = payload.get("text")
    if not isinstance(text, str):
        raise PermanentError("word_count needs a string 'text'")
    return {"words": len(text.split()), "characters": len(text)}


TASKS: dict[str, Callable[[Payload], Result]] = {
    "echo": echo,
    "word_count": word_count,
}


def handle(job: dict[str, Any]) -> Result:
    """Process one job and return its result; raise PermanentError for a job that cannot succeed."""
    kind = job.get("kind")
    task = TASKS.get(kind) if isinstance(kind, str) else None
    if task is None:
        raise PermanentError(f"unknown job kind {kind!r}; known: {', '.join(sorted(TASKS))}")
    payload = job.get("payload", {})
    if not isinstance(payload, dict):
        raise PermanentError("payload must be a JSON object")
    return task(payload)
