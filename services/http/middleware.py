"""Request middleware: the audit context of each request, and the fast path of cached API reads.

Catalog reads are the same for every signed-in user, and every catalog write bumps the catalog
generation (services/signals.py). So a JSON answer of a read endpoint is kept in the cache under the
generation it was computed at; a token-authenticated GET that finds its answer there is served
before the rest of the middleware and DRF run: one query for the generation (the same query reads
the access generation, which keys what is remembered of tokens), two cache reads.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse

from services.audit import audit_source, request_id_of
from services.catalog.generation import access_generation, catalog_generation, generation_memo

CACHED_PREFIXES = tuple(
    f"/api/v1/{name}/" for name in ("services", "teams", "ownership", "systems", "domains", "runbooks", "environments")
)
MAX_CACHED_BODY = 256 * 1024
TOKEN_SECONDS = 300
TOKEN_MEMO_ENTRIES = 10_000
_TOKEN = re.compile(r"^(?:[Tt]oken|[Bb]earer) (slw_[A-Za-z0-9_-]{20,80})$")


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class AuditContextMiddleware:
    """Writes made while handling a request are recorded as from the web or the API, with its id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        source = "api" if request.path.startswith("/api/") else "web"
        with audit_source(source, request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class FastApiMiddleware:
    """Serve a cached JSON read to a token holder without entering DRF (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.responses = caches["responses"]
        self.tokens = caches["default"]
        self._token_memo: dict[str, tuple[bool, float]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with generation_memo():  # every part of this request reads the catalog generation once
            return self._answer(request)

    def _answer(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if request.method != "GET" or not path.startswith(CACHED_PREFIXES):
            return self.get_response(request)
        match = _TOKEN.match(request.META.get("HTTP_AUTHORIZATION", ""))
        if match is None or "text/html" in request.META.get("HTTP_ACCEPT", "") or "format" in request.GET:
            return self.get_response(request)
        generation = catalog_generation()
        if not self._token_valid(match.group(1), access_generation()):
            return self.get_response(request)  # DRF answers 401 with its usual message
        key = f"r:{generation}:{_digest(request.get_host() + request.get_full_path())}"
        body = self.responses.get(key)
        if body is not None:
            response = self._cached(body)
            response["X-Request-ID"] = request_id_of(request)  # answered before AuditContextMiddleware
            return response
        response = self.get_response(request)
        if (
            response.status_code == 200
            and not response.streaming
            and response.get("Content-Type", "").startswith("application/json")
            and len(response.content) <= MAX_CACHED_BODY
        ):
            self.responses.set(key, response.content, timeout=settings.SLIPWAY_RESPONSE_CACHE_SECONDS)
        return response

    def _token_valid(self, key: str, generation: int) -> bool:
        cache_key = f"t:{generation}:{_digest(key)}"
        # A plain dict in front of the cache: its lookup is a tenth of the cache's (key validation,
        # pickling, locking). Keyed by the access generation (revoking a token or deactivating a
        # user bumps it); what is kept is the token's expiry, checked on every request, so an
        # expired token is refused the second it expires.
        now = time.monotonic()
        memo = self._token_memo.get(cache_key)
        if memo is not None and memo[1] > now:
            valid_until = memo[0]
        else:
            valid_until = self.tokens.get(cache_key)
            if valid_until is None:
                from services.access.tokens import token_valid_until

                found = token_valid_until(key)
                valid_until = -1.0 if found is None else found
                self.tokens.set(cache_key, valid_until, timeout=TOKEN_SECONDS)
            if len(self._token_memo) >= TOKEN_MEMO_ENTRIES:
                self._token_memo.clear()
            self._token_memo[cache_key] = (valid_until, now + TOKEN_SECONDS)
        return valid_until == 0.0 or valid_until > time.time()

    @staticmethod
    def _cached(body: bytes) -> HttpResponse:
        response = HttpResponse(body, content_type="application/json")
        response["Vary"] = "Accept, Authorization, Cookie"
        response["Allow"] = "GET, HEAD, OPTIONS"
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Frame-Options"] = "DENY"
        response["Referrer-Policy"] = "same-origin"
        response["X-Slipway-Cache"] = "hit"
        return response


class RejectNulMiddleware:
    """A NUL character in the path or query string is a 400, not a database error (PostgreSQL
    refuses NUL in text): no value from a request reaches a query unchecked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            from django.http import JsonResponse

            fields = sorted({key for key, values in request.GET.lists() if "\x00" in key + "".join(values)})
            response = JsonResponse(
                {"detail": "Request contains a NUL character.", "errors": {f: ["contains a NUL character"] for f in fields}
                 or {"path": ["contains a NUL character"]}},
                status=400,
            )
            response["X-Request-ID"] = request_id_of(request)  # answered before AuditContextMiddleware
            return response
        return self.get_response(request)
