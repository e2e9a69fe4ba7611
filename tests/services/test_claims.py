"""What only Slipway writes cannot be claimed: its annotations, and what a run in progress will create."""

from __future__ import annotations

import pytest
from django.test import override_settings

from services.models import ProvisioningRun, Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

MARKER = "slipway.dev/provisioning-run"


@pytest.fixture
def live_run(team, member):
    return ProvisioningRun.objects.create(template="mini", template_version="1", inputs={}, owner=team,
                                          requested_by=member, service_slug="queued-api", host="github",
                                          request_hash="x")


@pytest.mark.parametrize("key", [MARKER, "slipway.dev/local-repository", "slipway.dev/anything"])
def test_a_client_cannot_set_slipways_own_annotations(member_client, team, key):
    answer = member_client.post("/api/v1/services/", {"slug": "billing", "owner": "payments",
                                                      "annotations": {key: "1"}}, format="json")
    assert answer.status_code == 400 and set(answer.json()["errors"]) == {"annotations"}
    assert not Service.objects.filter(slug="billing").exists()


def test_changing_annotations_keeps_slipways_own(member_client, team):
    ServiceFactory(slug="ledger", owner_team=team, annotations={MARKER: "run-1", "pagerduty.com/service-id": "P1"})
    refused = member_client.patch("/api/v1/services/ledger/", {"annotations": {MARKER: "run-2"}}, format="json")
    assert refused.status_code == 400
    kept = member_client.patch("/api/v1/services/ledger/", {"annotations": {"backstage.io/techdocs-ref": "dir:."}},
                               format="json")
    assert kept.status_code == 200
    assert Service.objects.get(slug="ledger").annotations == {"backstage.io/techdocs-ref": "dir:.", MARKER: "run-1"}


@override_settings(SLIPWAY_GITHUB_ORG="acme")
def test_the_slug_and_repository_of_a_run_in_progress_are_reserved(member_client, viewer_client, live_run, team):
    taken = member_client.post("/api/v1/services/", {"slug": "queued-api", "owner": "payments"}, format="json")
    assert taken.status_code == 409 and set(taken.json()["errors"]) == {"slug"}
    assert str(live_run.pk) in taken.json()["detail"]
    predicted = member_client.post("/api/v1/services/", {"slug": "other", "owner": "payments",
                                                         "repository": "https://github.com/acme/queued-api"},
                                   format="json")
    assert predicted.status_code == 409 and set(predicted.json()["errors"]) == {"repository"}
    ProvisioningRun.objects.filter(pk=live_run.pk).update(repository="github.example.org/acme/queued-api")
    recorded = member_client.post("/api/v1/services/", {"slug": "other", "owner": "payments",
                                                        "repository": "github.example.org/acme/queued-api"},
                                  format="json")
    assert recorded.status_code == 409
    ServiceFactory(slug="ledger", owner_team=team)
    moved = member_client.patch("/api/v1/services/ledger/", {"repository": "github.com/acme/queued-api"},
                                format="json")
    assert moved.status_code == 409 and set(moved.json()["errors"]) == {"repository"}
    # The takeover: a viewer registering the run's slug for themselves, with the run's marker.
    takeover = viewer_client.post("/api/v1/services/", {"slug": "queued-api", "owner": "user:vic",
                                                        "repository": "github.com/acme/queued-api",
                                                        "annotations": {MARKER: str(live_run.pk)}}, format="json")
    assert takeover.status_code in (400, 403, 409)
    assert not Service.objects.filter(slug="queued-api").exists()
    # Once the run has finished, the name is an ordinary one again.
    ProvisioningRun.objects.filter(pk=live_run.pk).update(state="failed")
    assert member_client.post("/api/v1/services/", {"slug": "queued-api", "owner": "payments"},
                              format="json").status_code == 201


def test_the_run_itself_registers_its_slug(live_run, member):
    from services.catalog import writes

    service = writes.service_create(actor=member, slug="queued-api", owner="payments", run_id=live_run.pk)
    assert service.annotations == {MARKER: str(live_run.pk)}
