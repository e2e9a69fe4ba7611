"""Is a new service's name free on the repository host? Asked through a worker, never in a request.

The wizard's name check and run_create look here: an answer the host gave in the last five minutes
(`taken` or `free`) is kept in the cache every process shares ("counters": Redis, or the embedded
setup's SQLite file); without one, the check asks a worker (the task named CHECK_TASK) and says
"checking" until the answer arrives. A host that cannot answer gives `unknown` for half a minute: the
run's own repo.create step still refuses a name it finds taken, cleanly.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.conf import settings
from django.core.cache import caches

from services.hosts import host_for
from services.hosts.base import HostError

logger = logging.getLogger(__name__)

CHECK_TASK = "slipway.check_repository_name"
CACHE_ALIAS = "counters"  # shared by every process, the workers included
ANSWER_SECONDS = 300
UNKNOWN_SECONDS = 30
ASKED_SECONDS = 30  # a question in flight is not sent again meanwhile
TAKEN, FREE, UNKNOWN, CHECKING = "taken", "free", "unknown", "checking"


def _key(name: str, host: str) -> str:
    return f"namecheck:{host}:{name.lower()}"


def host_answer(name: str, *, host: str | None = None) -> str | None:
    """The host's last answer for `name` (taken, free or unknown), or None if it was not asked lately."""
    return caches[CACHE_ALIAS].get(_key(name, host or settings.SLIPWAY_REPO_HOST))


def ask_host(name: str, *, host: str | None = None) -> str:
    """The answer if there is one; else ask a worker (once while in flight) and answer `checking`."""
    host = host or settings.SLIPWAY_REPO_HOST
    answer = host_answer(name, host=host)
    if answer is not None:
        return answer
    if caches[CACHE_ALIAS].add(_key(name, host) + ":asked", True, ASKED_SECONDS):
        try:
            current_app.tasks[CHECK_TASK].apply_async((name, host))
        except Exception:  # noqa: BLE001 - a broker outage: the run's repo.create step still checks
            logger.warning("namecheck.enqueue_failed", extra={"service": name}, exc_info=True)
            return UNKNOWN
    return CHECKING


def check_now(name: str, host: str) -> str:
    """The worker's half: ask the host and keep its answer."""
    try:
        answer = TAKEN if host_for(host).repository_taken(name=name) else FREE
    except HostError as error:
        logger.warning("namecheck.host_failed", extra={"service": name, "error": str(error)[:200]})
        answer = UNKNOWN
    caches[CACHE_ALIAS].set(_key(name, host), answer, UNKNOWN_SECONDS if answer == UNKNOWN else ANSWER_SECONDS)
    return answer


def host_words(host: str | None = None) -> str:
    return "GitHub" if (host or settings.SLIPWAY_REPO_HOST) == "github" else "the repository host"


def taken_words(name: str, host: str | None = None) -> str:
    return f"a repository named {name} already exists on {host_words(host)}; choose another name"
