"""services.http.cache.RedisCache: Django's Redis cache with one redis-py client per connection pool."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.test_throttling import _redis_reachable
from tests.worker import ROOT

needs_redis = pytest.mark.skipif(not _redis_reachable(), reason="no Redis server on 127.0.0.1:6379 (.ci/run starts one)")


@pytest.fixture
def redis_cache():
    prefix = f"slipway-cache-test-{uuid.uuid4().hex}"
    config = {"BACKEND": "services.http.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/13", "KEY_PREFIX": prefix}
    with override_settings(CACHES={"default": config, "responses": config}):
        cache = caches["default"]
        try:
            yield cache
        finally:
            client = cache._cache.get_client(write=True)
            for found in client.scan_iter(f"{prefix}:*"):
                client.delete(found)


@needs_redis
def test_every_operation_answers_as_djangos(redis_cache):
    cache = redis_cache
    assert cache.get("missing") is None
    cache.set("page", {"html": "<p>x</p>", "n": 1}, timeout=60)
    assert cache.get("page") == {"html": "<p>x</p>", "n": 1}
    assert cache.add("page", "other") is False
    assert cache.add("new", 5) is True
    assert cache.incr("new") == 6
    cache.set_many({"a": 1, "b": b"bytes"})
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": b"bytes"}
    assert cache.touch("a", 30) is True
    assert cache.delete("a") is True
    assert cache.get("a") is None
    assert cache.has_key("b")


@needs_redis
def test_one_client_per_pool_shared_by_threads(redis_cache):
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client(write=False) is client  # one server: one pool, one client
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                redis_cache.set(f"t{n}:{i}", (n, i))
                assert redis_cache.get(f"t{n}:{i}") == (n, i)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert redis_cache._cache.get_client() is client


def test_a_redis_cache_url_uses_this_backend():
    env = {**os.environ, "SLIPWAY_CACHE_URL": "redis://127.0.0.1:6379/13", "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(sorted({c['BACKEND'] for c in settings.CACHES.values()}))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['services.http.cache.RedisCache']"
