"""API and resource pages and endpoints: lists, details with what links to them, the definition as
text and in the Swagger UI, the service page's APIs and resources; on Backstage's example catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalog.sync.locations import catalog_import
from services.models import Api
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "backstage-examples"


@pytest.fixture
def reader(client):
    catalog_import(path=EXAMPLES)
    client.force_login(UserFactory(username="vera"))
    return client


def test_the_api_list_shows_every_api_with_its_definition_state(reader, django_assert_max_num_queries):
    # session, user, count, the page of APIs (owner, system joined)
    with django_assert_max_num_queries(4):
        body = reader.get("/apis/").content.decode()
    assert body.count('href="/apis/default/') == 19
    assert "not fetched yet" in body  # the placeholders wait for a worker

    assert 'href="/apis/default/petstore/"' in reader.get("/apis/?q=pet").content.decode()
    assert "No API matches" in reader.get("/apis/?q=zzzz").content.decode()


def test_an_api_page_shows_its_providers_consumers_and_inline_definition(reader, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        body = reader.get("/apis/default/wayback-archive/").content.decode()
    assert 'href="/services/wayback-archive/"' in body  # provides it
    assert 'href="/services/wayback-search/"' in body  # consumes it
    assert "has not been fetched yet" in body

    body = reader.get("/apis/default/petstore/").content.decode()
    assert "Open in the Swagger UI" in body and "Swagger Petstore" in body
    assert reader.get("/apis/default/nope/").status_code == 404


def test_the_definition_is_served_as_plain_text_and_the_swagger_page_loads_it(reader):
    response = reader.get("/apis/default/petstore/definition/")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == Api.objects.get(slug="petstore").definition

    page = reader.get("/apis/default/petstore/swagger/").content.decode()
    assert 'data-definition-url="/apis/default/petstore/definition/"' in page
    assert "swagger-ui-bundle.js" in page and "<script>" not in page  # no inline script
    assert reader.get("/apis/default/streetlights/swagger/").status_code == 404  # AsyncAPI: not Swagger's
    assert reader.get("/apis/default/wayback-archive/definition/").status_code == 404  # not fetched yet


def test_an_unresolved_definition_says_why(reader):
    Api.objects.filter(slug="spotify").update(definition_state="unresolved",
                                              definition_error="host 'github.com' is not allowed")
    body = reader.get("/apis/default/spotify/").content.decode()
    assert "could not be fetched: host &#x27;github.com&#x27; is not allowed" in body


def test_a_resource_page_shows_who_depends_on_it(reader):
    body = reader.get("/resources/default/artists-db/").content.decode()
    assert 'href="/services/artist-lookup/"' in body
    assert 'href="/resources/default/artists-db/"' in reader.get("/resources/").content.decode()


def test_the_service_page_lists_its_apis_and_resources(reader):
    body = reader.get("/services/artist-lookup/").content.decode()
    assert 'href="/resources/default/artists-db/"' in body
    assert "resource:default/artists-db" not in body.split("APIs and resources")[0]  # not a dangling dependency
    body = reader.get("/services/wayback-search/").content.decode()
    assert 'href="/apis/default/wayback-search/"' in body and 'href="/apis/default/wayback-archive/"' in body


def test_the_api_endpoints(reader, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        answer = reader.get("/api/v1/apis/?type=openapi").json()
    assert answer["count"] == Api.objects.filter(type="openapi").count() == 13
    assert {row["ref"] for row in answer["results"]} >= {"api:default/petstore", "api:default/spotify"}
    assert "definition" not in answer["results"][0]

    detail = reader.get("/api/v1/apis/default/wayback-archive/").json()
    assert (detail["providers"], detail["consumers"]) == (["wayback-archive"], ["wayback-search"])
    assert detail["definition_state"] == "pending" and detail["definition_target"].startswith("https://")

    resource = reader.get("/api/v1/resources/default/artists-db/").json()
    assert resource["dependent_services"] == ["artist-lookup"]
    assert reader.get("/api/v1/apis/default/nope/").status_code == 404
    bad = reader.get("/api/v1/apis/?namespace=Not_A_Namespace")
    assert bad.status_code == 400 and "namespace" in bad.json()["errors"]
