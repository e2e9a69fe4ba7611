"""The cache backends: Django's Redis cache with one client per pool, and the embedded setup's shared
file cache (diskcache) kept open between requests.

Django's Redis cache, with one redis-py client per connection pool instead of one per operation.

django.core.cache.backends.redis.RedisCacheClient.get_client() builds a new `redis.Redis` for every
cache operation; redis-py's constructor fills a table of ~170 response callbacks each time, which was
~0.25 ms of CPU per operation, more than the round trip itself (profiled: a cached API read makes
five or six operations). A `redis.Redis` is safe to share between threads (it takes a connection
from its pool for each command) and is bound to its pool, so one per pool answers the same."""

from __future__ import annotations

from typing import Any

from diskcache import DjangoCache
from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    """BACKEND for a redis:// SLIPWAY_CACHE_URL (config/settings.py swaps Django's for this one)."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


class SharedFileCache(DjangoCache):
    """The embedded setup's cache shared by every process (a SQLite file; the throttle's counters, the
    host's name answers). Django closes every cache when a request ends; diskcache's close() drops the
    thread's SQLite connection, so each request opened it again and set its pragmas: ~2 ms a request,
    measured, against ~50 µs for the increment itself. The connection is the thread's, and SQLite
    keeps it consistent across processes: it stays open (the process's exit closes it)."""

    def close(self, **kwargs: Any) -> None:
        return None
