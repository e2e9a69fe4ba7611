"""services.http.paging.DeferredJoinPaginator gives the same pages as Django's Paginator, in two queries."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from services.catalog import reads
from services.http.paging import DeferredJoinPaginator
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ORDERS = [("slug",), ("name", "slug"), ("-updated_at", "slug"),
          (F("owner_team__slug").asc(nulls_last=True), "owner_user__username", "slug")]


@pytest.mark.parametrize("order", ORDERS, ids=["slug", "name", "updated", "owner"])
def test_every_page_equals_djangos(order):
    teams = TeamFactory.create_batch(3)
    person = UserFactory()
    for number in range(23):
        ServiceFactory(name=f"Service {number % 5}", owner_team=teams[number % 3] if number % 4 else None,
                       owner_user=None if number % 4 else person)
    queryset = reads.service_rows().filter(archived=False).order_by(*order)
    plain, deferred = Paginator(queryset, 5, orphans=1), DeferredJoinPaginator(queryset, 5, orphans=1)
    assert deferred.num_pages == plain.num_pages == 5
    for number in plain.page_range:
        expected = [service.slug for service in plain.page(number)]
        page = deferred.page(number)
        assert [service.slug for service in page] == expected
        # The joined rows came with the page: owners are read without another query.
        assert all(service.owner_team or service.owner_user for service in page)


def test_a_deep_page_costs_two_queries_and_joins(django_assert_num_queries):
    team = TeamFactory()
    ServiceFactory.create_batch(12, owner_team=team)
    paginator = DeferredJoinPaginator(reads.service_rows().order_by("slug"), 5)
    paginator.count  # noqa: B018 - counted once, apart
    with django_assert_num_queries(2):
        page = paginator.page(2)
        assert [service.owner_team.slug for service in page] == [team.slug] * 5


def test_a_row_deleted_between_the_two_queries_is_left_out(monkeypatch):
    services = ServiceFactory.create_batch(8, owner_team=TeamFactory())
    paginator = DeferredJoinPaginator(reads.service_rows().order_by("slug"), 3)
    paginator.count  # noqa: B018
    victim = sorted(services, key=lambda service: service.slug)[4]
    real_in_bulk = type(paginator.object_list).in_bulk

    def in_bulk_after_delete(queryset, keys, **kwargs):
        type(victim).objects.filter(pk=victim.pk).delete()
        return real_in_bulk(queryset, keys, **kwargs)

    monkeypatch.setattr(type(paginator.object_list), "in_bulk", in_bulk_after_delete)
    page = [service.slug for service in paginator.page(2)]
    assert victim.slug not in page and len(page) == 2


def test_the_word_search_has_one_trigram_index_on_its_column_on_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's (migrations 0009, 0010); SQLite scans")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'services_service'")
        names = {row[0] for row in cursor.fetchall()}
    assert {name for name in names if name.endswith("_trgm_idx")} == {"service_search_trgm_idx"}


def _counts(captured) -> int:
    return sum("COUNT(" in query["sql"].upper() for query in captured.captured_queries)


def test_the_count_is_kept_per_catalog_generation_and_query():
    team = TeamFactory()
    ServiceFactory.create_batch(7, owner_team=team)
    ServiceFactory.create_batch(2, owner_team=TeamFactory())
    every, owned = reads.service_rows().order_by("slug"), reads.service_rows().filter(owner_team=team)
    with CaptureQueriesContext(connection) as first:
        assert DeferredJoinPaginator(every, 5).count == 9
        assert DeferredJoinPaginator(owned.order_by("slug"), 5).count == 7  # another query: its own count
    assert _counts(first) == 2
    with CaptureQueriesContext(connection) as again:
        assert DeferredJoinPaginator(every, 5).page(2).paginator.num_pages == 2  # page 2 of the same list
        assert DeferredJoinPaginator(owned.order_by("slug"), 5).count == 7
    assert _counts(again) == 0
    ServiceFactory(owner_team=team)  # a write: a new generation, counted anew
    with CaptureQueriesContext(connection) as after:
        assert DeferredJoinPaginator(every, 5).count == 10
        assert DeferredJoinPaginator(owned.order_by("slug"), 5).count == 8
    assert _counts(after) == 2
    assert DeferredJoinPaginator(every.filter(pk__in=[]), 5).count == 0
    # Same shape, other values: counted apart.
    first, second = sorted(reads.service_rows().values_list("slug", flat=True))[:2]
    assert DeferredJoinPaginator(every.filter(slug__icontains=first), 5).count == 1
    assert DeferredJoinPaginator(every.filter(slug__in=[first, second]), 5).count == 2
    assert DeferredJoinPaginator(every.filter(slug__in=[first]), 5).count == 1


def test_without_the_answer_cache_every_count_is_asked(settings):
    settings.SLIPWAY_RESPONSE_CACHE_SECONDS = 0
    ServiceFactory.create_batch(3)
    with CaptureQueriesContext(connection) as captured:
        for _ in range(2):
            assert DeferredJoinPaginator(reads.service_rows().order_by("slug"), 5).count == 3
    assert _counts(captured) == 2
