"""GET /api/v1/search/: the answer's shape, its errors (each naming its parameter), auth, the schema, and
a fixed number of queries whatever the number of results."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import RunbookFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_search_answers_results_in_score_order_with_counts(viewer_client):
    team = TeamFactory(slug="payments", name="Payments")
    ServiceFactory(slug="payments-api", name="Payments API", owner_team=team, tags=["pci"])
    RunbookFactory(service=ServiceFactory(slug="ledger", owner_team=team), slug="payouts", title="Late payouts",
                   body="When payments are late, check the bank file.")
    response = viewer_client.get("/api/v1/search/", {"q": "payments"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "payments" and body["words"] == ["payments"] and body["similar"] is False
    assert body["counts"] == {"team": 1, "service": 1, "runbook": 1}
    first, *_, last = body["results"]
    assert first == {"kind": "team", "key": "payments", "title": "Payments", "url": "/teams/payments/",
                     "matched": "name", "snippet": "", "rank": 0}
    assert last["kind"] == "runbook" and last["matched"] == "text" and "payments are late" in last["snippet"]
    assert [result["rank"] for result in body["results"]] == sorted(result["rank"] for result in body["results"])


def test_kind_and_limit_narrow_the_answer(viewer_client):
    team = TeamFactory(slug="widgets")
    for n in range(4):
        ServiceFactory(slug=f"widget-{n}", owner_team=team)
    body = viewer_client.get("/api/v1/search/", {"q": "widget", "kind": "service", "limit": "2"}).json()
    assert [result["kind"] for result in body["results"]] == ["service", "service"]
    assert body["counts"] == {"service": 4}


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"), ({"q": "  "}, "q"), ({"q": "x" * 201}, "q"), ({"q": "a\x00b"}, "q"), ({"q": "a\x07b"}, "q"),
    ({"q": "x", "kind": "widgets"}, "kind"), ({"q": "x", "limit": "0"}, "limit"), ({"q": "x", "limit": "51"}, "limit"),
    ({"q": "x", "limit": "ten"}, "limit"), ({"q": "x", "limit": "-1"}, "limit"),
])
def test_bad_parameters_are_a_400_naming_them(viewer_client, params, field):
    response = viewer_client.get("/api/v1/search/", params)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_search_needs_a_signed_in_person_or_a_token(anon_client):
    assert anon_client.get("/api/v1/search/", {"q": "x"}).status_code in (401, 403)


@pytest.mark.parametrize("rows", [1, 50])
def test_search_costs_a_fixed_number_of_queries(viewer_client, rows):
    team = TeamFactory(slug="fixed")
    for n in range(rows):
        RunbookFactory(service=ServiceFactory(slug=f"fixed-{n}", owner_team=team), slug=f"rb-{n}", title=f"Fixed {n}")
    viewer_client.get("/api/v1/search/", {"q": "warm"})  # a token's first use of the day records it: not ours
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/api/v1/search/", {"q": "fixed", "limit": "2"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(rows, 2) * 2 + 1  # services, runbooks, the team
    # Expect 2 queries: check the API token, the ranked search (results, snippets and counts of every kind).
    assert len(queries) == 2, [query["sql"][:60] for query in queries]


def test_a_typo_costs_two_more_queries(viewer_client):
    ServiceFactory(slug="checkout")
    viewer_client.get("/api/v1/search/", {"q": "warm"})
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/api/v1/search/", {"q": "chekout"})
    assert [result["key"] for result in response.json()["results"]] == ["checkout"]
    # Expect 4 queries: the token, the search (nothing), the names' vocabulary near "chekout", the names pass.
    assert len(queries) == 4, [query["sql"][:60] for query in queries]


def test_the_schema_documents_the_search(viewer_client):
    schema = viewer_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/search/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"q", "kind", "limit"}
    assert set(operation["responses"]) >= {"200", "400"}
