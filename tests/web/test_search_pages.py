"""The results page and the home page's suggestions: every kind, grouped with counts, a fixed number of
queries, and a q that cannot be searched answered with a 400 that says why."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from services.models import System
from tests.factories import RunbookFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kafka_catalog(team):
    ServiceFactory(slug="kafka-proxy", name="Kafka Proxy", owner_team=team)
    ServiceFactory(slug="events", name="Events", owner_team=team, tags=["kafka"])
    TeamFactory(slug="streaming", name="Streaming", description="Runs kafka")
    System.objects.create(slug="kafka-platform", name="Kafka Platform")
    RunbookFactory(service=ServiceFactory(slug="ledger", owner_team=team), slug="lag", title="Consumer lag",
                   body="Check the kafka consumer group.")


def test_the_results_page_groups_every_kind_with_counts(viewer_web, kafka_catalog):
    response = viewer_web.get("/search/", {"q": "kafka"})
    body = response.content.decode()
    assert response.status_code == 200
    for kind, count in (("service", 2), ("team", 1), ("system", 1), ("runbook", 1)):
        assert f'data-kind="{kind}"' in body
        assert [group["count"] for group in response.context["groups"] if group["kind"] == kind] == [count]
    assert 'href="/services/ledger/runbooks/lag/"' in body
    assert "kafka consumer group" in body  # the runbook's snippet


def test_the_suggestions_show_every_kind_as_a_fragment(viewer_web, kafka_catalog):
    response = viewer_web.get("/search/", {"q": "kaf", "fragment": "suggestions"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    for href in ("/services/kafka-proxy/", "/teams/streaming/", "/systems/kafka-platform/",
                 "/services/ledger/runbooks/lag/"):
        assert f'href="{href}"' in body


def test_a_typo_says_the_results_are_similar_names(viewer_web, kafka_catalog):
    body = viewer_web.get("/search/", {"q": "kafak"}).content.decode()
    assert "Names like it" in body and 'href="/services/kafka-proxy/"' in body


def test_all_of_one_kind(viewer_web, team):
    for n in range(12):
        ServiceFactory(slug=f"widget-{n}", owner_team=team)
    page = viewer_web.get("/search/", {"q": "widget"})
    assert 'kind=service">All 12 services</a>' in page.content.decode()
    more = viewer_web.get("/search/", {"q": "widget", "kind": "service"})
    assert len(more.context["groups"][0]["results"]) == 12


@pytest.mark.parametrize(("q", "kind"), [("x" * 201, ""), ("a\x07b", ""), ("ok", "bogus")])
def test_a_q_or_kind_that_cannot_be_searched_is_a_400_saying_why(viewer_web, q, kind):
    params = {"q": q, **({"kind": kind} if kind else {})}
    response = viewer_web.get("/search/", params)
    assert response.status_code == 400
    assert response.context["error"]
    fragment = viewer_web.get("/search/", {"q": q, "fragment": "suggestions"}, HTTP_HX_REQUEST="true")
    if not kind:
        assert fragment.status_code == 400 and 'role="alert"' in fragment.content.decode()


@pytest.mark.parametrize("rows", [1, 50])
def test_search_pages_cost_a_fixed_number_of_queries(viewer_web, team, rows):
    for n in range(rows):
        RunbookFactory(service=ServiceFactory(slug=f"fixed-{n}", owner_team=team), slug=f"rb-{n}", title=f"Fixed {n}")
    for params, headers in (({"q": "fixed"}, {}), ({"q": "fixed", "fragment": "suggestions"}, {"HTTP_HX_REQUEST": "true"})):
        with CaptureQueriesContext(connection) as queries:
            response = viewer_web.get("/search/", params, **headers)
        assert response.status_code == 200
        # Expect 3 queries: the session, the user, the ranked search (results, snippets and counts); and
        # a 4th when fewer results than asked for were found: the names' vocabulary near the words (typos).
        assert len(queries) == (3 if rows == 50 else 4), [query["sql"][:60] for query in queries]
