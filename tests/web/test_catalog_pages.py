"""The catalog's web pages: home and search, catalog, service, team, who-owns, in-place editing.

Pages are rendered by the Django test client as a signed-in person. Query counts are pinned with a
comment naming each query, for 1 row and for 50.
"""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from services.catalog import writes
from services.models import AuditEvent, Membership, ProvisioningRun, Service, System
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RunbookFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)
from tests.web.conftest import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich_service(service, team, member):
    """`ledger` with environments, a runbook, a dependency each way, links, tags and a parent team."""
    team.parent = TeamFactory(slug="finance", name="Finance")
    team.save()
    lead = UserFactory(username="lea", first_name="Lea", last_name="Lead")
    MembershipFactory(user=lead, team=team, role=Membership.Role.LEAD)
    EnvironmentFactory(service=service, name="production", url="https://ledger.example.org",
                       required_reviewers=["payments"], wait_timer=10, branch_policy="main")
    EnvironmentFactory(service=service, name="staging")
    RunbookFactory(service=service, slug="on-call", title="On-call runbook", last_reviewed=datetime.date.today())
    upstream = ServiceFactory(slug="accounts", owner_team=team)
    downstream = ServiceFactory(slug="billing", owner_team=team)
    writes.service_update(actor=member, service=service, data={
        "depends_on": ["accounts", "component:default/not-yet-here"],
        "links": [{"url": "https://grafana.example.org/d/ledger", "title": "Dashboard"}],
        "tags": ["python", "money"], "tier": 1, "language": "Python",
        "template": "python-service", "template_version": "abc123",
    })
    writes.service_update(actor=member, service=downstream, data={"depends_on": ["ledger"]})
    assert upstream
    return Service.objects.get(slug="ledger")


# ---------------------------------------------------------------------------------------------
# Sign-in.


@pytest.mark.parametrize("path", [
    "/services/", "/services/ledger/", "/services/ledger/edit/", "/services/ledger/history/", "/teams/",
    "/teams/payments/", "/ownership/?q=ledger", "/search/?q=led", "/services/ledger/runbooks/on-call/",
    "/services/ledger/runbooks/on-call/history/", "/services/ledger/new-runbook/",
])
def test_anonymous_visitors_are_sent_to_sign_in(client, rich_service, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_partial_update_for_a_signed_out_visitor_redirects_the_whole_page(client, service):
    response = client.get("/search/", {"q": "led", "fragment": "suggestions"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")
    assert response.content == b""


def test_home_asks_anonymous_visitors_to_sign_in_and_shows_no_catalog(client, service):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "to browse the catalog" in body
    assert "ledger" not in body


def test_login_page_has_labelled_fields_and_signs_in(client, viewer):
    viewer.set_password("a-long-password-1")
    viewer.save()
    page = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert "csrfmiddlewaretoken" in page
    response = client.post("/accounts/login/", {"username": "vic", "password": "a-long-password-1"})
    assert response.status_code == 302
    assert "Sign out vic" in client.get("/").content.decode()


# ---------------------------------------------------------------------------------------------
# Every page renders for a signed-in viewer.


@pytest.mark.parametrize(("path", "title"), [
    ("/", "Home · Slipway"),
    ("/services/", "Catalog · Slipway"),
    ("/services/ledger/", "Ledger · Catalog · Slipway"),
    ("/services/ledger/history/", "History of Ledger · Catalog · Slipway"),
    ("/teams/", "Teams · Slipway"),
    ("/teams/payments/", "Payments · Teams · Slipway"),
    ("/ownership/", "Who owns this? · Slipway"),
    ("/search/?q=ledger", "“ledger” · Search · Slipway"),
    ("/services/ledger/runbooks/on-call/", "On-call runbook · Ledger · Slipway"),
    ("/services/ledger/runbooks/on-call/history/", "History of On-call runbook · Ledger · Slipway"),
])
def test_each_page_renders_with_a_title_saying_where_you_are(viewer_web, rich_service, path, title):
    response = viewer_web.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert f"<title>{title}</title>" in body
    assert 'href="#main"' in body  # skip link
    assert 'aria-label="Main"' in body


def test_navigation_marks_the_current_section(viewer_web, rich_service):
    body = viewer_web.get("/teams/payments/").content.decode()
    assert '<a href="/teams/" aria-current="page">Teams</a>' in body
    assert '<a href="/services/">Catalog</a>' in body
    for path in ("/ownership/", "/create/", "/runs/"):
        assert f'href="{path}"' in body


def test_unknown_service_team_and_runbook_answer_the_styled_404(viewer_web, rich_service):
    for path in ("/services/nope/", "/teams/nope/", "/services/ledger/runbooks/nope/", "/services/nope/edit/"):
        response = viewer_web.get(path)
        assert response.status_code == 404, path
        assert "There is nothing here" in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Home and search.


def test_home_shows_my_teams_services_recent_runs_and_the_create_call_to_action(member_web, rich_service, team,
                                                                               member):
    ServiceFactory(slug="someone-elses")
    run = ProvisioningRun.objects.create(template="python-service", template_version="v1", owner=team,
                                         requested_by=member, service_slug="new-thing", host="local")
    body = member_web.get("/").content.decode()
    assert "My teams' services" in body
    assert 'href="/services/ledger/"' in body
    assert "someone-elses" not in body
    assert f'href="/runs/{run.id}/"' in body
    assert 'href="/create/"' in body and "Create a service" in body


@pytest.mark.parametrize("rows", [1, 50])
def test_home_costs_a_fixed_number_of_queries(member_web, team, member, rows, django_assert_max_num_queries):
    for number in range(rows):
        ProvisioningRun.objects.create(template="python-service", template_version="v1", owner=team,
                                       requested_by=member, service_slug=f"new-{number}", host="local")
    ServiceFactory.create_batch(rows, owner_team=team)
    # Expect 7 queries: session, user, count services, count teams, count people, my teams' services
    # (owner joined), the 5 latest runs (team and requester joined).
    with django_assert_max_num_queries(7):
        response = member_web.get("/")
    assert response.status_code == 200
    assert len(response.context["my_services"]) == min(rows, 10)


def test_search_suggestions_answer_services_teams_and_people_as_a_fragment(viewer_web, rich_service):
    UserFactory(username="ledgerman", first_name="Ledger", last_name="Man")
    response = viewer_web.get("/search/", {"q": "ledg", "fragment": "suggestions"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body  # a fragment
    assert 'href="/services/ledger/"' in body
    assert 'href="/people/ledgerman/"' in body
    teams = viewer_web.get("/search/", {"q": "payments", "fragment": "suggestions"}, HTTP_HX_REQUEST="true")
    assert 'href="/teams/payments/"' in teams.content.decode()


def test_search_without_javascript_is_a_results_page(viewer_web, rich_service):
    response = viewer_web.get("/search/", {"q": "ledger"})
    body = response.content.decode()
    assert "<html" in body and 'href="/services/ledger/"' in body
    assert "Nothing matches" in viewer_web.get("/search/", {"q": "zzzz-nothing"}).content.decode()


def test_home_search_box_is_wired_to_the_suggestions_and_works_without_javascript(viewer_web, service):
    body = viewer_web.get("/").content.decode()
    assert 'action="/search/"' in body
    assert 'hx-get="/search/?fragment=suggestions"' in body
    assert 'delay:250ms' in body
    assert 'django_htmx/htmx-2.min.js' in body


# ---------------------------------------------------------------------------------------------
# The catalog.


@pytest.fixture
def catalog_rows(team, member):
    other = TeamFactory(slug="search", name="Search")
    system = System.objects.create(slug="money", name="Money")
    ServiceFactory(slug="alpha", owner_team=team, lifecycle="production", type="service", tier=1,
                   tags=["python", "pci"], system=system)
    ServiceFactory(slug="bravo", owner_team=team, lifecycle="experimental", type="website", tier=2, tags=["go"])
    ServiceFactory(slug="charlie", owner_team=other, lifecycle="deprecated", type="library", tier=3,
                   tags=["python"], description="Indexes documents")
    ServiceFactory(slug="delta", owner_team=None, owner_user=member, lifecycle="production", type="worker", tags=[])
    ServiceFactory(slug="echo", owner_team=other, archived=True)


def _slugs(response) -> list[str]:
    return [service.slug for service in response.context["services"]]


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["alpha", "bravo", "charlie", "delta"]),
    ({"owner": "payments"}, ["alpha", "bravo"]),
    ({"owner": "user:mia"}, ["delta"]),
    ({"lifecycle": "production"}, ["alpha", "delta"]),
    ({"type": "website"}, ["bravo"]),
    ({"tier": "3"}, ["charlie"]),
    ({"tag": "python"}, ["alpha", "charlie"]),
    ({"system": "money"}, ["alpha"]),
    ({"q": "documents"}, ["charlie"]),
    ({"archived": "true"}, ["echo"]),
    ({"sort": "tier"}, ["alpha", "bravo", "charlie", "delta"]),
    ({"sort": "type"}, ["charlie", "alpha", "bravo", "delta"]),
    ({"sort": "owner", "lifecycle": "production"}, ["alpha", "delta"]),  # person-owned after teams
    ({"sort": "updated"}, ["delta", "charlie", "bravo", "alpha"]),
])
def test_catalog_filters_and_sorts_like_the_api(viewer_web, catalog_rows, query, expected):
    response = viewer_web.get("/services/", query)
    assert response.status_code == 200
    assert _slugs(response) == expected


def test_catalog_hides_archived_services_by_default(viewer_web, catalog_rows):
    body = viewer_web.get("/services/").content.decode()
    assert "/services/echo/" not in body
    assert "4 services" in body


def test_catalog_shows_a_bad_filter_value_next_to_its_field(viewer_web, catalog_rows):
    response = viewer_web.get("/services/", {"tier": "9"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="filter-tier-errors"' in body
    assert "No services match" in body


@pytest.mark.parametrize(("param", "value", "message"), [
    ("lifecycle", "x" * 101, "a lifecycle is at most 100 characters on one line"),
    ("tag", "Not A Tag!", "a tag is 1 to 63 characters"),
    ("q", "w" * 60_000, "search words are at most 200 characters in all"),  # was SQLite's "LIKE pattern too complex"
])
def test_catalog_says_which_filter_value_is_malformed_in_words(viewer_web, catalog_rows, param, value, message):
    response = viewer_web.get("/services/", {param: value})
    assert response.status_code == 400
    body = response.content.decode()
    assert f"<strong>{param}</strong>: {message}" in body
    assert "No services match" in body


def test_catalog_answers_a_well_formed_lifecycle_no_service_has_with_an_empty_list(viewer_web, catalog_rows):
    response = viewer_web.get("/services/", {"lifecycle": "bogus"})
    assert response.status_code == 200
    assert _slugs(response) == []


def test_catalog_refuses_an_unknown_sort_next_to_its_field(viewer_web, catalog_rows):
    response = viewer_web.get("/services/", {"sort": "password"})
    assert response.status_code == 400
    assert 'id="filter-sort-errors"' in response.content.decode()


def test_catalog_paginates_fifty_per_page_keeping_the_filters(viewer_web, team):
    ServiceFactory.create_batch(120, owner_team=team, lifecycle="production")
    first = viewer_web.get("/services/", {"lifecycle": "production"})
    assert len(first.context["services"]) == 50
    body = first.content.decode()
    assert "Page 1 of 3" in body
    assert 'href="?lifecycle=production&amp;page=2"' in body
    third = viewer_web.get("/services/", {"lifecycle": "production", "page": "3"})
    assert len(third.context["services"]) == 20
    assert viewer_web.get("/services/", {"page": "nonsense"}).status_code == 200


def _main(response) -> str:
    """The page's content (the frame around it carries a per-request CSRF token)."""
    body = response.content.decode()
    return body[body.index("<main"):body.index("</main>")]


@pytest.mark.parametrize("rows", [1, 50])
def test_catalog_page_costs_a_fixed_number_of_queries(viewer_web, team, member, rows,
                                                      django_assert_max_num_queries):
    system = System.objects.create(slug="core", name="Core")
    ServiceFactory.create_batch(rows - rows // 2, owner_team=team, system=system)
    ServiceFactory.create_batch(rows // 2, owner_team=None, owner_user=member)
    # Expect 7 queries: session, user, the catalog generation (services.http.page_cache), the teams offered
    # by the owner filter, the systems offered by the system filter, count the matching services, the
    # page of services (owner team, owner person with profile and system joined).
    with django_assert_max_num_queries(7):
        response = viewer_web.get("/services/", {"sort": "name"})
    assert len(response.context["services"]) == rows
    # Asked again, the content comes from the cache: session, user, generation.
    with django_assert_max_num_queries(3):
        again = viewer_web.get("/services/", {"sort": "name"})
    assert _main(again) == _main(response)


# ---------------------------------------------------------------------------------------------
# A service.


def test_service_page_shows_owner_contacts_environments_runbooks_dependencies_and_history(viewer_web,
                                                                                          rich_service):
    body = viewer_web.get("/services/ledger/").content.decode()
    # The owner team, its members and one click to reach it.
    assert 'href="/teams/payments/"' in body
    assert "mailto:payments@example.org" in body
    assert "#payments" in body
    assert 'href="https://oncall.example.org/payments"' in body
    assert "Lea Lead" in body and "mia" in body
    assert 'href="/teams/finance/"' in body  # escalation to the parent team
    # Repository, environments with protection, runbooks.
    assert 'href="https://github.com/acme/ledger"' in body
    assert "production" in body and "10 min" in body and "<code>main</code>" in body
    assert 'href="/services/ledger/runbooks/on-call/"' in body
    # Dependencies both ways, a dependency not in the catalog as text.
    assert 'href="/services/accounts/"' in body
    assert 'href="/services/billing/"' in body
    assert "component:default/not-yet-here" in body
    # Links, tags, origin template, history.
    assert 'href="https://grafana.example.org/d/ledger"' in body
    assert 'href="/services/?tag=money"' in body
    assert "python-service" in body and "abc123" in body
    assert "changed" in body and "tier" in body


@pytest.mark.parametrize("rows", [1, 50])
def test_service_page_costs_a_fixed_number_of_queries(viewer_web, rich_service, team, member, rows,
                                                      django_assert_max_num_queries):
    for number in range(rows):
        EnvironmentFactory(service=rich_service, name=f"env-{number}")
        RunbookFactory(service=rich_service)
        dependent = ServiceFactory(owner_team=team)
        writes.service_update(actor=member, service=dependent, data={"depends_on": ["ledger"]})
        MembershipFactory(team=team)
    # Expect 12 queries: session, user, the catalog generation (services.http.page_cache), the service
    # (owner team and its parent, owner person, system, origin location joined), its dependencies,
    # dependents, links (APIs; none here, so none resolved), environments, runbooks, the owner team's
    # members (with profiles: whether the viewer is one, so may edit, is read from them), the latest
    # history, the conflicts naming it (with locations).
    with django_assert_max_num_queries(12):
        response = viewer_web.get("/services/ledger/")
    assert response.status_code == 200
    # Asked again, the content comes from the cache: session, user, generation, whether the viewer is
    # a member of the owning team.
    with django_assert_max_num_queries(4):
        again = viewer_web.get("/services/ledger/")
    assert _main(again) == _main(response)


def test_service_owned_by_a_person_shows_the_person(viewer_web, member):
    ServiceFactory(slug="solo", owner_team=None, owner_user=member)
    body = viewer_web.get("/services/solo/").content.decode()
    assert "mailto:mia@example.org" in body
    assert "/ownership/?q=user:mia" in body


def test_owners_see_edit_controls_and_non_owners_none(member_web, viewer_web, rich_service):
    owner_page = member_web.get("/services/ledger/").content.decode()
    assert 'href="/services/ledger/edit/"' in owner_page
    assert 'href="/services/ledger/new-runbook/"' in owner_page
    assert 'href="/services/ledger/runbooks/on-call/edit/"' in member_web.get(
        "/services/ledger/runbooks/on-call/").content.decode()
    viewer_page = viewer_web.get("/services/ledger/").content.decode()
    assert "/edit/" not in viewer_page
    assert "new-runbook" not in viewer_page
    assert "/edit/" not in viewer_web.get("/services/ledger/runbooks/on-call/").content.decode()


def test_staff_may_edit_any_service(staff, rich_service):
    assert 'href="/services/ledger/edit/"' in web_client(staff).get("/services/ledger/").content.decode()


EDIT = {"name": "Ledger", "description": "Double-entry book-keeping.", "lifecycle": "production",
        "type": "service", "tier": "2", "language": "Python", "tags": "python, money ledger",
        "links": "https://grafana.example.org/d/ledger Dashboard\nhttps://runbooks.example.org"}


def test_owner_edits_a_service_and_the_change_is_audited(member_web, member, rich_service):
    response = member_web.post("/services/ledger/edit/", EDIT)
    assert response.status_code == 302
    assert response["Location"] == "/services/ledger/"
    service = Service.objects.get(slug="ledger")
    assert service.description == "Double-entry book-keeping."
    assert service.tier == 2
    assert service.tags == ["python", "money", "ledger"]
    assert service.links == [{"url": "https://grafana.example.org/d/ledger", "title": "Dashboard"},
                             {"url": "https://runbooks.example.org"}]
    event = AuditEvent.objects.filter(action="service.update", object_id=str(service.pk)).first()
    assert event.actor == member
    assert event.source == "web"
    assert event.changes["tier"] == [1, 2]
    assert "Saved." in member_web.get("/services/ledger/").content.decode()


def test_owner_edit_through_htmx_swaps_the_summary_and_the_history(member_web, rich_service):
    form = member_web.get("/services/ledger/edit/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in form and 'id="service-summary"' in form and "csrfmiddlewaretoken" in form
    response = member_web.post("/services/ledger/edit/", {**EDIT, "lifecycle": "deprecated"},
                               HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="service-summary"' in body and "Saved." in body
    assert 'id="history" class="card" aria-labelledby="history-title" hx-swap-oob="true"' in body
    assert "production → deprecated" in body
    assert Service.objects.get(slug="ledger").lifecycle == "deprecated"


def test_the_edit_form_keeps_link_details_it_does_not_show(member_web, member, rich_service):
    writes.service_update(actor=member, service=rich_service, data={"links": [
        {"url": "https://grafana.example.org/d/ledger", "title": "Dashboard", "type": "dashboard", "icon": "chart"}]})
    member_web.post("/services/ledger/edit/", {**EDIT, "links": "https://grafana.example.org/d/ledger Graphs"})
    assert Service.objects.get(slug="ledger").links == [
        {"url": "https://grafana.example.org/d/ledger", "title": "Graphs", "type": "dashboard", "icon": "chart"}]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("tier", "7", "Select a valid choice"),
    ("tags", "Not A Tag!", "A tag is 1 to 63 characters: lowercase letters, digits"),
    ("links", "javascript:alert(1) Click", "is not an http or https URL"),
    ("name", "", "This field is required"),
    ("lifecycle", "x" * 101, "at most 100 characters"),
])
def test_bad_edit_values_are_shown_next_to_their_field_and_change_nothing(member_web, rich_service, field,
                                                                           value, message):
    before = AuditEvent.objects.count()
    response = member_web.post("/services/ledger/edit/", {**EDIT, field: value})
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="id_{field}_errors"' in body
    assert message in body
    assert 'aria-invalid="true"' in body
    assert AuditEvent.objects.count() == before
    assert Service.objects.get(slug="ledger").description == rich_service.description
    htmx = member_web.post("/services/ledger/edit/", {**EDIT, field: value}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and f'id="id_{field}_errors"' in htmx.content.decode()


def test_non_owners_are_refused_the_edit_form_and_the_write(viewer_web, rich_service):
    assert viewer_web.get("/services/ledger/edit/").status_code == 403
    response = viewer_web.post("/services/ledger/edit/", EDIT)
    assert response.status_code == 403
    assert "You may not do that" in response.content.decode()
    assert Service.objects.get(slug="ledger").description == rich_service.description


def test_the_edit_form_needs_a_csrf_token(member, rich_service):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post("/services/ledger/edit/", EDIT).status_code == 403
    assert Service.objects.get(slug="ledger").tier == 1


def test_service_history_page_lists_every_event(viewer_web, member, rich_service):
    for number in range(20):
        writes.service_update(actor=member, service=rich_service, data={"description": f"v{number}"})
    full = viewer_web.get("/services/ledger/history/")
    assert full.status_code == 200
    assert len(full.context["history"]) > 20
    assert 'href="/services/ledger/history/"' in viewer_web.get("/services/ledger/").content.decode()


# ---------------------------------------------------------------------------------------------
# Teams.


def test_team_page_shows_members_roles_services_parent_children_and_contacts(viewer_web, rich_service):
    TeamFactory(slug="payments-fraud", name="Fraud", parent=rich_service.owner_team)
    body = viewer_web.get("/teams/payments/").content.decode()
    assert "Lea Lead" in body and ">lead<" in body
    assert 'href="/services/ledger/"' in body and 'href="/services/billing/"' in body
    assert 'href="/teams/finance/"' in body and 'href="/teams/payments-fraud/"' in body
    assert "mailto:payments@example.org" in body


@pytest.mark.parametrize("rows", [1, 50])
def test_team_page_costs_a_fixed_number_of_queries(viewer_web, team, rows, django_assert_max_num_queries):
    ServiceFactory.create_batch(rows, owner_team=team)
    MembershipFactory.create_batch(rows, team=team)
    TeamFactory.create_batch(rows, parent=team)
    # Expect 8 queries: session, user, the team (parent joined, member and service counts as
    # subqueries), its members (people and profiles joined), its child teams, its first 50 services,
    # its recent history, the viewer's role in the team (may they edit it?).
    with django_assert_max_num_queries(8):
        response = viewer_web.get("/teams/payments/")
    assert response.status_code == 200


def test_team_page_lists_fifty_services_and_links_to_the_rest(viewer_web, team):
    ServiceFactory.create_batch(60, owner_team=team)
    response = viewer_web.get("/teams/payments/")
    assert len(response.context["services"]) == 50
    assert "All 60 services" in response.content.decode()


@pytest.mark.parametrize("rows", [1, 50])
def test_team_index_costs_a_fixed_number_of_queries(viewer_web, rows, django_assert_max_num_queries):
    parent = TeamFactory(slug="org")
    for team in TeamFactory.create_batch(rows, parent=parent):
        MembershipFactory(team=team)
        ServiceFactory(owner_team=team)
    # Expect 4 queries: session, user, count teams, the page of teams (parent joined; members and
    # services counted in subqueries).
    with django_assert_max_num_queries(4):
        response = viewer_web.get("/teams/")
    assert response.status_code == 200
    counts = {team.slug: (team.member_count, team.service_count) for team in response.context["teams"]}
    assert counts["org"] == (0, 0)
    assert set(counts.values()) == {(0, 0), (1, 1)}


def test_team_index_searches(viewer_web, team):
    TeamFactory(slug="search", name="Search")
    response = viewer_web.get("/teams/", {"q": "pay"})
    assert [team.slug for team in response.context["teams"]] == ["payments"]


# ---------------------------------------------------------------------------------------------
# Who owns this?


@pytest.mark.parametrize("query", [
    "ledger", "Ledger", "service:ledger", "github.com/acme/ledger", "acme/ledger", "https://github.com/acme/ledger",
    "https://github.com/acme/ledger/tree/main/src", "git@github.com:acme/ledger.git",
    "ssh://git@github.com/acme/ledger.git",
])
def test_ownership_page_finds_the_owner_of_a_service_or_repository(viewer_web, rich_service, query):
    response = viewer_web.get("/ownership/", {"q": query})
    assert response.status_code == 200, query
    body = response.content.decode()
    assert response.context["answer"]["owner"] == {"kind": "team", "ref": "group:payments"}
    assert 'href="/services/ledger/"' in body
    assert 'href="/teams/payments/"' in body
    assert "mailto:payments@example.org" in body and "Lea Lead" in body
    assert "If nobody answers, escalate to" in body and 'href="/teams/finance/"' in body


def test_ownership_page_answers_a_username_with_teams_and_services(viewer_web, rich_service):
    for query in ("mia", "user:mia"):
        response = viewer_web.get("/ownership/", {"q": query})
        assert response.status_code == 200
        assert response.context["kind"] == "user"
        body = response.content.decode()
        assert 'href="/teams/payments/"' in body
        assert 'href="/services/ledger/"' in body and "via team payments" in body


def test_ownership_page_answers_a_team(viewer_web, rich_service):
    response = viewer_web.get("/ownership/", {"q": "team:payments"})
    assert response.context["kind"] == "team"
    assert 'href="/services/ledger/"' in response.content.decode()
    assert viewer_web.get("/ownership/", {"q": "finance"}).context["kind"] == "team"


def test_ownership_page_answers_a_service_by_its_display_name(viewer_web, rich_service):
    rich_service.name = "The Ledger"
    rich_service.save()
    response = viewer_web.get("/ownership/", {"q": "the ledger"})
    assert response.status_code == 200
    assert response.context["answer"]["service"]["slug"] == "ledger"


def test_ownership_page_says_nothing_found_with_suggestions(viewer_web, rich_service):
    response = viewer_web.get("/ownership/", {"q": "ledg"})
    assert response.status_code == 404
    body = response.content.decode()
    assert "Nothing found for “ledg”" in body
    assert 'href="/services/ledger/"' in body  # suggested
    unknown = viewer_web.get("/ownership/", {"q": "github.com/acme/unknown"})
    assert unknown.status_code == 404
    assert "Things to try" in unknown.content.decode()


@pytest.mark.parametrize("query", ["http://[::1/a/b", "https://[::1/acme/ledger"])
def test_ownership_page_answers_a_malformed_repository_url_with_the_problem_not_a_server_error(viewer_web,
                                                                                                rich_service, query):
    response = viewer_web.get("/ownership/", {"q": query})
    assert response.status_code == 400  # a bad value, said next to the box
    body = response.content.decode()
    assert "is not a well-formed URL" in body and 'aria-invalid="true"' in body


def test_ownership_page_without_a_question_shows_the_box(viewer_web, service):
    response = viewer_web.get("/ownership/")
    assert response.status_code == 200
    assert '<label for="id_q">' in response.content.decode()
    assert viewer_web.get("/ownership/", {"q": "x" * 600}).status_code == 400


def test_ownership_page_gives_the_api_answer(viewer_web, viewer_client, rich_service):
    page = viewer_web.get("/ownership/", {"q": "https://github.com/acme/ledger"}).context["answer"]
    api = viewer_client.get("/api/v1/ownership/", {"repo": "https://github.com/acme/ledger"}).json()
    assert page == api


def test_a_service_on_the_local_host_shows_its_clone_path_not_a_dead_web_link(viewer_web, viewer_client, team):
    from tests.factories import ServiceFactory

    ServiceFactory(slug="ledger-api", owner_team=team, repository="localhost/slipway/ledger-api",
                   annotations={"slipway.dev/local-repository": "/srv/slipway/repositories/slipway/ledger-api.git"})
    body = viewer_web.get("/services/ledger-api/").content.decode()
    assert "https://localhost" not in body
    assert "git clone /srv/slipway/repositories/slipway/ledger-api.git" in body
    assert "https://localhost" not in viewer_web.get("/ownership/", {"q": "ledger-api"}).content.decode()
    answer = viewer_client.get("/api/v1/ownership/", {"service": "ledger-api"}).json()
    assert answer["service"]["repository_url"] == ""


def test_a_near_miss_in_the_form_is_a_question_saved_when_sent_again(client, member, rich_service):
    client.force_login(member)
    form = {"name": "Ledger", "lifecycle": "prodution", "type": "service", "tier": "", "language": "",
            "tags": "", "links": "", "description": ""}

    first = client.post(f"/services/{rich_service.slug}/edit/", form)

    assert first.status_code == 400
    body = first.content.decode()
    assert "did you mean “production”? Save again to keep “prodution” as written." in body
    assert 'name="confirmed_lifecycle" value="prodution"' in body
    again = client.post(f"/services/{rich_service.slug}/edit/", {**form, "confirmed_lifecycle": "prodution"})
    assert again.status_code == 302
    rich_service.refresh_from_db()
    assert rich_service.lifecycle == "prodution"
