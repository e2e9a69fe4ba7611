"""Throttling: API requests per token (the cached fast path too) and per address, guessed tokens per
address, failed sign-ins per username and address. Each test lowers the limits (tests/settings.py keeps
them out of reach of the rest of the suite) and moves a fake clock instead of sleeping."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from services.access import throttling
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0  # a multiple of 60 and of 900: windows start here
PASSWORD = "a-long-password-1"


class Clock:
    """Stands in for the time module inside services.access.throttling."""

    def __init__(self) -> None:
        self.now = START + 10

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttling, "time", fake)
    return fake


def token_client(user, address: str = "10.0.0.1") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_for(user)}", REMOTE_ADDR=address)


def assert_throttled(response, retry_after: int) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(retry_after)
    assert len(response["X-Request-ID"]) >= 1  # a refused request can be traced too
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["errors"] == {}
    assert f"Try again in {retry_after} second" in body["detail"]


@override_settings(SLIPWAY_THROTTLE_TOKEN_RATE="3/min")
def test_a_token_over_its_limit_gets_429_and_another_token_does_not(clock, viewer, service):
    first = token_client(viewer)
    other = token_client(UserFactory(username="otto"))
    answers = [first.get("/api/v1/services/") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0]["X-RateLimit-Limit"] == "3"
    assert_throttled(first.get("/api/v1/services/"), retry_after=50)  # the window ends at START + 60
    assert other.get("/api/v1/services/").status_code == 200
    # The limit is the token's, wherever it comes from.
    moved = Client(HTTP_AUTHORIZATION=first.defaults["HTTP_AUTHORIZATION"], REMOTE_ADDR="10.9.9.9")
    assert moved.get("/api/v1/services/").status_code == 429


@override_settings(SLIPWAY_THROTTLE_TOKEN_RATE="3/min")
def test_the_cached_fast_path_is_throttled_too(clock, viewer, service):
    client = token_client(viewer)
    url = "/api/v1/ownership/"
    assert client.get(url, {"service": "ledger"}).status_code == 200
    hits = [client.get(url, {"service": "ledger"}) for _ in range(2)]
    assert [h["X-Slipway-Cache"] for h in hits] == ["hit", "hit"]
    assert [h["X-RateLimit-Remaining"] for h in hits] == ["1", "0"]
    refused = client.get(url, {"service": "ledger"})
    assert "X-Slipway-Cache" not in refused
    assert_throttled(refused, retry_after=50)


@override_settings(SLIPWAY_THROTTLE_TOKEN_RATE="2/min")
def test_the_window_frees_after_retry_after(clock, viewer):
    client = token_client(viewer)
    assert [client.get("/api/v1/teams/").status_code for _ in range(3)] == [200, 200, 429]
    clock.now = START + 59.2
    assert_throttled(client.get("/api/v1/teams/"), retry_after=1)  # whole seconds, rounded up
    clock.now = START + 60
    assert client.get("/api/v1/teams/").status_code == 200


@override_settings(SLIPWAY_THROTTLE_ANON_RATE="2/min")
def test_requests_without_a_token_are_limited_per_address(clock, viewer):
    here = Client(REMOTE_ADDR="10.0.0.1")
    there = Client(REMOTE_ADDR="10.0.0.2")
    assert [here.get("/api/v1/services/").status_code for _ in range(2)] == [401, 401]
    assert_throttled(here.get("/api/v1/services/"), retry_after=50)
    assert there.get("/api/v1/services/").status_code == 401
    # A signed-in browser (session) counts against its address as well.
    session = Client(REMOTE_ADDR="10.0.0.3")
    session.force_login(viewer)
    assert [session.get("/api/v1/teams/").status_code for _ in range(3)] == [200, 200, 429]
    # Pages are not API requests: not counted.
    assert all(here.get("/accounts/login/").status_code == 200 for _ in range(5))


@override_settings(SLIPWAY_THROTTLE_ANON_RATE="2/min", SLIPWAY_TRUSTED_PROXIES=1)
def test_behind_a_proxy_the_address_it_saw_counts_not_what_the_client_claims(clock):
    proxy = "10.0.0.254"
    clients = [Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{claimed}, 203.0.113.7")
               for claimed in ("1.1.1.1", "2.2.2.2", "3.3.3.3")]
    assert [c.get("/api/v1/teams/").status_code for c in clients] == [401, 401, 429]
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.get("/api/v1/teams/").status_code == 401


@override_settings(SLIPWAY_THROTTLE_BAD_TOKEN_RATE="3/15min")
def test_guessing_tokens_from_one_address_gets_429(clock, viewer, service):
    known = token_client(viewer, address="10.0.0.5")
    assert known.get("/api/v1/services/").status_code == 200
    guesses = [Client(HTTP_AUTHORIZATION=f"Token slw_{uuid.uuid4().hex}", REMOTE_ADDR="10.0.0.5")
               for _ in range(5)]
    assert [g.get("/api/v1/services/").status_code for g in guesses[:3]] == [401, 401, 401]
    refused = guesses[3].get("/api/v1/ownership/", {"service": "ledger"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 890  # the 15-minute window started at START
    assert "invalid API token" in refused.json()["detail"]
    # A token that worked from here lately goes on working; another address may still try.
    assert known.get("/api/v1/services/").status_code == 200
    assert Client(HTTP_AUTHORIZATION=guesses[4].defaults["HTTP_AUTHORIZATION"],
                  REMOTE_ADDR="10.0.0.6").get("/api/v1/services/").status_code == 401
    clock.now = START + 900
    assert guesses[4].get("/api/v1/services/").status_code == 401


def test_off_switches_a_limit_off_and_rates_are_parsed():
    assert throttling.rate_parse("6000/min") == throttling.Rate(6000, 60)
    assert throttling.rate_parse("5/15min") == throttling.Rate(5, 900)
    assert throttling.rate_parse("100/s") == throttling.Rate(100, 1)
    assert throttling.rate_parse("2 / 3h") == throttling.Rate(2, 10800)
    assert throttling.rate_parse("1000/day") == throttling.Rate(1000, 86400)
    for off in ("off", "", None):
        assert throttling.rate_parse(off) is None
    for bad in ("many", "10/fortnight", "10", "/min", "-1/min"):
        with pytest.raises(ValueError, match="not a rate"):
            throttling.rate_parse(bad)


@override_settings(SLIPWAY_THROTTLE_TOKEN_RATE="off", SLIPWAY_THROTTLE_ANON_RATE="off")
def test_with_limits_off_nothing_is_counted(clock, viewer):
    client = token_client(viewer)
    answers = [client.get("/api/v1/teams/") for _ in range(5)]
    assert all(a.status_code == 200 and "X-RateLimit-Limit" not in a for a in answers)


def test_the_per_request_cost_is_a_sixteenth_of_a_cache_operation_and_no_query(
        viewer, service, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(throttling, "BATCH_SECONDS", 3600)  # count by requests only: a deterministic test
    client = token_client(viewer)
    client.get("/api/v1/ownership/", {"service": "ledger"})
    client.get("/api/v1/ownership/", {"service": "ledger"})  # the token is now known to the middleware
    calls: list[str] = []
    for alias in ("default", "counters"):
        cache = caches[alias]
        for name in ("get", "incr", "add", "set", "get_many"):
            original = getattr(cache, name)

            def counted(*args, _name=f"{alias}.{name}", _original=original, **kwargs):
                calls.append(_name)
                return _original(*args, **kwargs)

            setattr(cache, name, counted)
    try:
        for _ in range(32):
            with django_assert_max_num_queries(1):  # the catalog generation, read by the fast path
                response = client.get("/api/v1/ownership/", {"service": "ledger"})
            assert response["X-Slipway-Cache"] == "hit"
    finally:
        for alias in ("default", "counters"):
            for name in ("get", "incr", "add", "set", "get_many"):
                delattr(caches[alias], name)
    # The throttle's count, sent every 16 requests; the fast path reads "responses" and its own memo.
    assert calls == ["counters.incr"] * 2


# Sign-in.

@pytest.fixture
def ana(db):
    user = UserFactory(username="ana")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


@override_settings(SLIPWAY_LOGIN_FAILURE_RATE="3/15min")
def test_failed_sign_ins_are_limited_per_username_and_the_page_says_so(clock, ana):
    client = Client(REMOTE_ADDR="10.0.1.1")
    assert [sign_in(client, "ana", "wrong").status_code for _ in range(3)] == [200, 200, 200]
    refused = sign_in(client, "ANA ", PASSWORD)  # even the right password, however the name is typed
    assert refused.status_code == 429
    assert refused["Retry-After"] == "890"
    page = refused.content.decode()
    assert "Too many failed sign-in attempts" in page and "try again in 15 minutes" in page
    assert 'role="alert"' in page and "Traceback" not in page
    assert "_auth_user_id" not in client.session
    # Someone else from the same address, and ana from elsewhere, may still sign in.
    assert sign_in(Client(REMOTE_ADDR="10.0.1.1"), "bob", "wrong").status_code == 200
    assert sign_in(Client(REMOTE_ADDR="10.0.1.2"), "ana", PASSWORD).status_code == 302
    clock.now = START + 900
    assert sign_in(client, "ana", PASSWORD).status_code == 302


@override_settings(SLIPWAY_LOGIN_FAILURE_RATE="3/15min")
def test_signing_in_clears_the_usernames_failures(clock, ana):
    client = Client(REMOTE_ADDR="10.0.1.3")
    assert [sign_in(client, "ana", "wrong").status_code for _ in range(2)] == [200, 200]
    assert sign_in(client, "ana", PASSWORD).status_code == 302
    client.logout()
    assert [sign_in(client, "ana", "wrong").status_code for _ in range(4)] == [200, 200, 200, 429]


@override_settings(SLIPWAY_LOGIN_ADDRESS_FAILURE_RATE="4/15min")
def test_failed_sign_ins_are_limited_per_address_whatever_the_username(clock, ana):
    client = Client(REMOTE_ADDR="10.0.1.4")
    assert [sign_in(client, f"user-{n}", "wrong").status_code for n in range(4)] == [200] * 4
    assert sign_in(client, "ana", PASSWORD).status_code == 429
    assert sign_in(Client(REMOTE_ADDR="10.0.1.5"), "ana", PASSWORD).status_code == 302


@override_settings(SLIPWAY_LOGIN_FAILURE_RATE="1/15min", SLIPWAY_LOGIN_ADDRESS_FAILURE_RATE="1/15min")
def test_an_empty_form_is_not_a_failed_attempt(clock, ana):
    client = Client(REMOTE_ADDR="10.0.1.6")
    assert [client.post("/accounts/login/", {"username": "ana"}).status_code for _ in range(3)] == [200] * 3
    assert sign_in(client, "ana", PASSWORD).status_code == 302


# The counter itself on Redis (production's cache): one pipelined INCR + EXPIRE a hit.

def _redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis server on 127.0.0.1:6379 (.ci/run starts one)")
@pytest.mark.parametrize("backend", ["django.core.cache.backends.redis.RedisCache", "services.http.cache.RedisCache"])
def test_the_counter_on_redis_counts_expires_and_reads_back(clock, backend):
    prefix = f"slipway-throttle-test-{uuid.uuid4().hex}"
    redis_cache = {"BACKEND": backend,
                   "LOCATION": "redis://127.0.0.1:6379/13", "KEY_PREFIX": prefix}
    rate = throttling.Rate(2, 60)
    with override_settings(CACHES={"default": redis_cache, "responses": redis_cache, "counters": redis_cache}):
        cache = caches["counters"]
        try:
            verdicts = [throttling.throttle_hit("tok:abc", rate) for _ in range(3)]
            assert [(v.count, v.allowed, v.retry_after) for v in verdicts] == [(1, True, 50), (2, True, 50),
                                                                                (3, False, 50)]
            key = throttling._key("tok:abc", rate, int(clock.now // 60))
            assert cache.get(key) == 3
            ttl = cache._cache.get_client(write=True).ttl(cache.make_and_validate_key(key))
            assert 0 < ttl <= 61
            assert throttling.throttle_peek("tok:abc", rate).count == 4
            throttling.throttle_reset("tok:abc", rate)
            assert throttling.throttle_hit("tok:abc", rate).count == 1
        finally:
            client = cache._cache.get_client(write=True)
            for found in client.scan_iter(f"{prefix}:*"):
                client.delete(found)


def test_request_counts_reach_the_shared_counter_in_batches_and_exactly_near_the_limit(clock, monkeypatch):
    # Two processes, each with its own RequestCounter, one shared counter.
    first, second = throttling.RequestCounter(), throttling.RequestCounter()
    rate = throttling.Rate(1000, 60)
    for n in range(200):
        (first if n % 2 else second).hit("tok:shared", rate)
    key = throttling._key("tok:shared", rate, int(clock.now // 60))
    shared = caches["counters"].get(key)
    assert 200 - 2 * throttling.BATCH_EVENTS < shared <= 200  # what is not sent yet: under 16 a process
    # Near the limit each request is sent at once: the two processes together let exactly `limit` through.
    small = throttling.Rate(100, 60)
    verdicts = [(first if n % 2 else second).hit("tok:small", small) for n in range(120)]
    assert sum(v.allowed for v in verdicts) == 100
