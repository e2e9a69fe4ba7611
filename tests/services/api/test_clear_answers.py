"""Every failure is a clear answer (issue #13): a malformed value is a 400 naming its field, a clash with
what exists a 409 naming it, and what the API itself cannot answer (a crash, an over-long address) is
still JSON in the usual shape — never Django's HTML."""

from __future__ import annotations

import re

import pytest
from django.http import HttpRequest
from django.test import Client, override_settings
from django.urls import include, path

from services.api.errors import MAX_API_ADDRESS
from services.catalog import writes
from services.models import AuditEvent, Environment, Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

# urlsplit() raises ValueError on each of these (an unclosed or malformed [IPv6] host; a host that NFKC
# normalization turns into '#'): each was a 500.
MALFORMED_URLS = ["http://[::1/a/b", "https://[::1/acme/ledger", "http://[zz]/a/b", "ssh://git@[::1/acme/ledger",
                  "https://github\uff03com/acme/ledger"]


def _shape(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    return body


# ---------------------------------------------------------------------------------------------
# 1. Repository URLs that urllib cannot split.


@pytest.mark.parametrize("value", MALFORMED_URLS)
def test_ownership_by_a_malformed_repository_url_is_a_400_naming_repo(viewer_client, service, value):
    body = _shape(viewer_client.get("/api/v1/ownership/", {"repo": value}), 400)
    assert list(body["errors"]) == ["repo"]
    assert "not a well-formed URL" in body["errors"]["repo"][0]


@pytest.mark.parametrize("value", MALFORMED_URLS)
def test_registering_or_changing_a_service_with_a_malformed_repository_url_is_a_400(member_client, service, value):
    created = member_client.post("/api/v1/services/", {"slug": "books", "owner": "payments", "repository": value},
                                 format="json")
    assert list(_shape(created, 400)["errors"]) == ["repository"]
    changed = member_client.patch("/api/v1/services/ledger/", {"repository": value}, format="json")
    assert list(_shape(changed, 400)["errors"]) == ["repository"]
    assert not Service.objects.filter(slug="books").exists()
    assert Service.objects.get(slug="ledger").repository == "github.com/acme/ledger"


# ---------------------------------------------------------------------------------------------
# 2. A rename onto a name in use.


@pytest.fixture
def environments(service):
    return (writes.environment_create(actor=None, service=service, name="staging"),
            writes.environment_create(actor=None, service=service, name="production"))


def test_renaming_an_environment_to_a_name_the_service_has_is_a_409_naming_name(member_client, environments):
    staging, _ = environments
    events = AuditEvent.objects.count()
    response = member_client.patch(f"/api/v1/environments/{staging.pk}/", {"name": "production"}, format="json")
    body = _shape(response, 409)
    assert body["errors"] == {"name": ["already taken"]}
    assert "has an environment 'production' already" in body["detail"]
    assert Environment.objects.get(pk=staging.pk).name == "staging"
    assert AuditEvent.objects.count() == events


def test_renaming_an_environment_to_its_own_name_or_a_free_one_works(member_client, environments):
    staging, _ = environments
    assert member_client.patch(f"/api/v1/environments/{staging.pk}/", {"name": "staging"},
                               format="json").status_code == 200
    assert member_client.patch(f"/api/v1/environments/{staging.pk}/", {"name": "qa"}, format="json").json()["name"] == "qa"


def _first_check_misses(monkeypatch):
    """The name check before the write sees nothing, as when another request takes the name between
    the check and the write; the database's unique constraint then refuses the write."""
    real = writes._environment_name_taken
    calls = []

    def racing(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(writes, "_environment_name_taken", racing)
    return calls


def test_an_environment_rename_that_loses_a_race_is_a_409_not_an_integrity_error(member_client, environments,
                                                                                   monkeypatch):
    staging, _ = environments
    calls = _first_check_misses(monkeypatch)
    response = member_client.patch(f"/api/v1/environments/{staging.pk}/", {"name": "production"}, format="json")
    assert _shape(response, 409)["errors"] == {"name": ["already taken"]}
    assert len(calls) == 2  # the check before the write, and the one after the refused write
    assert Environment.objects.get(pk=staging.pk).name == "staging"


def test_an_environment_create_that_loses_a_race_is_a_409_not_an_integrity_error(member_client, environments,
                                                                                  monkeypatch):
    _first_check_misses(monkeypatch)
    response = member_client.post("/api/v1/environments/", {"service": "ledger", "name": "production"}, format="json")
    assert _shape(response, 409)["errors"] == {"name": ["already taken"]}
    assert Environment.objects.filter(name="production").count() == 1


@pytest.mark.parametrize("name", ["", "prod\n", "-prod", "prod env", "p" * 101, 7])
def test_the_service_layer_refuses_an_environment_name_out_of_format(service, name):
    from services.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        writes.environment_create(actor=None, service=service, name=name)
    assert list(caught.value.errors) == ["name"]
    assert "1 to 100 characters" in caught.value.errors["name"][0]


# ---------------------------------------------------------------------------------------------
# 3. What DRF never sees: a crash, an over-long address.


def _raw_client(user) -> Client:
    """A client that gets the 500 answer a real one would, instead of the test re-raising the error."""
    from tests.factories import token_for

    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token_for(user)}")


def test_an_unhandled_exception_in_an_api_view_is_a_json_500_with_the_request_id(member, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("services.api.catalog.ownership.ownership_answer_json", crash)
    response = _raw_client(member).get("/api/v1/ownership/", {"service": "ledger"}, HTTP_X_REQUEST_ID="req-42")
    body = _shape(response, 500)
    assert body["errors"] == {}
    assert "req-42" in body["detail"] and response["X-Request-ID"] == "req-42"
    assert "boom" not in body["detail"]  # nothing of the failure itself leaks


def _crash(request: HttpRequest):
    raise RuntimeError("boom")


urlpatterns = [path("api/crash/", _crash), path("crash/", _crash), path("", include("config.urls"))]
handler500 = "services.api.errors.server_error"  # as config/urls.py


@override_settings(ROOT_URLCONF=__name__)
def test_an_unhandled_exception_anywhere_under_api_is_json_and_pages_keep_the_styled_page(member):
    client = _raw_client(member)
    body = _shape(client.get("/api/crash/"), 500)
    assert re.search(r"request id [0-9a-f]{32}", body["detail"])
    page = client.get("/crash/")
    assert page.status_code == 500 and "Something went wrong on our side" in page.content.decode()


def test_config_urls_routes_server_errors_to_the_json_handler():
    import config.urls

    assert config.urls.handler500 == "services.api.errors.server_error"


def test_an_over_long_api_address_is_a_json_414_stating_the_bound(viewer_client, service):
    response = viewer_client.get("/api/v1/services/?unused=" + "a" * 100_000)
    body = _shape(response, 414)
    assert str(MAX_API_ADDRESS) in body["detail"]
    assert response["X-Request-ID"]


def test_an_api_address_within_the_bound_is_answered(viewer_client, service):
    path_ = "/api/v1/services/"
    query = "unused=" + "a" * (MAX_API_ADDRESS - len(path_) - len("unused="))
    assert viewer_client.get(f"{path_}?{query}").status_code == 200


def test_the_address_bound_is_the_apis_only(member):
    from django.test import Client as PageClient

    client = PageClient()
    client.force_login(member)
    assert client.get("/search/?q=ledger&unused=" + "a" * 10_000).status_code == 200


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
@pytest.mark.parametrize("param", ["since", "until"])
def test_an_audit_time_outside_what_utc_can_hold_is_a_400_naming_it(staff_client, service, param, value):
    body = _shape(staff_client.get("/api/v1/audit/", {param: value}), 400)
    assert list(body["errors"]) == [param]
    assert "between the years 1 and 9999" in body["errors"][param][0]


# ---------------------------------------------------------------------------------------------
# 5. List filters: malformed is a 400 naming the parameter; well formed but unknown, an empty list.

MALFORMED_FILTERS = [
    ("/api/v1/services/", "lifecycle", "x" * 101, "a lifecycle is at most 100 characters on one line"),
    ("/api/v1/services/", "lifecycle", "prod\u0007", "a lifecycle is at most 100 characters on one line"),
    ("/api/v1/services/", "type", "t" * 101, "a type is at most 100 characters on one line"),
    ("/api/v1/services/", "language", "l" * 51, "a language is at most 50 characters on one line"),
    ("/api/v1/services/", "tag", "not a tag!", "a tag is 1 to 63 characters"),
    ("/api/v1/services/", "owner", "team with spaces", "a team slug, group:<team>, a username or user:<username>"),
    ("/api/v1/services/", "system", "no/such/thing", "a slug is 1 to 63 characters"),
    ("/api/v1/services/", "q", "w" * 201, "at most 200 characters"),
    ("/api/v1/services/", "tier", "9", "a tier is 1, 2 or 3"),
    ("/api/v1/services/", "archived", "maybe", "true or false"),
    ("/api/v1/teams/", "parent", "a b", "a slug is 1 to 63 characters"),
    ("/api/v1/teams/", "q", "w" * 201, "at most 200 characters"),
    ("/api/v1/teams/", "declared_by_import", "maybe", "true or false"),
    ("/api/v1/runbooks/", "service", "Not_A_Slug", "a service slug is 1 to 63 characters"),
    ("/api/v1/environments/", "service", "-ledger", "a service slug is 1 to 63 characters"),
    ("/api/v1/environments/", "name", "prod env", "an environment name is 1 to 100 characters"),
    ("/api/v1/audit/", "actor", "a" * 151, "a username is at most 150 characters on one line"),
    ("/api/v1/audit/", "action", "service.\x07update", "an action is at most 100 characters on one line"),
    ("/api/v1/audit/", "object_type", "t" * 51, "an object type is at most 50 characters on one line"),
    ("/api/v1/audit/", "object_id", "1" * 101, "an object id is at most 100 characters on one line"),
    ("/api/v1/audit/", "request_id", "r" * 65, "a request id is at most 64 characters on one line"),
]


@pytest.mark.parametrize(("url", "param", "value", "message"), MALFORMED_FILTERS)
def test_a_malformed_list_filter_is_a_400_naming_it_in_words(staff_client, service, url, param, value, message):
    body = _shape(staff_client.get(url, {param: value}), 400)
    assert list(body["errors"]) == [param]
    assert message in body["errors"][param][0]
    assert "^" not in body["detail"] and "[a-z" not in body["detail"]


WELL_FORMED_UNKNOWN = [
    ("/api/v1/services/", "lifecycle", "bogus"), ("/api/v1/services/", "lifecycle", "end of life (2031)"),
    ("/api/v1/services/", "type", "ml-model"), ("/api/v1/services/", "language", "cobol"),
    ("/api/v1/services/", "tag", "c++"), ("/api/v1/services/", "owner", "user:nobody"),
    ("/api/v1/services/", "owner", "group:default/ghosts"), ("/api/v1/services/", "system", "ghost.system"),
    ("/api/v1/services/", "q", "nothing-like-it"), ("/api/v1/services/", "q", "no\tsuch\nwords"),
    ("/api/v1/teams/", "parent", "ghosts"),
    ("/api/v1/runbooks/", "service", "ghost"), ("/api/v1/environments/", "name", "Prod.EU_1"),
    ("/api/v1/audit/", "actor", "nobody"), ("/api/v1/audit/", "action", "service.bogus"),
    ("/api/v1/audit/", "request_id", "no-such-request"),
]


@pytest.mark.parametrize(("url", "param", "value"), WELL_FORMED_UNKNOWN)
def test_a_well_formed_filter_value_no_row_has_is_an_empty_list(staff_client, service, url, param, value):
    response = staff_client.get(url, {param: value})
    assert response.status_code == 200, response.content[:300]
    assert response.json()["results"] == []


def test_well_formed_filters_still_find_what_is_there(viewer_client, team):
    ServiceFactory(slug="ledger", owner_team=team, lifecycle="End of life", type="ml-model", tags=["team:core"])
    for param, value in [("lifecycle", "end of life"), ("type", "ML-model"), ("tag", "Team:Core"),
                         ("owner", "group:default/payments")]:
        slugs = [row["slug"] for row in viewer_client.get("/api/v1/services/", {param: value}).json()["results"]]
        assert slugs == ["ledger"], (param, value)


def test_filter_help_in_the_schema_says_what_an_unknown_value_answers(viewer_client):
    schema = viewer_client.get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/services/"]["get"]["parameters"]}
    for name in ("lifecycle", "type", "tag", "owner", "system", "language"):
        assert "answers an empty list" in parameters[name]["description"], name
    assert "Free text" in parameters["lifecycle"]["description"]
