"""Rendered catalog pages kept per catalog generation, shared by every web process.

The content of the catalog and of a service page depends on the catalog alone (and, on a service
page, on whether the reader may edit it), not on who reads it: it is rendered once per catalog
generation and kept in the `responses` cache, like the API answers of services.http.middleware. What
depends on the reader — the header with their name, the CSRF token htmx sends — is rendered around it
on every request. Every catalog write bumps the generation (services.signals), so the next request
renders anew: a cached page is never older than the catalog it shows.

Measured on the generated organisation (10,000 services, PostgreSQL): a catalog page cost ~50 ms of
CPU and a service page ~30 ms; served from here they cost the generation read, one cache read and the
page frame (see bench/README.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches

from services.catalog.generation import catalog_generation


def enabled() -> bool:
    return settings.SLIPWAY_RESPONSE_CACHE_SECONDS > 0


def page_key(*parts: str) -> str:
    """The cache key of a page's content at the current catalog generation (one primary-key read)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()
    return f"p:{catalog_generation()}:{digest}"


def get(key: str) -> Any:
    return caches["responses"].get(key) if enabled() else None


def put(key: str, value: Any) -> None:
    if enabled():
        caches["responses"].set(key, value, timeout=settings.SLIPWAY_RESPONSE_CACHE_SECONDS)


def remember(key: str, compute: Callable[[], Any]) -> Any:
    """The value kept under `key`, else `compute()` kept there."""
    value = get(key)
    if value is None:
        value = compute()
        put(key, value)
    return value
