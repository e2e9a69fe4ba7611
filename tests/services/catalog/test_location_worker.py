"""Locations with a real Celery worker (and beat): a registration is refreshed after commit, a dry run
is answered, and a location that is due is found by beat's sweep even when its message was lost."""

from __future__ import annotations

import pytest
from django.utils import timezone

from services.models import Location, Service
from tests.services.catalog.test_locations import component, push, seed_repository
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _state(location_id: int) -> str | None:
    state = Location.objects.get(pk=location_id).state
    return state if state in ("ok", "partial", "failed") else None


def test_a_registered_repository_is_refreshed_by_a_worker_and_the_plan_answered(member_client, team):
    name = seed_repository()
    with celery_worker():
        planned = member_client.post("/api/v1/locations/", {"url": f"localhost/acme/{name}", "team": team.slug,
                                                            "dry_run": True}, format="json").json()
        answer = wait_for(lambda: (lambda a: a if a["state"] != "checking" else None)(
            member_client.get(planned["status_url"]).json()), timeout=60, what="the dry run")
        assert answer["state"] == "ready", answer
        created = member_client.post("/api/v1/locations/", {"url": f"localhost/acme/{name}", "team": team.slug},
                                     format="json")
        assert created.status_code == 201
        state = wait_for(lambda: _state(created.json()["id"]), timeout=60, what="the first refresh")
    assert state == "ok", Location.objects.get(pk=created.json()["id"]).last_error
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["billing", "ledger"]


def test_beat_refreshes_a_due_location_whose_message_was_lost(staff):
    name = seed_repository()
    location = Location.objects.create(kind="repository", host="local", target=f"acme/{name}",
                                       path="catalog-info.yaml", next_refresh_at=timezone.now())
    # Nothing was queued for it (as when the broker was down at registration): beat's sweep finds it.
    with celery_worker(beat=True, env={"SLIPWAY_LOCATION_SWEEP_SECONDS": "1"}):
        wait_for(lambda: _state(location.pk), timeout=60, what="beat's sweep to refresh the location")
        push("acme", name, {"catalog-info.yaml": component("ledger").replace("service", "worker")})
        Location.objects.filter(pk=location.pk).update(next_refresh_at=timezone.now())
        wait_for(lambda: Service.objects.filter(slug="ledger", type="worker").exists(), timeout=60,
                 what="the next due refresh")
    location.refresh_from_db()
    assert location.next_refresh_at > timezone.now()  # the next one is a period away
