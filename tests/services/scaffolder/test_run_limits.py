"""Runs per person and per team are limited, at once and per 24 hours: over a limit, a clear 429."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from services.models import Membership, ProvisioningRun
from tests.factories import MembershipFactory, UserFactory
from tests.services.scaffolder.conftest import run_request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker():
    with mock.patch("services.scaffolder.runs.enqueue"):  # the runs stay queued: nothing advances them
        yield


def start(client, name: str):
    return client.post("/api/v1/runs/", run_request(service_name=name), format="json")


@override_settings(SLIPWAY_RUNS_ACTIVE_PER_PERSON=2)
def test_a_person_with_too_many_runs_under_way_gets_a_429_naming_the_limit(member_client, team):
    assert [start(member_client, f"svc-{n}").status_code for n in range(2)] == [202, 202]
    refused = start(member_client, "svc-2")
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    body = refused.json()
    assert "already have 2 runs queued or running" in body["detail"]
    assert body["errors"] == {"requested_by": ["at most 2 runs at once"]}
    assert ProvisioningRun.objects.count() == 2  # nothing half-created
    # A run that finished frees its place.
    ProvisioningRun.objects.filter(service_slug="svc-0").update(state="succeeded")
    assert start(member_client, "svc-2").status_code == 202


@override_settings(SLIPWAY_RUNS_ACTIVE_PER_TEAM=2)
def test_a_team_with_too_many_runs_under_way_gets_a_429(member_client, team):
    colleague = UserFactory(username="cole")
    MembershipFactory(user=colleague, team=team, role=Membership.Role.MEMBER)
    from tests.conftest import _client_for

    other = _client_for(colleague)
    assert start(member_client, "svc-a").status_code == 202
    assert start(other, "svc-b").status_code == 202
    refused = start(other, "svc-c")
    assert refused.status_code == 429
    assert refused.json()["errors"] == {"owner": ["at most 2 runs at once"]}
    assert "Team payments already has 2 runs" in refused.json()["detail"]


@override_settings(SLIPWAY_RUNS_PER_PERSON_PER_DAY=3)
def test_a_person_may_start_so_many_runs_a_day_and_is_told_when_the_next_can_start(member_client, team):
    for n in range(3):
        assert start(member_client, f"svc-{n}").status_code == 202
    ProvisioningRun.objects.update(state="succeeded")
    first = ProvisioningRun.objects.order_by("created_at").first()
    ProvisioningRun.objects.filter(pk=first.pk).update(created_at=timezone.now() - datetime.timedelta(hours=23))
    refused = start(member_client, "svc-3")
    assert refused.status_code == 429
    assert 3500 <= int(refused["Retry-After"]) <= 3601  # the oldest of the three leaves the window in an hour
    assert "started 3 runs in the last 24 hours" in refused.json()["detail"]
    assert "1 hours" not in refused.json()["detail"] and "60 minutes" in refused.json()["detail"]
    ProvisioningRun.objects.filter(pk=first.pk).update(created_at=timezone.now() - datetime.timedelta(hours=25))
    assert start(member_client, "svc-3").status_code == 202


@override_settings(SLIPWAY_RUNS_ACTIVE_PER_PERSON=1)
def test_the_command_says_so_too(member_client, member, team):
    assert start(member_client, "svc-0").status_code == 202
    with pytest.raises(CommandError, match="already have 1 runs queued or running"):
        call_command("scaffold", "mini", "--owner", "payments", "--as", member.username, "--no-follow",
                     "--set", "service_name=svc-1", "--set", "description=x", "--set", "lifecycle=production",
                     "--set", "port=8080")
    assert ProvisioningRun.objects.count() == 1


@override_settings(SLIPWAY_RUNS_ACTIVE_PER_PERSON=1)
def test_a_replayed_idempotent_request_is_not_counted_again(member_client, team):
    body = run_request(service_name="svc-0")
    first = member_client.post("/api/v1/runs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = member_client.post("/api/v1/runs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
