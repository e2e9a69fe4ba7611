"""The catalog generation: a counter every catalog write bumps, which keys every cached catalog read;
and beside it in the same row the access generation, bumped when tokens or people change, which keys
what the API's fast path remembers of tokens. Both are read once per request (the memo), in one raw
SQL query; each is bumped by a random step inside its write's transaction. Only catalog writes bump
the catalog generation: creating a token or signing in empties no cached answer."""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections.abc import Iterator

from django.db import DatabaseError, connection, models

from services.models import CatalogGeneration

# Within one request (services.http.middleware.FastApiMiddleware opens it) the generation is read once: the
# answer cache key, the page cache key and the list count key all use it. A write made by the request
# forgets it, so what is read after the write is keyed by the new generation. (A write by another
# process meanwhile only means this request's later reads, newer than its generation, are kept
# under it: never older data under a newer key.)
_generation_memo: contextvars.ContextVar[list[tuple[int, int]] | None] = contextvars.ContextVar(
    "slipway_generation_memo", default=None)


@contextlib.contextmanager
def generation_memo() -> Iterator[None]:
    token = _generation_memo.set([])
    try:
        yield
    finally:
        _generation_memo.reset(token)


def remembered_generation() -> list[tuple[int, int]] | None:
    """The request's memo: [] before the first read, [(catalog, access)] after; None outside a request."""
    return _generation_memo.get()


def _bump(column: str) -> None:
    step = secrets.randbelow(2**31) + 1
    memo = _generation_memo.get()
    if memo:
        memo.clear()
    updated = CatalogGeneration.objects.filter(pk=1).update(**{column: models.F(column) + step})
    if not updated:
        CatalogGeneration.objects.get_or_create(pk=1, defaults={column: step})


def bump_generation() -> None:
    """Invalidate every cached catalog answer: called inside each write's transaction.

    The counter jumps by a random step, not by one: after a database restore (or a rolled-back
    transaction) it could otherwise come back to a value a shared cache already holds answers for,
    computed from data that no longer exists."""
    _bump("value")


def bump_access_generation() -> None:
    """Forget what every process remembers of API tokens (a token revoked, a person deactivated)."""
    _bump("access")


_generation_sql = ""


def _read_generation() -> tuple[int, int]:
    global _generation_sql
    if not _generation_sql:
        _generation_sql = "SELECT {}, {} FROM {} WHERE {} = 1".format(  # noqa: S608 - quoted names, no input
            connection.ops.quote_name("value"),
            connection.ops.quote_name("access"),
            connection.ops.quote_name(CatalogGeneration._meta.db_table),
            connection.ops.quote_name(CatalogGeneration._meta.pk.column),
        )
    with connection.cursor() as cursor:
        cursor.execute(_generation_sql)
        row = cursor.fetchone()
    return (row[0] or 0, row[1] or 0) if row else (0, 0)


def _generations() -> tuple[int, int]:
    memo = remembered_generation()
    if memo:
        return memo[0]
    generations = _catalog_generation_read()
    if memo is not None:
        memo.append(generations)
    return generations


def catalog_generation() -> int:
    """The catalog generation; read once per request (services.catalog.generation.generation_memo)."""
    return _generations()[0]


def access_generation() -> int:
    """The access generation, read in the same query as the catalog generation."""
    return _generations()[1]


def _catalog_generation_read() -> tuple[int, int]:
    """The CatalogGeneration row's two counters in raw SQL: one primary-key read, without the ORM's query
    building, which cost more than the query itself on every cached read (profiled).

    It is read from the database on every request, never kept in the process: a write made through
    any process is seen by the next request.

    With CONN_HEALTH_CHECKS, Django checks a reused connection with its own query (`SELECT 1` on
    PostgreSQL) before the first query of each request; this read is made to be that check instead,
    which saves a round trip per request. As with Django's check, a connection found broken is
    closed and the read is made once more on a new one.
    """
    if (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    ):
        connection.health_check_done = True
        try:
            return _read_generation()
        except DatabaseError:
            connection.close()
    return _read_generation()
