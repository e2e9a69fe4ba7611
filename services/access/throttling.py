"""Throttling: API requests per token and per client address, failed sign-ins, and guessed API tokens.

Every limit is a fixed-window counter in the "counters" cache: the key names the bucket and the
window (`floor(now / period)`), so one atomic increment both counts the request and says whether it is
over; the window's key expires by itself. The cache is shared by every process: Redis in production
(the increment and its expiry in one round trip), on the embedded setup a SQLite file under the data
directory (diskcache: an increment is one IMMEDIATE transaction, ~30-50 µs, atomic across processes), so
"5 failures" means 5 whatever the number of web workers. Fixed windows can let up to twice the limit
through around a window's edge: accepted for a guard against runaway scripts and password guessing,
in exchange for one cache operation an event. API request counts (per token, per address) go to the
shared counter in batches (RequestCounter: every 16 requests or 0.25 s, one by one near the limit).

Sign-in is throttled where Django checks passwords, in `authenticate()` itself (as django-axes does):
`SignInThrottleBackend`, first in AUTHENTICATION_BACKENDS, counts each attempt before its password is
checked and refuses one over a limit; a success (the `user_logged_in` signal) gives its count back.
Every way in — the sign-in page, the admin's, any form or API that calls `authenticate()` — is covered
by the same limits, counted on the username as Django compares it (NFKC-normalised, case-folded).

Limits come from settings (environment variables, docs/deployment.md) as "N/period": `6000/min`,
`5/15min`, `100/s`; `off` switches a limit off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

from services.access.tokens import key_from_authorization, token_valid_until
from services.audit import request_id_of

logger = logging.getLogger(__name__)

CACHE_ALIAS = "counters"
API_PREFIX = "/api/"
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}
KNOWN_TOKEN_SECONDS = 60
KNOWN_TOKEN_ENTRIES = 10_000


@dataclass(frozen=True)
class Rate:
    """At most `limit` events per `period` seconds."""

    limit: int
    period: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.period}s"


def rate_parse(text: str | None) -> Rate | None:
    """"6000/min" → Rate(6000, 60); "5/15min" → Rate(5, 900); "off" or "" → None (no limit)."""
    if text is None or str(text).strip().lower() in ("", "off", "none", "0"):
        return None
    match = _RATE.match(str(text))
    if match is None:
        raise ValueError(f"not a rate: {text!r} (say e.g. '6000/min', '5/15min', '100/s' or 'off')")
    count, multiple, unit = match.groups()
    period = (int(multiple) if multiple else 1) * _UNITS[unit.lower()]
    if int(count) < 1 or period < 1:
        raise ValueError(f"not a rate: {text!r} (the count and the period must be at least 1)")
    return Rate(int(count), period)


@dataclass(frozen=True)
class Verdict:
    """One counted event: how many in this window so far, and how long until the window frees."""

    rate: Rate
    count: int
    retry_after: int

    @property
    def allowed(self) -> bool:
        return self.count <= self.rate.limit

    @property
    def remaining(self) -> int:
        return max(0, self.rate.limit - self.count)


def _window(rate: Rate, now: float) -> tuple[int, int]:
    """The window's number and the whole seconds until it ends (at least 1)."""
    window = int(now // rate.period)
    return window, max(1, math.ceil((window + 1) * rate.period - now))


def _key(bucket: str, rate: Rate, window: int) -> str:
    return f"th:{bucket}:{rate.period}:{window}"


def _increment(cache: Any, key: str, timeout: int, delta: int = 1) -> int:
    if isinstance(cache, RedisCache):
        # Django's RedisCache.incr asks EXISTS first (two round trips); INCR creates the key, and the
        # expiry in the same pipeline bounds it. The value stays an int, which the cache reads back.
        full_key = cache.make_and_validate_key(key)
        pipeline = cache._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipeline.incr(full_key, delta)
        pipeline.expire(full_key, timeout)
        return int(pipeline.execute()[0])
    try:
        return cache.incr(key, delta)
    except ValueError:
        if cache.add(key, delta, timeout):
            return delta
        return cache.incr(key, delta)  # another request opened the window between the two calls


BATCH_EVENTS = 16  # request counts sent to the shared counter at least every 16 requests...
BATCH_SECONDS = 0.25  # ...or a quarter of a second, whichever comes first
BATCH_ENTRIES = 10_000
BATCH_MARGIN = 4 * BATCH_EVENTS  # within this of the limit, counts are sent one by one


class RequestCounter:
    """Per-request counts (API requests per token and per address), added to the shared counter in
    batches: each process sends its count every BATCH_EVENTS requests or BATCH_SECONDS, and judges a
    request by the shared total it last read plus what it has not sent yet. One write to the shared
    cache per 16 requests instead of one per request (16 threads contending for the embedded setup's
    SQLite lock cost a cached read ~0.35 ms of CPU, measured). Within BATCH_MARGIN of the limit every
    request is sent at once; far from it, what another process has not sent yet (fewer than
    BATCH_EVENTS requests, for at most BATCH_SECONDS) is all the count can miss. Sign-in and
    refused-token counts are not batched: each is one exact increment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[float]] = {}  # key -> [shared total, pending, last sent at]

    def hit(self, bucket: str, rate: Rate, *, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        window, retry_after = _window(rate, now)
        key = _key(bucket, rate, window)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if len(self._entries) >= BATCH_ENTRIES:
                    self._entries.clear()  # the pending counts of old windows are of no use any more
                entry = self._entries[key] = [0, 0, 0.0]
            entry[1] += 1
            # Near the limit every request is sent at once, so the limit itself is exact.
            near = entry[0] + entry[1] + BATCH_MARGIN >= rate.limit
            if near or entry[1] >= BATCH_EVENTS or now - entry[2] >= BATCH_SECONDS:
                entry[0] = _increment(caches[CACHE_ALIAS], key, rate.period + 1, int(entry[1]))
                entry[1], entry[2] = 0, now
            count = int(entry[0] + entry[1])
        return Verdict(rate, count, retry_after)


def throttle_hit(bucket: str, rate: Rate, *, now: float | None = None) -> Verdict:
    """Count one event in `bucket` under `rate`; the verdict says whether it is within the limit."""
    now = time.time() if now is None else now
    window, retry_after = _window(rate, now)
    count = _increment(caches[CACHE_ALIAS], _key(bucket, rate, window), rate.period + 1)
    return Verdict(rate, count, retry_after)


def throttle_peek(bucket: str, rate: Rate, *, now: float | None = None) -> Verdict:
    """The verdict for `bucket` without counting (count = events so far + the one about to happen)."""
    now = time.time() if now is None else now
    window, retry_after = _window(rate, now)
    count = caches[CACHE_ALIAS].get(_key(bucket, rate, window)) or 0
    return Verdict(rate, count + 1, retry_after)


def throttle_reset(bucket: str, rate: Rate, *, now: float | None = None) -> None:
    """Forget the events of `bucket` in the current window."""
    now = time.time() if now is None else now
    caches[CACHE_ALIAS].delete(_key(bucket, rate, _window(rate, now)[0]))


def throttle_give_back(bucket: str, rate: Rate, *, now: float | None = None) -> None:
    """Take one event back out of `bucket`'s current window (an attempt counted ahead that was fine)."""
    now = time.time() if now is None else now
    with contextlib.suppress(ValueError):  # the window has ended meanwhile: nothing to give back
        caches[CACHE_ALIAS].decr(_key(bucket, rate, _window(rate, now)[0]))


def digest(text: str) -> str:
    """A short, cache-key-safe name for a secret or any text a client sends (never stored as is)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or with SLIPWAY_TRUSTED_PROXIES = N reverse proxies in front,
    the address the outermost of them saw (the N-th entry from the right of X-Forwarded-For). Entries
    further left are the client's own word and are never trusted."""
    proxies = settings.SLIPWAY_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= proxies and forwarded[-proxies]:
            return forwarded[-proxies][:64]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def throttled_response(verdict: Verdict, detail: str, request: HttpRequest | None = None) -> JsonResponse:
    """The API's 429: the usual error shape, Retry-After in whole seconds (and the request's id)."""
    response = JsonResponse({"detail": detail, "errors": {}}, status=429)
    if request is not None:
        response["X-Request-ID"] = request_id_of(request)
    response["Retry-After"] = str(verdict.retry_after)
    response["X-RateLimit-Limit"] = str(verdict.rate.limit)
    response["X-RateLimit-Remaining"] = "0"
    return response


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ApiThrottleMiddleware:
    """Limit every /api/ request, the cached fast path included (this runs before it): per token for
    `Authorization: Token ...` (or `Bearer ...`) requests, per client address for the others; and slow
    down guessing: once an address has sent too many refused tokens, its further invalid tokens are
    answered 429 without entering the API. A valid token is always served (a shared NAT or VPN address
    where someone guesses does not lock its honest users out); checking it costs one indexed query,
    made only while the address is over its limit.

    The cost is one cache increment a request: a token that authenticated here lately is remembered
    in the process, so its requests skip the check of the address's refused-token count."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.token_rate = rate_parse(settings.SLIPWAY_THROTTLE_TOKEN_RATE)
        self.address_rate = rate_parse(settings.SLIPWAY_THROTTLE_ANON_RATE)
        self.refused_rate = rate_parse(settings.SLIPWAY_THROTTLE_BAD_TOKEN_RATE)
        self.requests = RequestCounter()
        self._known_tokens: dict[str, float] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        key = key_from_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        if key is None:
            return self._limited(request, f"ip:{client_address(request)}", self.address_rate)
        token = digest(key)
        now = time.monotonic()
        known = self._known_tokens.get(token, 0.0) > now
        if not known and self.refused_rate is not None:
            address = client_address(request)
            verdict = throttle_peek(f"bad:{address}", self.refused_rate)
            if not verdict.allowed and token_valid_until(key) is None:
                logger.warning("throttle.refused_tokens", extra={"address": address})
                return throttled_response(
                    verdict, f"Too many requests with an invalid API token from your address. "
                             f"Try again in {_wait_words(verdict.retry_after)}.", request)
        response = self._limited(request, f"tok:{token}", self.token_rate)
        if response.status_code == 401 and self.refused_rate is not None:
            self._known_tokens.pop(token, None)
            throttle_hit(f"bad:{client_address(request)}", self.refused_rate)
        elif response.status_code < 400 and not known:
            if len(self._known_tokens) >= KNOWN_TOKEN_ENTRIES:
                self._known_tokens.clear()
            self._known_tokens[token] = now + KNOWN_TOKEN_SECONDS
        return response

    def _limited(self, request: HttpRequest, bucket: str, rate: Rate | None) -> HttpResponse:
        if rate is None:
            return self.get_response(request)
        verdict = self.requests.hit(bucket, rate)
        if not verdict.allowed:
            return throttled_response(
                verdict, f"Request was throttled: more than {rate.limit} requests in {_wait_words(rate.period)}. "
                         f"Try again in {_wait_words(verdict.retry_after)}.", request)
        response = self.get_response(request)
        response["X-RateLimit-Limit"] = str(rate.limit)
        response["X-RateLimit-Remaining"] = str(verdict.remaining)
        return response


# Sign-in: failures counted per (username, address) and per address; a success forgets the former.

def _login_rates() -> tuple[Rate | None, Rate | None]:
    return rate_parse(settings.SLIPWAY_LOGIN_FAILURE_RATE), rate_parse(settings.SLIPWAY_LOGIN_ADDRESS_FAILURE_RATE)


def username_key(username: str) -> str:
    """The username as Django compares it at sign-in (NFKC, as AbstractBaseUser.normalize_username
    and the sign-in form apply), case-folded: `ｌｅａｄａ`, `LeadA` and `leada` count as one."""
    return unicodedata.normalize("NFKC", str(username)).strip().casefold()


def _login_buckets(request: HttpRequest, username: str) -> tuple[str, str]:
    address = client_address(request)
    return f"login:{digest(username_key(username))}:{address}", f"login-ip:{address}"


def login_attempt(request: HttpRequest, username: str) -> Verdict | None:
    """Count a sign-in attempt before its password is checked, and answer the verdict refusing it when
    a limit is reached (None: let it be tried). Counting first, with one atomic increment a bucket, is
    what keeps the limit exact when attempts arrive at once in several processes: the sixth of six
    simultaneous attempts sees 6, never a stale 4. A success gives its count back (login_succeeded)."""
    user_bucket, address_bucket = _login_buckets(request, username)
    refusal = None
    for bucket, rate in zip((user_bucket, address_bucket), _login_rates(), strict=True):
        if rate is not None and (bucket is address_bucket or username):
            verdict = throttle_hit(bucket, rate)
            if not verdict.allowed and refusal is None:
                refusal = verdict
    return refusal


def login_refusal(request: HttpRequest, username: str) -> Verdict | None:
    """The verdict refusing a sign-in attempt now (too many failures), or None; counts nothing."""
    user_bucket, address_bucket = _login_buckets(request, username)
    for bucket, rate in zip((user_bucket, address_bucket), _login_rates(), strict=True):
        if rate is not None and (bucket is address_bucket or username):
            verdict = throttle_peek(bucket, rate)
            if not verdict.allowed:
                return verdict
    return None


def login_succeeded(request: HttpRequest, username: str) -> None:
    """A sign-in succeeded: forget the username's failures from this address, and give back the
    address's count of this attempt (it was counted before the password was checked)."""
    user_rate, address_rate = _login_rates()
    user_bucket, address_bucket = _login_buckets(request, username)
    if user_rate is not None and username:
        throttle_reset(user_bucket, user_rate)
    if address_rate is not None:
        throttle_give_back(address_bucket, address_rate)


def login_refusal_message(verdict: Verdict) -> str:
    return (f"Too many failed sign-in attempts. For your account's safety, try again in "
            f"{_wait_words(verdict.retry_after)}.")


REFUSAL_ATTRIBUTE = "slipway_login_refusal"


class SignInThrottleBackend(ModelBackend):
    """Django's password backend behind the sign-in limits, first in AUTHENTICATION_BACKENDS: every
    attempt is counted before any password is checked, and one over a limit (for the username and
    address, or the address) is refused there: Django's `authenticate()` stops at the PermissionDenied,
    so no later backend (single sign-on) runs either. The refusal is kept on the request for the page
    to say so (a 429)."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **credentials: Any) -> Any:
        if request is not None:  # None: not a request from outside (a command, a test)
            verdict = login_attempt(request, username or "")
            if verdict is not None:
                setattr(request, REFUSAL_ATTRIBUTE, verdict)
                logger.warning("login.throttled", extra={"address": client_address(request)})
                raise PermissionDenied(login_refusal_message(verdict))
        return super().authenticate(request, username=username, password=password, **credentials)


@receiver(user_login_failed, dispatch_uid="slipway-login-failed")
def _log_failure(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and getattr(request, REFUSAL_ATTRIBUTE, None) is None:
        logger.info("login.failed", extra={"address": client_address(request)})  # counted as it was tried


@receiver(user_logged_in, dispatch_uid="slipway-logged-in")
def _forget_failures(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        login_succeeded(request, user.get_username())
