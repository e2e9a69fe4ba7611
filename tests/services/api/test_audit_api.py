"""The audit log: read through /api/v1/audit/ with filters and per-reader visibility, request ids on
every answer, and no interface (API, admin, model, queryset) that edits or deletes an event."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from services.access import tokens
from services.audit import audit_source
from services.catalog import people, reads, writes
from services.models import AuditEvent, AuditLogIsAppendOnly, Service
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit/"


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _actions(response) -> list[str]:
    return [event["action"] for event in _results(response)]


@pytest.fixture
def history(team, member, staff):
    """Catalog writes by `mia` (a member of payments) and `sam` (staff) through the service layer."""
    other_team = TeamFactory(slug="search", name="Search")
    ledger = writes.service_create(actor=member, slug="ledger", owner="payments")
    writes.service_update(actor=member, service=ledger, data={"description": "Keeps the books"})
    writes.runbook_create(actor=member, service=ledger, title="On call", body="# Page someone")
    writes.environment_create(actor=member, service=ledger, name="production", wait_timer=5)
    writes.service_create(actor=staff, slug="indexer", owner="search")
    people.team_update(actor=staff, team=team, data={"description": "Money"})
    people.membership_set(actor=staff, team=team, user=UserFactory(username="lea"), role="lead")
    people.team_update(actor=staff, team=other_team, data={"description": "Finds things"})
    return ledger


# ---------------------------------------------------------------------------------------------
# Reading.


def test_anonymous_callers_read_nothing(anon_client, history):
    response = anon_client.get(URL)
    assert response.status_code in (401, 403)
    assert "results" not in response.json()


def test_list_is_newest_first_with_every_recorded_field(viewer_client, history, member):
    events = _results(viewer_client.get(URL, {"object_type": "service"}))
    assert [(e["action"], e["object_repr"]) for e in events] == [
        ("service.create", "indexer"), ("service.update", "ledger"), ("service.create", "ledger")]
    update = events[1]
    assert update["actor"] == "mia"
    assert update["changes"] == {"description": ["", "Keeps the books"]}
    assert update["object_id"] == str(history.pk)
    assert update["source"] == "command" and update["request_id"]
    assert update["url"].endswith(f"/api/v1/audit/{update['id']}/")
    detail = viewer_client.get(update["url"])
    assert detail.status_code == 200 and detail.json() == update


def test_ordering_is_by_time_only_and_a_bad_field_is_a_400_naming_ordering(viewer_client, history):
    oldest_first = _results(viewer_client.get(URL, {"ordering": "created_at", "page_size": 200}))
    newest_first = _results(viewer_client.get(URL, {"page_size": 200}))
    assert [e["id"] for e in oldest_first] == [e["id"] for e in reversed(newest_first)]
    assert [e["id"] for e in oldest_first] == sorted(e["id"] for e in oldest_first)
    response = viewer_client.get(URL, {"ordering": "actor_name"})
    assert response.status_code == 400
    assert "ordering" in response.json()["errors"]


def test_pages_of_events_neither_repeat_nor_skip_events_of_the_same_instant(viewer_client, team, member):
    for n in range(7):
        people.team_update(actor=member, team=team, data={"description": f"v{n}"})
    same_instant = timezone.now().replace(microsecond=0)
    AuditEvent._base_manager.filter(action="team.update").update(created_at=same_instant)  # test setup only
    for ordering in ("created_at", "-created_at"):
        seen = []
        for page in (1, 2, 3):
            seen += [e["id"] for e in _results(viewer_client.get(URL, {"action": "team.update", "page_size": 3,
                                                                       "page": page, "ordering": ordering}))]
        assert len(seen) == 7 and len(set(seen)) == 7


def test_service_filter_selects_the_service_its_runbooks_and_environments(viewer_client, history):
    response = viewer_client.get(URL, {"service": "ledger"})
    assert _actions(response) == ["environment.create", "runbook.create", "service.update", "service.create"]
    assert {e["object_repr"] for e in _results(response)} >= {"ledger"}
    # The same selector as the service page's history.
    assert [e["id"] for e in _results(response)] == list(
        reads.service_history(history).values_list("id", flat=True))


def test_service_filter_includes_dependency_changes(viewer_client, history, member):
    ServiceFactory(slug="accounts", owner_team=history.owner_team)
    writes.service_update(actor=member, service=history, data={"depends_on": ["accounts"]})
    events = _results(viewer_client.get(URL, {"service": "ledger", "action": "service.update"}))
    assert any("depends_on" in e["changes"] for e in events)


def test_team_filter_selects_the_team_its_memberships_and_the_services_it_owns(viewer_client, history):
    events = _results(viewer_client.get(URL, {"team": "payments"}))
    assert [(e["action"], e["object_repr"]) for e in events] == [
        ("team.member_set", "payments"), ("team.update", "payments"),
        ("service.update", "ledger"), ("service.create", "ledger")]
    assert events[0]["changes"] == {"member": "lea", "role": [None, "lead"]}
    search = _results(viewer_client.get(URL, {"team": "SEARCH"}))
    assert [(e["action"], e["object_repr"]) for e in search] == [("team.update", "search"), ("service.create", "indexer")]


@pytest.mark.parametrize(("params", "expected"), [
    ({"actor": "sam"}, ["team.update", "team.member_set", "team.update", "service.create"]),
    ({"actor": "MIA", "object_type": "runbook"}, ["runbook.create"]),
    ({"action": "team.update"}, ["team.update", "team.update"]),
    ({"object_type": "environment"}, ["environment.create"]),
    ({"source": "api"}, []),
    ({"actor": "nobody"}, []),
])
def test_filters_select_by_actor_action_object_type_and_source(viewer_client, history, params, expected):
    assert _actions(viewer_client.get(URL, {**params, "page_size": 200})) == expected


def test_request_id_filter_gathers_one_requests_events(viewer_client, history, member):
    with audit_source("api", "deploy-42"):
        writes.service_update(actor=member, service=history, data={"tier": 1})
        writes.runbook_create(actor=member, service=history, title="Rollback")
    events = _results(viewer_client.get(URL, {"request_id": "deploy-42"}))
    assert [(e["action"], e["source"]) for e in events] == [("runbook.create", "api"), ("service.update", "api")]


def test_since_and_until_bound_the_time_and_take_iso_datetimes(viewer_client, history, member):
    AuditEvent._base_manager.all().update(created_at=timezone.now() - datetime.timedelta(days=3))  # test setup only
    writes.service_update(actor=member, service=history, data={"tier": 2})
    yesterday = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert _actions(viewer_client.get(URL, {"since": yesterday})) == ["service.update"]
    older = _actions(viewer_client.get(URL, {"until": yesterday, "page_size": 200}))
    assert older and "service.update" in older and len(older) == AuditEvent.objects.count() - 1
    assert _actions(viewer_client.get(URL, {"since": "2000-01-01", "until": "2000-01-02"})) == []


@pytest.mark.parametrize(("params", "field"), [
    ({"service": "nope"}, "service"),
    ({"team": "nope"}, "team"),
    ({"source": "email"}, "source"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2024-13-01T00:00:00"}, "until"),
    ({"page_size": "1000"}, "page_size"),
])
def test_a_bad_filter_value_is_a_400_naming_the_parameter(viewer_client, history, params, field):
    response = viewer_client.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors"} and field in body["errors"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_no_method_writes_to_the_audit_log(staff_client, history, method):
    event = AuditEvent.objects.first()
    before = list(AuditEvent.objects.order_by("id").values())
    for url in (URL, f"{URL}{event.pk}/"):
        response = getattr(staff_client, method)(url, {"action": "forged"}, format="json")
        assert response.status_code == 405, (method, url)
    assert list(AuditEvent.objects.order_by("id").values()) == before


# ---------------------------------------------------------------------------------------------
# Who sees which events.


def test_api_token_events_are_seen_by_the_token_owner_and_staff_only(member_client, viewer_client, staff_client,
                                                                     member, viewer):
    token, _ = tokens.token_create(actor=member, user=member, name="ci")
    tokens.token_revoke(actor=member, token=token)
    mine = _results(member_client.get(URL, {"object_type": "apitoken", "page_size": 200}))
    assert {e["object_id"] for e in mine} == {str(t.pk) for t in member.api_tokens.all()}
    assert {"token.create", "token.revoke"} <= {e["action"] for e in mine}
    others = _results(viewer_client.get(URL, {"object_type": "apitoken", "page_size": 200}))
    assert {e["object_id"] for e in others} == {str(t.pk) for t in viewer.api_tokens.all()}
    assert str(token.pk) not in {e["object_id"] for e in others}
    revoke = AuditEvent.objects.get(action="token.revoke")
    assert viewer_client.get(f"{URL}{revoke.pk}/").status_code == 404
    assert member_client.get(f"{URL}{revoke.pk}/").status_code == 200
    everyone = _results(staff_client.get(URL, {"object_type": "apitoken", "page_size": 200}))
    assert len(everyone) == AuditEvent.objects.filter(object_type="apitoken").count() >= 5


def test_catalog_events_are_seen_by_every_signed_in_person(viewer_client, history):
    catalog_events = AuditEvent.objects.exclude(object_type="apitoken").count()
    assert viewer_client.get(URL, {"page_size": 200}).json()["count"] == catalog_events + 1  # + the viewer's token


def test_a_deactivated_persons_session_reads_nothing(history, viewer):
    client = Client()
    client.force_login(viewer)
    viewer.is_active = False
    viewer.save()
    assert client.get(URL).status_code in (401, 403)


# ---------------------------------------------------------------------------------------------
# Cost.


@pytest.mark.parametrize("rows", [1, 50])
def test_audit_list_costs_a_fixed_number_of_queries(viewer_client, team, member, rows, django_assert_max_num_queries):
    service = writes.service_create(actor=member, slug="ledger", owner="payments")
    viewer_client.get(URL)  # the token's first use records it (a write the pinned requests do not make)
    for n in range(rows):
        writes.service_update(actor=member, service=service, data={"description": f"v{n}"})
    # Expect 3 queries: check the API token (user joined), count the events, the page of events
    # (the reader's own tokens as a subquery).
    with django_assert_max_num_queries(3):
        response = viewer_client.get(URL)
    assert response.json()["count"] == rows + 2  # + service.create, + the viewer's token.create
    # Expect 4 queries: the same, and the service the filter names (its runbooks and environments are
    # subqueries of the page's query).
    with django_assert_max_num_queries(4):
        response = viewer_client.get(URL, {"service": "ledger"})
    assert response.json()["count"] == rows + 1


# ---------------------------------------------------------------------------------------------
# Request ids.


def test_every_answer_carries_a_request_id_and_a_well_formed_one_is_kept(viewer_client, client, history):
    generated = {viewer_client.get(URL)["X-Request-ID"] for _ in range(2)}
    assert len(generated) == 2 and all(len(value) == 32 for value in generated)
    assert viewer_client.get(URL, HTTP_X_REQUEST_ID="trace-1.a_B")["X-Request-ID"] == "trace-1.a_B"
    assert client.get("/healthz")["X-Request-ID"]
    assert client.get("/teams/")["X-Request-ID"]  # a redirect to sign in has one too


@pytest.mark.parametrize("given", ["x" * 65, "", "abc\n", "abc def", "caf\u00e9", "a/b", "<script>", "id;drop"])
def test_a_malformed_incoming_request_id_is_replaced(viewer_client, given):
    answered = viewer_client.get(URL, HTTP_X_REQUEST_ID=given)["X-Request-ID"]
    assert answered != given and len(answered) == 32 and answered.isalnum()


def test_a_write_records_the_request_id_sent(member_client, service):
    response = member_client.patch("/api/v1/services/ledger/", {"tier": 1}, format="json",
                                   HTTP_X_REQUEST_ID="change-7")
    assert response.status_code == 200 and response["X-Request-ID"] == "change-7"
    event = AuditEvent.objects.get(action="service.update")
    assert (event.source, event.request_id) == ("api", "change-7")


def test_a_cached_read_answered_by_the_fast_path_still_carries_the_request_id(viewer_client, service,
                                                                             django_assert_max_num_queries):
    first = viewer_client.get("/api/v1/services/", HTTP_X_REQUEST_ID="first")
    assert first.status_code == 200 and first["X-Request-ID"] == "first"
    # Expect 1 query: the catalog generation (the token is remembered, the answer is cached).
    with django_assert_max_num_queries(1):
        hit = viewer_client.get("/api/v1/services/", HTTP_X_REQUEST_ID="second")
    assert hit["X-Slipway-Cache"] == "hit"
    assert hit["X-Request-ID"] == "second"
    generated = viewer_client.get("/api/v1/services/", HTTP_X_REQUEST_ID="bad id")
    assert generated["X-Slipway-Cache"] == "hit" and len(generated["X-Request-ID"]) == 32


def test_a_request_refused_for_a_nul_character_carries_a_request_id(viewer_client):
    response = viewer_client.get(URL, {"action": "a\x00b"}, HTTP_X_REQUEST_ID="nul-1")
    assert response.status_code == 400 and response["X-Request-ID"] == "nul-1"


# ---------------------------------------------------------------------------------------------
# Append-only, whatever the interface.


def test_an_event_cannot_be_changed_or_deleted_through_the_model(history):
    event = AuditEvent.objects.get(action="service.update")
    event.action = "service.forged"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "service.update"


def test_an_event_built_with_an_existing_id_does_not_overwrite_it(history):
    event = AuditEvent.objects.get(action="service.update")
    forged = AuditEvent(pk=event.pk, action="service.forged", object_type="service", object_id="1", object_repr="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "service.update"


def test_events_cannot_be_updated_or_deleted_in_bulk(history):
    count = AuditEvent.objects.count()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(action="service.update").update(action="forged")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.bulk_update(list(AuditEvent.objects.all()), ["action"])
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(action="service.update").update_or_create(
            action="service.update", defaults={"object_repr": "forged"})
    assert AuditEvent.objects.count() == count
    assert not AuditEvent.objects.filter(action="forged").exists()


def test_the_admin_offers_no_add_change_or_delete(history, staff):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(superuser)
    event = AuditEvent.objects.get(action="service.update")
    changelist = admin.get("/admin/services/auditevent/")
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    assert admin.get("/admin/services/auditevent/add/").status_code == 403
    assert admin.post(f"/admin/services/auditevent/{event.pk}/change/", {"action": "forged"}).status_code == 403
    assert admin.post(f"/admin/services/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.post("/admin/services/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk],
                                                       "post": "yes"}).status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).action == "service.update"
    # The view page shows the event read-only.
    assert admin.get(f"/admin/services/auditevent/{event.pk}/change/").status_code == 200


def test_deleting_a_service_keeps_its_events_readable_by_object(viewer_client, history, member):
    service_id = str(history.pk)
    writes.service_delete(actor=member, service=Service.objects.get(slug="ledger"))
    events = _results(viewer_client.get(URL, {"object_type": "service", "object_id": service_id}))
    assert [e["action"] for e in events] == ["service.delete", "service.update", "service.create"]
    response = viewer_client.get(URL, {"service": "ledger"})
    assert response.status_code == 400 and "object_id" in response.json()["errors"]["service"][0]


def test_deleting_a_person_keeps_their_events_under_their_name(viewer_client, history, member):
    ids = set(AuditEvent.objects.filter(actor=member).values_list("id", flat=True))
    get_user_model().objects.filter(pk=member.pk).delete()
    events = AuditEvent.objects.filter(id__in=ids)
    assert events.count() == len(ids) > 0
    assert set(events.values_list("actor_id", "actor_name")) == {(None, "mia")}
    assert {e["id"] for e in _results(viewer_client.get(URL, {"actor": "mia", "page_size": 200}))} == ids


# ---------------------------------------------------------------------------------------------
# The team page shows the team's history: the same events as ?team=.


def test_the_team_page_shows_the_teams_recent_history(viewer_client, viewer, history):
    page = Client()
    page.force_login(viewer)
    response = page.get("/teams/payments/")
    assert response.status_code == 200
    shown = [event.pk for event in response.context["team_history"]]
    assert shown == [e["id"] for e in _results(viewer_client.get(URL, {"team": "payments"}))]
    body = response.content.decode()
    assert 'id="team-history"' in body
    assert "added lea" in body and "changed the team" in body
    assert 'registered the service <a href="/services/ledger/">ledger</a>' in body
    assert "indexer" not in body  # owned by another team
    assert "All events of this team" not in body


def test_the_team_page_links_to_the_full_history_past_fifteen_events(viewer, team, staff):
    for n in range(16):
        people.team_update(actor=staff, team=team, data={"description": f"v{n}"})
    page = Client()
    page.force_login(viewer)
    response = page.get("/teams/payments/")
    assert len(response.context["team_history"]) == 15
    assert 'href="/api/v1/audit/?team=payments"' in response.content.decode()
