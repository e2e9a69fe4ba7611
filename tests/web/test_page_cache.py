"""Catalog and service pages are kept per catalog generation (services.http.page_cache): what they show
must still be right for each reader and never older than the catalog."""

from __future__ import annotations

import pytest

from services.catalog import people, writes
from services.models import Membership
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.web.conftest import web_client
from tests.web.test_catalog_pages import _main

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("first", ["viewer", "member"])
def test_editors_and_readers_each_get_their_own_service_page_whoever_came_first(service, member, viewer, first):
    readers = {"viewer": web_client(viewer), "member": web_client(member)}
    readers[first].get("/services/ledger/")  # fills the cache for one kind of reader
    member_page = readers["member"].get("/services/ledger/").content.decode()
    viewer_page = readers["viewer"].get("/services/ledger/").content.decode()
    assert "{#" not in member_page and "{% comment" not in member_page  # template comments stay comments
    assert 'data-testid="edit-service"' in member_page
    assert 'data-testid="edit-service"' not in viewer_page
    # The frame is each reader's own: their name, not the name of whoever filled the cache.
    assert f"Sign out {member.username}<" in member_page and f"Sign out {viewer.username}<" not in member_page
    assert f"Sign out {viewer.username}<" in viewer_page and f"Sign out {member.username}<" not in viewer_page


def test_a_person_owning_a_service_directly_may_edit_it_from_a_cached_page(viewer):
    owner = UserFactory(username="solo-owner")
    ServiceFactory(slug="solo", owner_team=None, owner_user=owner)
    web_client(viewer).get("/services/solo/")
    assert 'data-testid="edit-service"' in web_client(owner).get("/services/solo/").content.decode()


def test_joining_the_owning_team_makes_the_cached_page_editable_at_once(service, team, viewer, staff):
    client = web_client(viewer)
    assert 'data-testid="edit-service"' not in client.get("/services/ledger/").content.decode()
    people.membership_set(actor=staff, team=team, user=viewer, role=Membership.Role.MEMBER)
    assert 'data-testid="edit-service"' in client.get("/services/ledger/").content.decode()


def test_a_write_shows_on_the_next_request_of_both_pages(service, member, viewer):
    client = web_client(viewer)
    before_page, before_list = client.get("/services/ledger/"), client.get("/services/")
    writes.service_update(actor=member, service=service, data={"description": "Double-entry book of record"})
    new_team = TeamFactory(slug="treasury", name="Treasury")
    ServiceFactory(slug="vault", owner_team=new_team)
    assert "Double-entry book of record" not in _main(before_page)
    assert "Double-entry book of record" in _main(client.get("/services/ledger/"))
    assert "vault" not in _main(before_list)
    after_list = _main(client.get("/services/"))
    assert "{#" not in after_list and "{% comment" not in after_list
    assert 'href="/services/vault/"' in after_list and 'href="/teams/treasury/"' in after_list


def test_a_cached_catalog_page_is_served_per_query(service, viewer):
    ServiceFactory(slug="zebra", owner_team=service.owner_team)
    client = web_client(viewer)
    assert 'href="/services/zebra/"' in _main(client.get("/services/", {"q": "zebra"}))
    assert 'href="/services/zebra/"' not in _main(client.get("/services/", {"q": "ledger"}))
    assert 'href="/services/zebra/"' in _main(client.get("/services/", {"q": "zebra"}))


def test_a_refused_filter_is_answered_400_every_time_and_not_kept(viewer):
    client = web_client(viewer)
    for _ in range(2):
        response = client.get("/services/", {"sort": "nonsense"})
        assert response.status_code == 400
        assert "Sort by one of" in response.content.decode()


def test_no_cache_when_switched_off(service, member, viewer, settings):
    settings.SLIPWAY_RESPONSE_CACHE_SECONDS = 0
    client = web_client(viewer)
    client.get("/services/ledger/")
    assert 'data-testid="edit-service"' in web_client(member).get("/services/ledger/").content.decode()
