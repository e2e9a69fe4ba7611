"""The services endpoints: list with filters, detail, create, update, archive, delete."""

from __future__ import annotations

import pytest

from services.catalog import writes
from services.models import AuditEvent, Membership, Service, ServiceDependency
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/services/"


def test_list_needs_a_signed_in_user_or_token(anon_client, service):
    response = anon_client.get(LIST)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response.json()["errors"] == {}


def test_list_is_paginated_with_count_next_previous(viewer_client):
    team = TeamFactory()
    ServiceFactory.create_batch(7, owner_team=team)
    body = viewer_client.get(LIST, {"page_size": 3, "page": 2}).json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert "page=3" in body["next"]
    assert body["previous"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"page": "x"}, "page"), ({"page": "0"}, "page"), ({"page_size": "0"}, "page_size"),
     ({"page_size": "201"}, "page_size"), ({"page_size": "many"}, "page_size"), ({"tier": "high"}, "tier"),
     ({"ordering": "password"}, "ordering"), ({"archived": "perhaps"}, "archived")],
)
def test_bad_list_parameters_are_400_naming_the_field(viewer_client, service, params, field):
    response = viewer_client.get(LIST, params)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_page_past_the_end_is_404(viewer_client, service):
    assert viewer_client.get(LIST, {"page": 99}).status_code == 404


def test_filters_by_owner_lifecycle_type_tier_tag_system_and_search(viewer_client):
    payments, growth = TeamFactory(slug="payments-x"), TeamFactory(slug="growth")
    jane = UserFactory(username="jane")
    ServiceFactory(slug="ledger", owner_team=payments, lifecycle="production", type="service", tier=1,
                   tags=["python", "pci"], description="Double-entry bookkeeping")
    ServiceFactory(slug="web-shop", owner_team=growth, lifecycle="experimental", type="website", tier=3,
                   tags=["typescript"])
    ServiceFactory(slug="jane-tool", owner_team=None, owner_user=jane, lifecycle="beta", type="tool")

    def slugs(**params):
        response = viewer_client.get(LIST, params)
        assert response.status_code == 200, response.content
        return [row["slug"] for row in response.json()["results"]]

    assert slugs(owner="payments-x") == ["ledger"]
    assert slugs(owner="group:payments-x") == ["ledger"]
    assert slugs(owner="jane") == ["jane-tool"]
    assert slugs(owner="user:jane") == ["jane-tool"]
    assert slugs(owner="User:JANE") == ["jane-tool"]
    assert slugs(owner="group:default/payments-x") == ["ledger"]
    assert slugs(owner="nobody") == slugs(owner="user:nobody") == slugs(owner="group:nobody") == []
    assert slugs(lifecycle="experimental") == ["web-shop"]
    assert slugs(lifecycle="beta") == ["jane-tool"]
    assert slugs(type="website") == ["web-shop"]
    assert slugs(tier=1) == ["ledger"]
    assert slugs(tag="pci") == ["ledger"]
    assert slugs(tag="py") == []
    assert slugs(q="bookkeeping") == ["ledger"]
    assert slugs(q="shop") == ["web-shop"]
    assert slugs(ordering="-slug") == ["web-shop", "ledger", "jane-tool"]
    namesake = UserFactory(username="growth")  # a person named as a team: `owner=growth` finds both
    ServiceFactory(slug="namesake-tool", owner_team=None, owner_user=namesake)
    assert slugs(owner="growth") == ["namesake-tool", "web-shop"]
    assert slugs(owner="user:growth") == ["namesake-tool"]


def test_the_word_search_matches_slug_name_and_description_in_any_case_and_updates_with_the_row(
        viewer_client, team):
    ledger = ServiceFactory(slug="ledger", name="Ledger", description="Keeps the Books; 100% audited")
    ServiceFactory(slug="web-shop", name="Storefront", description="Sells things_online")
    ServiceFactory(slug="zahlung", name="Zahlungen", description="Überweisungen prüfen")

    def slugs(q):
        response = viewer_client.get(LIST, {"q": q})
        assert response.status_code == 200, response.content
        return [row["slug"] for row in response.json()["results"]]

    assert slugs("LEDG") == slugs("books") == slugs("Books audited") == ["ledger"]
    assert slugs("storefront") == slugs("WEB-SH") == ["web-shop"]
    assert slugs("Überweisungen") == slugs("prüfen") == ["zahlung"]  # non-ASCII, as written
    # LIKE's wildcards in a word are plain characters; no word spans the fields' separators.
    assert slugs("100%") == ["ledger"] and slugs("%") == ["ledger"]
    assert slugs("things_online") == ["web-shop"] and slugs("k_e") == []
    assert slugs("ledger ledger") == ["ledger"] and slugs("ledger") == ["ledger"]
    assert slugs("books ledger") == ["ledger"] and slugs("shop books") == []
    # The haystack is a column the database keeps: an edit is found at once, the old words no more.
    ledger.description = "Reconciles payouts"
    ledger.save()
    assert slugs("payouts") == ["ledger"] and slugs("books") == []


def test_archived_services_are_hidden_unless_asked_for(viewer_client, team):
    ServiceFactory(slug="old", owner_team=team, archived=True)
    ServiceFactory(slug="new", owner_team=team)
    assert [r["slug"] for r in viewer_client.get(LIST).json()["results"]] == ["new"]
    assert [r["slug"] for r in viewer_client.get(LIST, {"archived": "true"}).json()["results"]] == ["old"]


@pytest.mark.parametrize("rows", [1, 50])
def test_list_costs_a_fixed_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    team = TeamFactory()
    services = ServiceFactory.create_batch(rows, owner_team=team)
    for service in services:
        ServiceDependency.objects.create(service=service, target_ref="component:default/other")
    # Expect 7 queries: catalog generation (response cache key), token check of the fast path,
    # token and user (DRF), the token's last-used stamp (at most once a minute), count, services
    # with owner and system joined, their dependencies.
    with django_assert_max_num_queries(7):
        response = viewer_client.get(LIST, {"page_size": 50})
    assert len(response.json()["results"]) == rows


def test_a_repeated_read_is_served_from_the_cache_until_the_catalog_changes(viewer_client, member_client, service):
    first = viewer_client.get(f"{LIST}{service.slug}/")
    second = viewer_client.get(f"{LIST}{service.slug}/")
    assert second["X-Slipway-Cache"] == "hit"
    assert second.json() == first.json()
    member_client.patch(f"{LIST}{service.slug}/", {"description": "Changed"}, format="json")
    third = viewer_client.get(f"{LIST}{service.slug}/")
    assert not third.has_header("X-Slipway-Cache")
    assert third.json()["description"] == "Changed"


def test_detail_has_environments_runbooks_dependencies_and_dependents(viewer_client, service, team):
    other = ServiceFactory(slug="billing", owner_team=team)
    ServiceDependency.objects.create(service=other, target=service, target_ref="component:default/ledger")
    ServiceDependency.objects.create(service=service, target_ref="component:default/not-yet")
    body = viewer_client.get(f"{LIST}ledger/").json()
    assert body["owner"] == "payments"
    assert body["owner_detail"] == {"kind": "team", "ref": "payments", "name": "Payments"}
    assert body["repository"] == "github.com/acme/ledger"
    assert body["repository_url"] == "https://github.com/acme/ledger"
    assert body["depends_on"] == [{"ref": "component:default/not-yet", "service": None}]
    assert body["dependents"] == [{"service": "billing"}]
    assert body["environments"] == [] and body["runbooks"] == []


def test_detail_of_a_missing_service_is_404_json(viewer_client, db):
    response = viewer_client.get(f"{LIST}nope/")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_a_member_registers_a_service_for_their_team(member_client, team):
    payload = {"slug": "fraud-check", "name": "Fraud check", "owner": "payments", "tier": 1,
               "repository": "git@github.com:Acme/Fraud-Check.git", "tags": ["python"],
               "links": [{"url": "https://grafana.example.org/d/fraud", "title": "Dashboard"}],
               "depends_on": ["ledger", "component:default/ghost"], "lifecycle": "beta", "type": "backend"}
    response = member_client.post(LIST, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["repository"] == "github.com/acme/fraud-check"
    assert body["lifecycle"] == "beta" and body["type"] == "backend"
    assert [d["ref"] for d in body["depends_on"]] == ["component:default/ghost", "component:default/ledger"]
    event = AuditEvent.objects.get(action="service.create")
    assert (event.actor, event.source, event.object_repr) == (member_client.user, "api", "fraud-check")
    assert event.request_id


def test_a_dependency_recorded_before_its_target_is_linked_when_it_arrives(member_client, team):
    member_client.post(LIST, {"slug": "a", "owner": "payments", "depends_on": ["b"]}, format="json")
    member_client.post(LIST, {"slug": "b", "owner": "payments"}, format="json")
    assert member_client.get(f"{LIST}a/").json()["depends_on"] == [{"ref": "component:default/b", "service": "b"}]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"owner": "payments"}, "slug"),
        ({"slug": "Bad Name", "owner": "payments"}, "slug"),
        ({"slug": "-x", "owner": "payments"}, "slug"),
        ({"slug": "a" * 64, "owner": "payments"}, "slug"),
        ({"slug": "ok"}, "owner"),
        ({"slug": "ok", "owner": "nobody-team"}, "owner"),
        ({"slug": "ok", "owner": "api:thing"}, "owner"),
        ({"slug": "ok", "owner": "payments", "tier": 4}, "tier"),
        ({"slug": "ok", "owner": "payments", "tier": "one"}, "tier"),
        ({"slug": "ok", "owner": "payments", "repository": "not a repo"}, "repository"),
        ({"slug": "ok", "owner": "payments", "tags": "python"}, "tags"),
        ({"slug": "ok", "owner": "payments", "tags": ["Not A Tag"]}, "tags"),
        ({"slug": "ok", "owner": "payments", "links": [{"url": "javascript:alert(1)"}]}, "links"),
        ({"slug": "ok", "owner": "payments", "annotations": {"a": {"nested": 1}}}, "annotations"),
        ({"slug": "ok", "owner": "payments", "depends_on": ["not valid!"]}, "depends_on"),
        ({"slug": "ok", "owner": "payments", "system": "no-such-system"}, "system"),
        ({"slug": "ok", "owner": "payments", "colour": "red"}, "colour"),
        ({"slug": "ok", "owner": "payments", "description": "x" * 10_001}, "description"),
    ],
)
def test_bad_values_are_400_naming_the_field_and_nothing_is_created(member_client, team, payload, field):
    response = member_client.post(LIST, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Service.objects.exists()


@pytest.mark.parametrize("body", ["[]", "null", "12", '"text"', "{bad json"])
def test_a_body_that_is_not_an_object_is_400_not_500(member_client, team, body):
    response = member_client.post(LIST, body, content_type="application/json")
    assert response.status_code == 400


def test_a_taken_slug_or_repository_is_409(member_client, service):
    assert member_client.post(LIST, {"slug": "ledger", "owner": "payments"}, format="json").status_code == 409
    response = member_client.post(LIST, {"slug": "other", "owner": "payments",
                                         "repository": "https://github.com/ACME/ledger"}, format="json")
    assert response.status_code == 409
    assert "repository" in response.json()["errors"]


def _saved_meanwhile(monkeypatch, **rival):
    """Another request's service is saved after service_create's checks and before its insert: the
    moment two requests for the same slug (or repository) race, made deterministic."""
    from services.catalog import writes

    resolve_system = writes._resolve_system

    def resolve_then_lose_the_race(slug):
        ServiceFactory(**rival)
        return resolve_system(slug)

    monkeypatch.setattr(writes, "_resolve_system", resolve_then_lose_the_race)


def test_a_slug_lost_to_a_concurrent_create_is_the_same_409_as_a_taken_slug(member_client, team, monkeypatch):
    ServiceFactory(slug="ledger", owner_team=team, repository=None)
    sequential = member_client.post(LIST, {"slug": "ledger", "owner": "payments"}, format="json")
    Service.objects.all().delete()
    _saved_meanwhile(monkeypatch, slug="ledger", owner_team=team, repository=None)
    response = member_client.post(LIST, {"slug": "ledger", "owner": "payments"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json() == sequential.json() == {"detail": "A service named 'ledger' exists already.",
                                                     "errors": {"slug": ["already taken"]}}


def test_a_repository_lost_to_a_concurrent_create_is_409_naming_the_repository(member_client, team, monkeypatch):
    _saved_meanwhile(monkeypatch, slug="books", owner_team=team, repository="github.com/acme/ledger")
    response = member_client.post(LIST, {"slug": "ledger", "owner": "payments",
                                         "repository": "https://github.com/ACME/ledger"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["errors"] == {"repository": ["already registered to another service"]}


@pytest.mark.django_db(transaction=True)
def test_two_creates_of_one_slug_at_once_on_postgresql_one_wins_the_other_gets_409(member, team, monkeypatch):
    """The real race: two transactions both pass the existence check, then both insert; the loser's
    insert waits for the winner's commit and fails on the unique index."""
    import threading

    from django.db import connection, connections
    from rest_framework.test import APIClient

    from tests.factories import token_for

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes write transactions: its second create sees the first one's row")
    both_checked = threading.Barrier(2)
    resolve_system = writes._resolve_system

    def resolve_once_both_have_checked(slug):
        both_checked.wait(timeout=10)
        return resolve_system(slug)

    monkeypatch.setattr(writes, "_resolve_system", resolve_once_both_have_checked)
    token = token_for(member)
    answers = []

    def create() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            response = client.post(LIST, {"slug": "ledger", "owner": "payments"}, format="json")
            answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(status for status, _ in answers) == [201, 409], answers
    assert [body for status, body in answers if status == 409] == [
        {"detail": "A service named 'ledger' exists already.", "errors": {"slug": ["already taken"]}}]
    assert Service.objects.filter(slug="ledger").count() == 1


def test_a_viewer_cannot_register_a_service_for_a_team_they_are_not_in(viewer_client, team):
    response = viewer_client.post(LIST, {"slug": "x", "owner": "payments"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert not Service.objects.exists()


def test_only_a_platform_admin_registers_a_service_owned_by_one_person(viewer_client, staff_client):
    # Registering claims the repository: no one claims one for themselves (README, "Who may do what").
    refused = viewer_client.post(LIST, {"slug": "my-tool", "owner": "user:vic"}, format="json")
    assert refused.status_code == 403
    response = staff_client.post(LIST, {"slug": "my-tool", "owner": "user:vic"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["owner_detail"]["kind"] == "user"


def test_members_update_their_service_and_the_change_is_audited(member_client, service):
    response = member_client.patch(f"{LIST}ledger/", {"tier": 2, "lifecycle": "deprecated"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tier"] == 2
    event = AuditEvent.objects.filter(action="service.update").get()
    assert event.changes == {"tier": [None, 2], "lifecycle": ["production", "deprecated"]}


def test_non_members_cannot_update_or_delete(viewer_client, service):
    assert viewer_client.patch(f"{LIST}ledger/", {"tier": 2}, format="json").status_code == 403
    assert viewer_client.delete(f"{LIST}ledger/").status_code == 403
    assert viewer_client.post(f"{LIST}ledger/archive/").status_code == 403
    assert Service.objects.get(slug="ledger").tier is None


def test_staff_may_update_any_service(staff_client, service):
    assert staff_client.patch(f"{LIST}ledger/", {"tier": 1}, format="json").status_code == 200


def test_handing_a_service_to_another_team_takes_its_lead_and_membership_of_the_other(member_client, service):
    TeamFactory(slug="growth")
    MembershipFactory(user=member_client.user, team__slug="data")
    assert member_client.patch(f"{LIST}ledger/", {"owner": "data"}, format="json").status_code == 403  # a member
    assert member_client.patch(f"{LIST}ledger/", {"owner": "user:mia"}, format="json").status_code == 403
    Membership.objects.filter(user=member_client.user, team=service.owner_team).update(role=Membership.Role.LEAD)
    member_client.user.__dict__.pop("_slipway_roles", None)
    assert member_client.patch(f"{LIST}ledger/", {"owner": "growth"}, format="json").status_code == 403  # not in it
    assert member_client.patch(f"{LIST}ledger/", {"owner": "data"}, format="json").status_code == 200
    assert Service.objects.get(slug="ledger").owner_team.slug == "data"


def test_update_of_a_missing_service_is_404(member_client, db):
    assert member_client.patch(f"{LIST}ghost/", {"tier": 1}, format="json").status_code == 404


def test_bad_update_values_are_400_naming_the_field(member_client, service):
    response = member_client.patch(f"{LIST}ledger/", {"tier": 0, "owner": ""}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"tier"}


def test_archive_hides_and_delete_removes(member_client, service):
    assert member_client.post(f"{LIST}ledger/archive/").json()["archived"] is True
    assert member_client.get(LIST).json()["count"] == 0
    assert member_client.delete(f"{LIST}ledger/").status_code == 204
    assert not Service.objects.exists()
    assert AuditEvent.objects.filter(action="service.delete").exists()


def test_the_browsable_api_offers_a_form_with_the_owner(member_client, service):
    page = member_client.get(LIST, HTTP_ACCEPT="text/html").content.decode()
    form = page.split('enctype="multipart/form-data"', 1)[1].split("</form>", 1)[0]  # the POST form
    assert 'name="owner"' in form and 'name="slug"' in form and 'name="repository"' in form
