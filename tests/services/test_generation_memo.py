"""Within a request the catalog generation is read once (services.catalog.generation.generation_memo); a write made
by the request makes the next read see the new generation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.catalog.generation import bump_generation, catalog_generation, generation_memo

pytestmark = pytest.mark.django_db


def test_read_once_per_request_and_again_after_a_write():
    with generation_memo():
        with CaptureQueriesContext(connection) as reads:
            first = catalog_generation()
            assert catalog_generation() == first
        assert len(reads.captured_queries) == 1
        bump_generation()
        with CaptureQueriesContext(connection) as after:
            second = catalog_generation()
            assert catalog_generation() == second
        assert second != first
        assert len(after.captured_queries) == 1


def test_outside_a_request_every_read_asks_the_database():
    with CaptureQueriesContext(connection) as reads:
        catalog_generation()
        catalog_generation()
    assert len(reads.captured_queries) == 2


def test_a_request_that_writes_caches_what_it_reads_after_under_the_new_generation(member_client, service):
    """End to end: a PATCH (a write) and the list read in the next request agree."""
    listed = member_client.get("/api/v1/services/").json()["results"]
    assert [row["slug"] for row in listed] == ["ledger"]
    assert member_client.patch("/api/v1/services/ledger/", {"name": "Ledger Two"}, format="json").status_code == 200
    assert member_client.get("/api/v1/services/").json()["results"][0]["name"] == "Ledger Two"
